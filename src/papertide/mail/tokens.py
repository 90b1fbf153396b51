"""Signed links in mails (itsdangerous): confirm, preferences, unsubscribe, and account links.

Each token signs (subscriber pk, address) with the mail secret and a per-purpose salt, so a
preferences token cannot confirm or unsubscribe, and a token stops working when its address
is deleted (a later subscriber reusing the pk has another address). Confirmation links
carry a timestamp and expire (``confirm_max_age_hours``). Preferences and unsubscribe links
in digests carry none and never expire: people unsubscribe from old mail, and a re-sent
digest must be byte-for-byte the one first sent (same links), see mail/send.py.

An account link (purpose ``link``) also signs the account's pk: mailed to the subscribed
address, it is the proof that ties a subscription to an account (an account's own email
field is never verified, so it alone ties nothing). It expires like a confirmation.
"""

from __future__ import annotations

from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

Purpose = Literal["confirm", "prefs", "unsubscribe", "link"]


class BadToken(Exception):
    """A link that is forged, for another purpose, or expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _serializer(secret: str, purpose: Purpose) -> URLSafeSerializer | URLSafeTimedSerializer:
    salt = f"papertide-{purpose}"
    if purpose in ("confirm", "link"):
        return URLSafeTimedSerializer(secret, salt=salt)
    return URLSafeSerializer(secret, salt=salt)


def make_token(secret: str, purpose: Purpose, *, subscriber_pk: int, email: str) -> str:
    """A URL-safe signed token for one subscriber and one purpose."""
    return str(_serializer(secret, purpose).dumps([subscriber_pk, email]))


def read_token(
    secret: str, purpose: Purpose, token: str, *, max_age: int | None = None
) -> tuple[int, str]:
    """(subscriber pk, address) from a token, or BadToken."""
    serializer = _serializer(secret, purpose)
    try:
        if isinstance(serializer, URLSafeTimedSerializer):
            pk, email = serializer.loads(token, max_age=max_age)
        else:
            pk, email = serializer.loads(token)
    except SignatureExpired as exc:
        raise BadToken("This link has expired.", expired=True) from exc
    except (BadSignature, ValueError, TypeError) as exc:
        raise BadToken("This link is not valid.") from exc
    if not isinstance(pk, int) or not isinstance(email, str):
        raise BadToken("This link is not valid.")
    return pk, email


def make_link_token(secret: str, *, subscriber_pk: int, email: str, user_pk: int) -> str:
    """A signed, expiring token that ties subscriber ``subscriber_pk`` to account ``user_pk``."""
    return str(_serializer(secret, "link").dumps([subscriber_pk, email, user_pk]))


def read_link_token(secret: str, token: str, *, max_age: int) -> tuple[int, str, int]:
    """(subscriber pk, address, account pk) from an account link, or BadToken."""
    try:
        pk, email, user_pk = _serializer(secret, "link").loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise BadToken("This link has expired.", expired=True) from exc
    except (BadSignature, ValueError, TypeError) as exc:
        raise BadToken("This link is not valid.") from exc
    if not (isinstance(pk, int) and isinstance(email, str) and isinstance(user_pk, int)):
        raise BadToken("This link is not valid.")
    return pk, email, user_pk
