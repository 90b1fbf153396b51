"""The password policy for new accounts, after NIST SP 800-63B ("Memorized secret
verifiers", section 5.1.1.2; 800-63B-4 section 3.1.1.2): a minimum length, no composition
rules, any printable character (spaces and emoji too; checked after NFKC normalisation), and
a refusal of passwords that are known to be common or breached, repetitive or sequential,
or made of the account's own names.

The list ships with the package (data/common-passwords.txt.gz; nothing is fetched at run
time): the 8,359 passwords of at least 8 characters among the 20,000 most common ones that
Royce Williams compiled from breach corpora, lowercased and deduplicated, as Django 5.2.19
ships them (django/contrib/auth/common-passwords.txt.gz, BSD licence), in their order.
"""

from __future__ import annotations

import gzip
import unicodedata
from functools import cache
from itertools import pairwise
from pathlib import Path

COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt.gz"
MAX_LENGTH = 1000  # NIST: allow at least 64; longer only costs hashing time


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common and breached passwords (lowercase)."""
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.rstrip("\n") for line in lines if line.strip())


def _sequential(text: str) -> bool:
    """One character repeated, or a run such as 12345678, abcdefgh, 87654321."""
    steps = {ord(b) - ord(a) for a, b in pairwise(text)}
    return len(steps) == 1 and steps <= {-1, 0, 1}


def password_problem(
    password: str, *, min_length: int, username: str = "", email: str = ""
) -> str | None:
    """Why ``password`` may not be used for this account, or None when it may."""
    text = unicodedata.normalize("NFKC", password)
    if len(text) < min_length:
        return f"Passwords need at least {min_length} characters (a few words make a good one)."
    if len(text) > MAX_LENGTH:
        return f"Passwords have at most {MAX_LENGTH} characters."
    folded = text.casefold()
    if _sequential(folded.strip()) or not folded.strip():
        return "That password is a repeated or sequential run of characters; choose another."
    names = {username.casefold(), email.casefold(), email.split("@")[0].casefold(), "papertide"}
    if folded in names - {""}:
        return "That password is your username, address or the site's name; choose another."
    if folded in common_passwords() or folded.strip() in common_passwords():
        return "That password is on a list of common or breached passwords; choose another."
    return None
