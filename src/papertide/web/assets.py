"""Static assets: content-hashed addresses, gzip made once, long-lived Cache-Control.

Templates call ``static_url("site.css")`` and get ``/static/site.3f2a9c1b0d.css``. A hashed
address never changes its content, so it is served ``Cache-Control: public,
max-age=31536000, immutable`` and a repeat visit asks for nothing. The plain address
(``/static/site.css``: Swagger UI, old pages, bookmarks) is served ``no-cache`` with an ETag,
so it revalidates; so is a hashed address whose hash is not the current file's (a page
rendered by another version of the site during a rolling upgrade), never pinned for a year.
Stylesheets' ``url(...)`` references to files beside them (KaTeX's fonts) are rewritten to
hashed addresses before hashing, so a stylesheet's fonts are immutable too.

Text types are gzip-compressed (level 9) the first time a client that accepts gzip asks for
them, and kept for the life of the process (the folder is small and fixed). No brotli: no
library for it is among the dependencies. Only files found at start-up are served: a name
is a key in the manifest, never a path joined onto the folder, so nothing outside it can be
reached.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from papertide.web.headers import none_match

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
HASH_CHARS = 10
_HASHED = re.compile(rf"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{{{HASH_CHARS}}})(?P<ext>\.[A-Za-z0-9]+)$")
_CSS_URL = re.compile(r"url\((?P<quote>['\"]?)(?P<ref>[^)'\"]+)(?P=quote)\)")
_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
_COMPRESSIBLE = ("text/", "image/svg+xml", "application/json", "font/ttf")


@dataclass(slots=True)
class Asset:
    """One file of the static folder: its bytes (CSS rewritten), hash and gzip form."""

    name: str
    body: bytes
    digest: str
    media_type: str
    gzipped: bytes | None = field(default=None, repr=False)

    @property
    def compressible(self) -> bool:
        """Whether gzip is worth applying (text; fonts in woff2 are compressed already)."""
        return self.media_type.startswith(_COMPRESSIBLE) and len(self.body) > 256

    @property
    def hashed_name(self) -> str:
        """``katex/katex.min.css`` -> ``katex/katex.min.<hash>.css``."""
        path = PurePosixPath(self.name)
        return str(path.with_name(f"{path.stem}.{self.digest}{path.suffix}"))


class Assets:
    """The static folder's manifest, read once when the app is built."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, Asset] = {}
        if folder.is_dir():
            self._load()

    def _load(self) -> None:
        paths = sorted(p for p in self.folder.rglob("*") if p.is_file())
        # Non-CSS first: a stylesheet's references are rewritten to their hashed names.
        for path in sorted(paths, key=lambda p: p.suffix == ".css"):
            name = path.relative_to(self.folder).as_posix()
            body = path.read_bytes()
            if path.suffix == ".css":
                body = self._rewrite_css(name, body)
            digest = hashlib.sha256(body).hexdigest()[:HASH_CHARS]
            self.files[name] = Asset(name, body, digest, _media_type(path))

    def _rewrite_css(self, name: str, body: bytes) -> bytes:
        base = PurePosixPath(name).parent

        def hashed(match: re.Match[str]) -> str:
            ref = match.group("ref")
            target = self.files.get(str(base / ref)) if "://" not in ref else None
            if target is None or ref.startswith(("/", "data:")):
                return match.group(0)
            return f"url({PurePosixPath(ref).parent / PurePosixPath(target.hashed_name).name})"

        return _CSS_URL.sub(hashed, body.decode()).encode()

    def url(self, name: str) -> str:
        """The hashed address of ``name`` (a path under the static folder)."""
        asset = self.files.get(name)
        if asset is None:
            raise KeyError(f"no static file {name!r} in {self.folder}")
        return f"/static/{asset.hashed_name}"

    def find(self, path: str) -> tuple[Asset, bool] | None:
        """The asset a request path names, and whether it named the current hash."""
        if path in self.files:
            return self.files[path], False
        match = _HASHED.match(path)
        if match is None:
            return None
        asset = self.files.get(match.group("stem") + match.group("ext"))
        if asset is None:
            return None
        return asset, asset.digest == match.group("hash")

    async def respond(self, request: Request, path: str) -> Response:
        """The asset at ``path``, compressed when the client accepts gzip; 404 if none."""
        found = self.find(path)
        if found is None:
            return Response("Not found", status_code=404, media_type="text/plain")
        asset, current = found
        headers = {"Cache-Control": IMMUTABLE if current else REVALIDATE}
        body, etag = asset.body, f'"{asset.digest}"'
        if asset.compressible:
            headers["Vary"] = "Accept-Encoding"
            if "gzip" in request.headers.get("accept-encoding", ""):
                if asset.gzipped is None:  # once per process; off the event loop (Swagger: 1 MB)
                    asset.gzipped = await anyio.to_thread.run_sync(_gzip, asset.body)
                body, etag = asset.gzipped, f'"{asset.digest}-gz"'
                headers["Content-Encoding"] = "gzip"
        headers["ETag"] = etag
        if none_match(request, etag):
            return Response(status_code=304, headers=headers)
        content = b"" if request.method == "HEAD" else body
        response = Response(content, media_type=asset.media_type, headers=headers)
        response.headers["Content-Length"] = str(len(body))
        return response


