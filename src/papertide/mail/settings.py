"""Mail settings: the `mail` section of Settings (TOML ``[mail]``, env PAPERTIDE_MAIL__FIELD).

``secret_key`` signs every link in a mail (confirm, preferences, unsubscribe) and the site's
CSRF tokens. When it is empty, one random key is made once and kept in the database, so
every web node and worker shares it (mail/digest.py ``signing_secret``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Where earlier versions kept the generated key; adopted into the database once.
SECRET_FILE = "mail-secret.key"


class MailSettings(BaseModel):
    """How digests are composed, scheduled and delivered; each field has a default."""

    model_config = ConfigDict(extra="forbid")

    smtp_host: str = Field(default="localhost", description="SMTP server host.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP server port.")
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="none",
        description="'starttls' (port 587), 'tls' (implicit TLS, port 465) or 'none'.",
    )
    smtp_user: str | None = Field(default=None, description="SMTP login, if the server needs one.")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_timeout: float = Field(default=30.0, gt=0, description="Seconds per SMTP operation.")
    from_address: str = Field(
        default="papertide <digest@localhost>", description="From: of every mail."
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public address of the site; links in mails start with it.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Key signing mail links and CSRF tokens; wins over the one kept in the "
        "database. Empty: a random key made once and kept in the database, shared by every "
        "node (an earlier DATA_DIR/mail-secret.key is adopted).",
    )
    confirm_max_age_hours: int = Field(
        default=72, ge=1, description="Confirmation links expire after this many hours."
    )
    confirm_limit: int = Field(
        default=3, ge=1, description="Confirmation mails to one address per confirm_window."
    )
    confirm_window_hours: int = Field(
        default=24, ge=1, description="The window confirm_limit counts in."
    )
    weekly_day: int = Field(
        default=0, ge=0, le=6, description="Weekday weekly digests go out (0 = Monday)."
    )
    default_hour: int = Field(default=7, ge=0, le=23, description="Default local send hour.")
    default_papers: int = Field(default=10, ge=1, le=100, description="Default papers per mail.")
    bounce_limit: int = Field(
        default=3, ge=1, description="Permanent failures in a row before an address is stopped."
    )
    max_attempts: int = Field(
        default=6, ge=1, description="Tries of a digest on temporary failures before 'failed'."
    )
    retry_base_seconds: int = Field(
        default=60, ge=1, description="First retry delay; doubled after each temporary failure."
    )
    lease_seconds: int = Field(
        default=600,
        ge=10,
        description="A claimed digest not marked within this time is claimed again (after a "
        "crash) and re-sent with the same Message-ID.",
    )
    digest_interval_minutes: int = Field(
        default=15, ge=1, description="How often `papertide worker` looks for due digests."
    )
