"""The polite HTTP client every live source shares: rate limit, retries, Retry-After, a UA.

arXiv asks API users for at most one request every three seconds and one connection at a
time (arXiv API user manual, 3.1.1.2; Terms of Use for arXiv APIs); OAI-PMH servers answer
"503 Service Unavailable" with Retry-After for flow control (OAI-PMH 2.0, section 3.1.2.2).
One client holds one monotonic-clock limiter, so every request it sends is spaced, retries
included. A body the caller cannot parse (an HTML error page, a truncated document) counts
as a failed attempt and is retried like a 5xx, since a proxy glitch usually clears.

Only what can clear by itself is retried: time-outs, 5xx, 429, a connection reset or a body
cut short. A permanent cause (the host name does not resolve, the connection is refused, TLS
fails, any other 4xx) fails the fetch at once: offline, `papertide sync` says so in a second
instead of backing off for minutes. Log lines and errors name the URL as host and path.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar
from xml.etree.ElementTree import Element, ParseError

import httpx
from defusedxml import DTDForbidden, EntitiesForbidden
from defusedxml.ElementTree import fromstring

from papertide import __version__
from papertide.clock import aware_utcnow
from papertide.sources.settings import SyncSettings

log = logging.getLogger(__name__)

T = TypeVar("T")
Params = Mapping[str, str | int]

# 429 Too Many Requests, and the 5xx that mean "try again later" (RFC 9110, 15.6).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class FetchError(Exception):
    """A request failed for good (after its retries, or at once for a permanent cause): says
    source, where (host and path; ``url`` keeps the whole URL), status and why."""

    def __init__(self, source: str, url: str, reason: str, *, status: int | None = None) -> None:
        self.source, self.url, self.reason, self.status = source, url, reason, status
        super().__init__(f"{source}: GET {short_url(url)} failed: {reason}")


def short_url(url: str) -> str:
    """``host[:port]/path``: where a request went, without scheme and query string."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.host}{port}{parsed.path}"


class BadBody(Exception):
    """The response is not what the source expected (HTML, malformed, cut short): retried."""


class Refused(Exception):
    """The service answered clearly that this request cannot succeed: not retried."""


class RateLimiter:
    """Spaces calls at least ``interval`` seconds apart on the monotonic clock (thread-safe)."""

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self._clock, self._sleep = clock, sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until the next call may go; returns the seconds slept."""
        with self._lock:
            delay = max(0.0, self._next - self._clock())
            if delay:
                self._sleep(delay)
            self._next = self._clock() + self.interval
            return delay


def user_agent(settings: SyncSettings) -> str:
    """``papertide/<version> (+url; mailto:email)``, naming whom to contact when set."""
    parts = []
    if settings.contact_url:
        parts.append(f"+{settings.contact_url}")
    if settings.contact_email:
        parts.append(f"mailto:{settings.contact_email}")
    suffix = f" ({'; '.join(parts)})" if parts else ""
    return f"papertide/{__version__}{suffix}"


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Read a Retry-After header: delay-seconds or an HTTP-date (RFC 9110, 10.2.3)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or aware_utcnow())).total_seconds())


@dataclass(slots=True)
class _Attempt:
    """Why one attempt failed and how long the server asked us to wait, if it did."""

    reason: str
    status: int | None = None
    retry_after: float | None = None
    permanent: bool = False  # asking again cannot help


@dataclass(frozen=True, slots=True)
class Download:
    """A body fetched by ``PoliteClient.fetch_bytes`` and the type its server gave it."""

    data: bytes
    content_type: str


def _status_failure(response: httpx.Response) -> _Attempt:
    return _Attempt(
        f"HTTP {response.status_code} {response.reason_phrase}",
        status=response.status_code,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
    )


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and the chain under it (httpx wraps httpcore, which wraps the OSError)."""
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def transport_failure(exc: httpx.TransportError, host: str) -> _Attempt:
    """Why a request got no response, and whether that is permanent (DNS, refused, TLS)."""
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            return _Attempt(f"cannot resolve {host} ({cause.strerror})", permanent=True)
        if isinstance(cause, ConnectionRefusedError):
            return _Attempt(f"{host} refused the connection", permanent=True)
        if isinstance(cause, ssl.SSLError | ssl.CertificateError):
            detail = getattr(cause, "verify_message", None) or getattr(cause, "reason", None)
            return _Attempt(f"TLS failed with {host} ({detail or cause})", permanent=True)
    return _Attempt(f"transport error: {exc or type(exc).__name__}")


