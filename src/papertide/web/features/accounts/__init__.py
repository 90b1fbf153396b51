"""Accounts: register, log in, log out. Argon2id password hashes, server-side sessions.

The session cookie holds a random token (HttpOnly, SameSite=Lax, Secure when configured);
the store keeps only its SHA-256, so a leaked database does not sign anyone in, and logging
out deletes the session everywhere it could be used.

A user's public profile (``/users/NAME``) shows their upvotes, submissions and public lists.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.mail.notices import notify_address_taken
from papertide.models import User
from papertide.passwords import password_problem
from papertide.store import NameTaken, Store
from papertide.web.access import RETRY_AFTER, allow, client_address, safe_next
from papertide.web.deps import (
    SESSION_COOKIE,
    CsrfDep,
    SettingsDep,
    StoreDep,
    TemplatesDep,
    UserDep,
    new_csrf_token,
)
from papertide.web.display import hits_to_views, views
from papertide.web.feature import Feature, NavLink
from papertide.web.features.accounts import login_limit

router = APIRouter(include_in_schema=False)  # pages: the API docs show the JSON API
hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
AUTHORED_SHOWN = 20  # the newest papers of an account's author pages on its profile
AUTHORED_NAMES = 5
_USERNAME_RE = re.compile(r"^[A-Za-z0-9_-]{3,40}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _signed_in(
    request: Request, response: Response, store: Store, user: User, *, days: int, secure: bool
) -> None:
    token = secrets.token_urlsafe(32)
    # The CSRF token is bound to the session: the new session gets a new one (set by the
    # middleware), and the one used before signing in stops working.
    request.state.new_csrf = new_csrf_token(request, token)
    store.create_session(user_pk=user.pk, token=token, now=utcnow(), ttl=timedelta(days=days))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=days * 86400,
        httponly=True,
        samesite="lax",
        secure=secure,
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, templates: TemplatesDep, next: str = "/") -> Response:
    """The log-in form."""
    return templates.TemplateResponse(request, "login.html", {"next": safe_next(next)})


@router.post("/login", response_model=None)
def login(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    _csrf: CsrfDep,
    username: Annotated[str, Form(max_length=40)],
    password: Annotated[str, Form(max_length=1000)],
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password; on success set the session cookie and go back where asked."""
    context = {"next": safe_next(next), "username": username}
    address = client_address(request)
    name = username.strip()
    refused = login_limit.locked(store, settings, username=name, address=address)
    if refused is not None:
        context["error"] = refused.message
        headers = {"Retry-After": str(refused.retry_after)}
        return templates.TemplateResponse(
            request, "login.html", context, status_code=429, headers=headers
        )
    found = store.user_with_hash(name)
    user = _verified(store, found, password)
    if user is None:
        login_limit.record_failure(store, settings, username=name, address=address)
        context["error"] = "Wrong username or password."
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    login_limit.record_success(store, username=name, address=address)
    response = RedirectResponse(safe_next(next), status_code=303)
    _signed_in(
        request, response, store, user, days=settings.session_days, secure=settings.cookie_secure
    )
    return response


def _verified(store: Store, found: tuple[User, str] | None, password: str) -> User | None:
    if found is None:
        # Spend the same time as a real check, so timing does not reveal which names exist.
        hasher.hash(password)
        return None
    user, stored = found
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(stored):
        store.set_password_hash(user.pk, hasher.hash(password))
    return user


@router.get("/register", response_class=HTMLResponse)
def register_form(request: Request, templates: TemplatesDep) -> Response:
    """The registration form."""
    return templates.TemplateResponse(request, "register.html", {})


