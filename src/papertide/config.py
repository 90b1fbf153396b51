"""One typed Settings object: defaults, then a TOML file, then PAPERTIDE_*_FILE secrets, then
PAPERTIDE_* env variables.

Built once by the CLI or the app factory and passed down; never a module-level global.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import orjson
from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from papertide.mail.settings import MailSettings
from papertide.pictures.settings import PictureSettings
from papertide.ranking.trending import TrendingParams
from papertide.search.settings import SearchSettings
from papertide.serve_settings import ServeSettings
from papertide.sources.settings import SyncSettings


class SettingFileError(ValueError):
    """A PAPERTIDE_*_FILE variable names a file that cannot be read."""


class FileSettingsSource(PydanticBaseSettingsSource):
    """Secrets kept in files: ``PAPERTIDE_NAME_FILE=/run/secrets/x`` gives the setting NAME
    the file's content (its last newline dropped), as Docker and systemd credentials hand
    them over; ``PAPERTIDE_MAIL__SMTP_PASSWORD_FILE`` reaches a nested one. The plain
    variable, when also set, wins."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Unused: ``__call__`` reads every variable at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """The settings the *_FILE variables give, nested as the settings are."""
        found: dict[str, Any] = {}
        for var, path in os.environ.items():
            if not (var.startswith("PAPERTIDE_") and var.endswith("_FILE")):
                continue
            name = var.removeprefix("PAPERTIDE_").removesuffix("_FILE").lower()
            if not self._is_setting(name) or var.removesuffix("_FILE") in os.environ:
                continue  # not a setting (a test hook, the config file's own variable)
            try:
                value = Path(path).read_text(encoding="utf-8").removesuffix("\n")
            except OSError as exc:
                raise SettingFileError(f"{var}: cannot read {path}: {exc.strerror}") from exc
            *parents, leaf = name.split("__")
            target = found
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = value
        return found

    def _is_setting(self, name: str) -> bool:
        """Whether ``name`` (``mail__smtp_password``) names a setting, nested or not."""
        fields: dict[str, Any] = self.settings_cls.model_fields
        *parents, leaf = name.split("__")
        for part in parents:
            inner = getattr(fields.get(part), "annotation", None)
            fields = getattr(inner, "model_fields", {})
        return leaf in fields and leaf != "config_file"


class _EnvSource(EnvSettingsSource):
    """PAPERTIDE_* variables, less the nested *_FILE ones (FileSettingsSource reads those;
    as plain variables they would name settings that do not exist)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        loaded = super()._load_env_vars()
        return {k: v for k, v in loaded.items() if not (k.endswith("_file") and "__" in k)}