class PoliteClient:
    """One httpx client, one rate limiter, one retry policy: what a source fetches with."""

    def __init__(
        self,
        source: str,
        settings: SyncSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.settings = settings
        self._sleep = sleep  # tests pass a fake clock and sleep: no test reads wall time
        self.limiter = RateLimiter(settings.request_interval, clock=clock, sleep=sleep)
        self.http = httpx.Client(
            headers={"User-Agent": user_agent(settings)},
            timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 30.0)),
            follow_redirects=True,
        )

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def fetch(self, url: str, params: Params, parse: Callable[[httpx.Response], T]) -> T:
        """GET ``url`` and parse it, retrying what retrying can fix; else raise FetchError."""
        full = str(httpx.URL(url, params=dict(params)))
        return self._retrying(full, lambda: self._attempt(full, parse))

    def fetch_bytes(self, url: str, *, limit: int, seconds: float) -> Download:
        """GET ``url``'s body, at most ``limit`` bytes (decoded): a larger Content-Length is
        refused before the body is read and a body that runs past it is cut off, both for
        good (FetchError, not retried). A body still arriving after ``seconds`` (a server
        that drips it out, which no per-read time-out catches) is a time-out. Retries as
        ``fetch`` does."""
        return self._retrying(url, lambda: self._attempt_capped(url, limit, seconds))

    def _retrying(self, full: str, attempt_once: Callable[[], T | _Attempt]) -> T:
        attempts = self.settings.retries + 1
        failure = _Attempt("no attempt made")
        for attempt in range(1, attempts + 1):
            result = attempt_once()
            if not isinstance(result, _Attempt):
                return result
            failure = result
            if failure.permanent:
                raise FetchError(self.source, full, f"{failure.reason}; not retried")
            if failure.status is not None and failure.status not in RETRY_STATUSES:
                break  # 4xx other than 429: asking again will not help
            if attempt == attempts:
                break
            wait = self._wait_for(attempt, failure.retry_after)
            log.warning(
                "%s: %s from %s; retry %d of %d in %.1f s%s",
                self.source,
                failure.reason,
                short_url(full),
                attempt,
                attempts - 1,
                wait,
                " (as Retry-After asks)" if failure.retry_after is not None else "",
            )
            self._sleep(wait)
        tries = f" after {attempt} attempt{'s' if attempt > 1 else ''}"
        raise FetchError(self.source, full, failure.reason + tries, status=failure.status)

    def _attempt_capped(self, url: str, limit: int, seconds: float) -> Download | _Attempt:
        self.limiter.wait()
        deadline = time.monotonic() + seconds
        try:
            with self.http.stream("GET", url) as response:
                if response.status_code != 200:
                    return _status_failure(response)
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    too_big = f"{int(declared):,} bytes, over the cap of {limit:,}"
                    return _Attempt(too_big, permanent=True)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        too_long = f"body runs past the cap of {limit:,} bytes"
                        return _Attempt(too_long, permanent=True)
                    if time.monotonic() > deadline:
                        return _Attempt(f"timed out (body not whole after {seconds:g} s)")
                return Download(bytes(body), response.headers.get("Content-Type", ""))
        except httpx.TimeoutException as exc:
            return _Attempt(f"timed out ({type(exc).__name__})")
        except httpx.TransportError as exc:
            return transport_failure(exc, httpx.URL(url).host)

    def _attempt(self, url: str, parse: Callable[[httpx.Response], T]) -> T | _Attempt:
        self.limiter.wait()
        try:
            response = self.http.get(url)
        except httpx.TimeoutException as exc:
            return _Attempt(f"timed out ({type(exc).__name__})")
        except httpx.TransportError as exc:  # DNS, refused, TLS, reset, or a body cut short
            return transport_failure(exc, httpx.URL(url).host)
        if response.status_code != 200:
            return _status_failure(response)
        try:
            return parse(response)
        except BadBody as exc:
            return _Attempt(f"unusable response body: {exc}")
        except Refused as exc:
            raise FetchError(self.source, url, f"the service refused the request: {exc}") from exc

    def _wait_for(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.settings.max_wait)
        return min(self.settings.backoff * 2.0 ** (attempt - 1), self.settings.max_wait)


def parse_xml(body: bytes, *, what: str) -> Element:
    """Parse an XML body safely (no DTDs, no entities), or raise BadBody saying what it is."""
    head = body[:200].lstrip().lower()
    if not head:
        raise BadBody(f"empty body instead of {what}")
    if head.startswith((b"<!doctype html", b"<html")):
        raise BadBody(f"an HTML page instead of {what}: {_snippet(body)}")
    try:
        root: Element = fromstring(body, forbid_dtd=True)
    except (DTDForbidden, EntitiesForbidden) as exc:
        raise BadBody(f"{what} with a DTD or entities, refused ({exc})") from exc
    except ParseError as exc:
        raise BadBody(f"malformed or truncated XML ({exc})") from exc
    except LookupError as exc:  # an XML declaration naming an encoding Python lacks
        raise BadBody(f"XML in an unknown encoding ({exc})") from exc
    if root.tag.lower().endswith("html"):
        raise BadBody(f"an HTML page instead of {what}: {_snippet(body)}")
    return root


def _snippet(body: bytes, size: int = 80) -> str:
    return repr(" ".join(body[:size].decode("utf-8", "replace").split()))


def naive_utc(text: str | None) -> datetime | None:
    """An ISO 8601 time ('2024-01-02T03:04:05Z', '...-05:00', '2024-01-02') as naive UTC."""
    if not text or not text.strip():
        return None
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an ISO 8601 date") from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.replace(microsecond=0)