def _gzip(body: bytes) -> bytes:
    # mtime=0: the same bytes every time and on every node (ETags stay meaningful).
    return gzip.compress(body, compresslevel=9, mtime=0)


def _media_type(path: Path) -> str:
    known = _TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


MATH = re.compile(r"\$[^$]{1,500}\$|\\\(|\\\[")


def has_math(html: str) -> bool:
    """Whether rendered text holds TeX that KaTeX would typeset ($...$, \\( or \\[)."""
    # Most pages hold neither a dollar nor a backslash: finding that takes a plain scan
    # (2 us for a 59 KB search page), where the pattern took 133 us.
    return ("$" in html or "\\" in html) and MATH.search(html) is not None


# KaTeX fonts a page will need, guessed from its TeX, to be preloaded beside katex.min.js:
# a font that arrives after the first paint reflows the formulas typeset in its stand-in
# (a title that wraps differently moves the page: CLS 0.11 on a phone before this).
_ALWAYS = ("KaTeX_Main-Regular", "KaTeX_Math-Italic")
_BY_COMMAND = (
    (
        re.compile(
            r"\\(mathbb|lesssim|gtrsim|varnothing|checkmark|blacksquare|square)(?![A-Za-z])"
        ),
        "KaTeX_AMS-Regular",
    ),
    (
        re.compile(r"\\(sum|prod|int|oint|bigcup|bigcap|coprod|bigoplus|bigotimes)(?![A-Za-z])"),
        "KaTeX_Size1-Regular",
    ),
    (re.compile(r"\\(mathbf|textbf|bf)(?![A-Za-z])"), "KaTeX_Main-Bold"),
    (re.compile(r"\\(boldsymbol|bm)(?![A-Za-z])"), "KaTeX_Math-BoldItalic"),
    (re.compile(r"\\mathcal(?![A-Za-z])"), "KaTeX_Caligraphic-Regular"),
    (re.compile(r"\\mathfrak(?![A-Za-z])"), "KaTeX_Fraktur-Regular"),
    (re.compile(r"\\(mathit|textit|emph)(?![A-Za-z])"), "KaTeX_Main-Italic"),
    (re.compile(r"\\(mathsf|textsf)(?![A-Za-z])"), "KaTeX_SansSerif-Regular"),
    (re.compile(r"\\(mathtt|texttt)(?![A-Za-z])"), "KaTeX_Typewriter-Regular"),
)
_DISPLAY = re.compile(r"\$\$|\\\[")


def katex_fonts(html: str) -> list[str]:
    """The KaTeX font files (paths under the static folder) that ``html``'s TeX will use."""
    names = list(_ALWAYS)
    names += [font for pattern, font in _BY_COMMAND if pattern.search(html)]
    if _DISPLAY.search(html) and "KaTeX_Size1-Regular" in names:
        names.append("KaTeX_Size2-Regular")  # big operators in display math
    return [f"katex/fonts/{name}.woff2" for name in names]


__all__ = ["IMMUTABLE", "REVALIDATE", "Asset", "Assets", "has_math", "katex_fonts"]