def default_data_dir() -> Path:
    """Where papertide keeps its files unless told otherwise (XDG data home)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "papertide"


class Settings(BaseSettings):
    """Every setting papertide reads, each with a default and a line of help."""

    model_config = SettingsConfigDict(
        env_prefix="PAPERTIDE_", extra="forbid", env_nested_delimiter="__"
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder for the SQLite database and index files.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means SQLite at DATA_DIR/papertide.db. "
        "Example: postgresql+psycopg://user:pw@localhost/papertide",
    )
    database_connect_timeout: int = Field(
        default=5,
        ge=0,
        description="Seconds a new PostgreSQL connection may take before it fails (a host "
        "that is down or unreachable, a server that does not answer), so that a command ends "
        "with one line instead of hanging; 0 leaves it to the driver (psycopg: 130 s). "
        "A connect_timeout in database_url wins.",
    )
    host: str = Field(default="127.0.0.1", description="Address `papertide serve` binds.")
    port: int = Field(default=8000, description="Port `papertide serve` listens on.")
    workers: int = Field(default=1, description="Web worker processes for `serve`.")
    threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Requests a web worker process handles at once (its thread pool). "
        "Python runs one thread at a time, so more threads than the native parts can overlap "
        "(search libraries, SQLite) only add switching: on 2 cores at 100k papers 2 threads "
        "served 2.9x the requests of 40, the default of the framework beneath (bench load).",
    )
    import_batch_size: int = Field(
        default=2000, ge=1, description="Records merged and written per database round trip."
    )
    max_abstract_chars: int = Field(
        default=100_000,
        ge=1000,
        description="Longer abstracts are rejected as unreadable records (arXiv caps at 1,920).",
    )
    max_title_chars: int = Field(default=2_000, ge=100, description="Longer titles are rejected.")
    trending_gravity: float = Field(
        default=1.8,
        gt=0,
        description="Trending: score = votes / (age_hours + 2) ** gravity (Hacker News' formula).",
    )
    trending_external_weight: float = Field(
        default=1.0, ge=0, description="Trending: weight of upvotes seen on the source site."
    )
    trending_window_days: int = Field(
        default=30, ge=1, description="Trending: only papers of the last N days compete."
    )
    session_days: int = Field(default=30, ge=1, description="How long a sign-in lasts.")
    password_min_length: int = Field(
        default=8,
        ge=8,
        le=64,
        description="Shortest password a new account may have (NIST SP 800-63B: at least 8; "
        "800-63B-4 asks 15 where the password is the only factor, as it is here).",
    )
    cookie_secure: bool = Field(
        default=False, description="Mark cookies Secure (set true behind HTTPS in production)."
    )
    rate_limit_per_hour: int = Field(
        default=20,
        ge=1,
        description="Registrations and submissions one address may make per hour.",
    )
    login_failures_per_account: int = Field(
        default=10,
        ge=1,
        description="Failed logins one account takes (from anywhere) within the window.",
    )
    login_failures_per_address: int = Field(
        default=50,
        ge=1,
        description="Failed logins one address makes (on any accounts) within the window.",
    )
    login_failure_window_minutes: int = Field(
        default=15,
        ge=1,
        le=24 * 60,
        description="The sliding window of the failed-login limits; a success clears them.",
    )
    # NoDecode: the validator below reads both JSON lists and comma-separated env values.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of your reverse proxies. Only a request "
        "from one of them may name its client in X-Forwarded-For (for rate limits and "
        "logs); empty: the header is never believed.",
    )
    max_body_bytes: int = Field(
        default=16_384,
        ge=1024,
        description="Largest request body the site reads, in bytes (the subscription forms "
        "take 4x); larger ones are refused with 413 before they are read.",
    )
    page_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long an anonymous page or API answer is served from the in-process "
        "cache (also its Cache-Control max-age); any write ends it sooner. 0 turns it off.",
    )
    page_cache_entries: int = Field(
        default=512, ge=1, description="Most anonymous answers the page cache holds (LRU)."
    )
    search: SearchSettings = Field(
        default_factory=SearchSettings,
        description="Search index, embedder and ranking ([search] in the TOML file; env "
        "PAPERTIDE_SEARCH__<FIELD>, e.g. PAPERTIDE_SEARCH__EMBEDDER=st:all-MiniLM-L6-v2).",
    )
    sync: SyncSettings = Field(
        default_factory=SyncSettings,
        description="Live sources and `papertide sync` ([sync] in the TOML file; env "
        "PAPERTIDE_SYNC__<FIELD>, e.g. PAPERTIDE_SYNC__ARXIV_CATEGORIES=cs.CL,cs.LG).",
    )

    serve: ServeSettings = Field(
        default_factory=ServeSettings,
        description="Load shedding, HTTP limits and timeouts, /metrics, log format of "
        "`serve` ([serve] in the TOML file; env PAPERTIDE_SERVE__<FIELD>, e.g. "
        "PAPERTIDE_SERVE__QUEUE=32).",
    )
    mail: MailSettings = Field(
        default_factory=MailSettings,
        description="Digests: SMTP, links, schedule, retries ([mail] in the TOML file; env "
        "PAPERTIDE_MAIL__<FIELD>, e.g. PAPERTIDE_MAIL__SMTP_HOST=smtp.example.org).",
    )
    pictures: PictureSettings = Field(
        default_factory=PictureSettings,
        description="Paper pictures: sources, pace, render caps ([pictures] in the TOML file; "
        "env PAPERTIDE_PICTURES__<FIELD>, e.g. PAPERTIDE_PICTURES__PER_ROUND=20).",
    )

    config_file: Path | None = Field(
        default=None, description="TOML file read for settings (env PAPERTIDE_CONFIG_FILE)."
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        """Accept a JSON list or a comma-separated string (handy in env variables)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return orjson.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order of precedence: arguments, environment, the TOML file, defaults."""
        given = getattr(init_settings, "init_kwargs", {}).get("config_file")
        path = given or os.environ.get("PAPERTIDE_CONFIG_FILE")
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            _EnvSource(settings_cls),
            FileSettingsSource(settings_cls),
        ]
        if path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(path)))
        return tuple(sources)

    @property
    def trending(self) -> TrendingParams:
        """The trending formula's parameters."""
        return TrendingParams(
            gravity=self.trending_gravity, external_weight=self.trending_external_weight
        )

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or the SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'papertide.db'}"