@router.post("/register", response_model=None)
def register(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    _csrf: CsrfDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """Create an account and sign it in."""
    # NFKC first: "ada" in fullwidth letters is "ada", and is then checked and compared as such.
    username, email = unicodedata.normalize("NFKC", username.strip()), email.strip().lower()
    context: dict[str, str] = {"username": username, "email": email}
    error, status = None, 400
    if not _USERNAME_RE.match(username):
        error = "Usernames are 3 to 40 letters, digits, - or _."
    elif email and not _EMAIL_RE.match(email):
        error = f"{email!r} is not an email address."
    elif problem := password_problem(
        password, min_length=settings.password_min_length, username=username, email=email
    ):
        error = problem
    elif not allow(request, store, settings, "register"):
        error, status = "Too many registrations from your address; try again in an hour.", 429
    elif store.user_by_name(username) is not None:
        error = "That username is taken."  # usernames are public (/users/NAME) anyway
    user = None
    if error is None:
        user = _create(store, settings, username, email, hasher.hash(password))
    if user is None:
        context["error"] = error or "That username is taken."
        headers = RETRY_AFTER if status == 429 else None
        return templates.TemplateResponse(request, "register.html", context, status, headers)
    response = RedirectResponse(f"/users/{user.username}", status_code=303)
    _signed_in(
        request, response, store, user, days=settings.session_days, secure=settings.cookie_secure
    )
    return response


def _create(
    store: Store, settings: Settings, username: str, email: str, hashed: str
) -> User | None:
    """The new account, or None if the username was taken meanwhile.

    An address that another account has is not attached, and the answer is the same as for
    a free one, so registering does not tell whether an address has an account; the
    address's owner is told by mail instead.
    """
    now = utcnow()
    try:
        return store.create_user(
            username=username, email=email or None, password_hash=hashed, now=now
        )
    except NameTaken:
        if not email or store.user_by_name(username) is not None:
            return None
    try:
        user = store.create_user(username=username, email=None, password_hash=hashed, now=now)
    except NameTaken:
        return None
    notify_address_taken(settings, store, email, username)
    return user


@router.post("/logout", response_model=None)
def logout(request: Request, store: StoreDep, _csrf: CsrfDep) -> Response:
    """End the session (server-side too) and forget the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        store.delete_session(token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    request.state.new_csrf = new_csrf_token(request, None)
    return response


def profile_of(store: Store, username: str, *, viewer: User | None) -> dict[str, Any]:
    """A user's page: their upvotes and submissions."""
    person = store.user_by_name(username)
    if person is None:
        raise HTTPException(status_code=404, detail=f"No user {username!r}.")
    now = utcnow()
    upvoted = views(store, store.papers_by_pk(store.user_votes(person.pk)), viewer, now)
    submitted = views(store, store.papers_by_pk(store.user_submissions(person.pk)), viewer, now)
    own = viewer is not None and viewer.pk == person.pk
    shown = [c for c in store.user_lists(person.pk) if c.public or own]
    return {
        "person": person,
        "upvoted": upvoted,
        "submitted": submitted,
        "lists": shown,
        "authored": store.claimed_by(person.pk),
    }


def authored_papers(request: Request, store: Store, names: list[str], viewer: User | None) -> Any:
    """The newest papers of the author pages an account holds (a moderator confirmed)."""
    hits: dict[str, Any] = {}
    for name in names[:AUTHORED_NAMES]:
        found = request.app.state.search.search(f'author:"{name}"', k=AUTHORED_SHOWN, sort="date")
        hits.update((hit.paper_id, hit) for hit in found.hits)

    def day(hit: Any) -> date:
        return (hit.paper.day if hit.paper else None) or date.min

    newest = sorted(hits.values(), key=day, reverse=True)
    return hits_to_views(store, newest[:AUTHORED_SHOWN], viewer)


@router.get("/users/{username}", response_class=HTMLResponse)
def profile(
    request: Request, username: str, store: StoreDep, templates: TemplatesDep, user: UserDep
) -> Response:
    """A user's upvotes and submissions; another spelling of the name (``ADA_UX`` for
    ``ada_ux``) redirects to the account's own address."""
    context = profile_of(store, username, viewer=user)
    names = [claim.name_key for claim in context["authored"]]
    context["authored_papers"] = authored_papers(request, store, names, user)
    canonical = context["person"].username
    if canonical != username:
        return RedirectResponse(f"/users/{quote(canonical)}", status_code=301)
    return templates.TemplateResponse(request, "profile.html", context)


feature = Feature(
    name="accounts",
    routers=(router,),
    cached=("/users/{username}",),
    nav=(
        NavLink(
            "{username}",
            "/users/{username}",
            order=70,
            audience="signed_in",
            current=("/users/{username}",),
        ),
        NavLink("Log in", "/login?next={here}", order=80, audience="signed_out"),
        NavLink("Register", "/register", order=90, audience="signed_out"),
    ),
)
