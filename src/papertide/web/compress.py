"""gzip for pages and API answers, refused where it could leak a secret (BREACH).

BREACH (Gluck, Harris, Prado 2013) reads a secret out of compressed responses whose body
also reflects the attacker's input (a search query, a ``next`` path) by making the
victim's browser send many requests and watching their sizes. Pages here hold a CSRF token
bound to the browser's cookies, so a response is compressed only when the request can't be
such a probe: it carries no cookie, or the browser says it came from this site
(``Sec-Fetch-Site`` other than ``cross-site``; Fetch Metadata, sent by every current
browser; clients that send none, such as curl or feed readers, are not browsers an attacker
can drive). A cross-site request with cookies (a link followed from another site to a
signed-in page) gets the page uncompressed. Static files compress themselves
(web/assets.py); answers that already carry a Content-Encoding pass through untouched.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

LEVEL = 6  # zlib's default: ~1 ms for a 80 KB page, within 5% of level 9's size
MINIMUM_BYTES = 1024


class SafeGZip:
    """GZipMiddleware, bypassed for cross-site requests that carry cookies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=MINIMUM_BYTES, compresslevel=LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Compress unless the request could be a cross-site size probe."""
        if scope["type"] == "http" and may_compress(scope):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def may_compress(scope: Scope) -> bool:
    """Whether the request comes without cookies or from this site's own pages."""
    headers: dict[bytes, bytes] = dict(scope.get("headers") or [])
    if not headers.get(b"cookie"):
        return True
    return headers.get(b"sec-fetch-site", b"") != b"cross-site"


def accepts_gzip(scope: Scope) -> bool:
    """Whether the client takes gzip and this answer may be compressed (``may_compress``)."""
    for name, value in scope.get("headers") or []:
        if name == b"accept-encoding":
            return b"gzip" in value and may_compress(scope)
    return False


# gzip's member header (RFC 1952 2.3): magic, deflate, no flags, no time, no extra flags,
# OS unknown; and a deflate stream's last block, empty (RFC 1951 3.2.3: BFINAL set).
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_LAST_BLOCK = zlib.compressobj(LEVEL, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)


@dataclass(frozen=True, slots=True)
class Deflated:
    """A body with holes where each client's own text goes (the page cache's CSRF token),
    its fixed parts deflated once. Each part ends in a full flush (RFC 1951 raw blocks that
    refer to nothing before them), so the parts and a hole's text deflated on its own join
    into one valid stream: a cached page costs a client a CRC pass and a few bytes of
    deflate instead of deflating the whole page again (1-2 ms for a 120 KB home page)."""

    parts: tuple[bytes, ...]
    deflated: tuple[bytes, ...]

    @classmethod
    def of(cls, body: bytes, hole: bytes) -> Deflated:
        """``body`` split at every ``hole``, each part deflated."""
        parts = tuple(body.split(hole))
        return cls(parts, tuple(_deflate(part) for part in parts))

    def gzip(self, filling: bytes) -> bytes:
        """The whole body with ``filling`` in every hole, as one gzip member."""
        filled = _deflate(filling) if len(self.parts) > 1 else b""
        out, crc, size = [_GZIP_HEADER], 0, 0
        for i, (part, deflated) in enumerate(zip(self.parts, self.deflated, strict=True)):
            if i:
                out.append(filled)
                crc, size = zlib.crc32(filling, crc), size + len(filling)
            out.append(deflated)
            crc, size = zlib.crc32(part, crc), size + len(part)
        out += [_LAST_BLOCK, struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)]
        return b"".join(out)


def _deflate(data: bytes) -> bytes:
    """``data`` as raw deflate blocks ending in a full flush (no final block)."""
    engine = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    return engine.compress(data) + engine.flush(zlib.Z_FULL_FLUSH)


__all__ = ["Deflated", "SafeGZip", "accepts_gzip", "may_compress"]
