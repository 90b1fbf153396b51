"""Helpers for the picture tests: settings that point the pictures job at the fixture server,
real image bytes (a PNG, a decompression bomb) and papers to draw pictures for."""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from datetime import datetime

from PIL import Image

from papertide.config import Settings
from papertide.models import Paper
from papertide.pictures.settings import PictureSettings
from tests.support.fixture_server import FixtureServer, Reply, settings_for

THUMB = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{}.png"


def picture_settings(base: Settings, server: FixtureServer, **pictures: object) -> Settings:
    """``base`` with the sources (and the pictures job) pointed at ``server``, fast."""
    values: dict[str, object] = {
        "arxiv_pdf_url": f"{server.url}/pdf",
        "hf_thumbnail_url": server.url,
        "render_timeout": 30.0,
    }
    values.update(pictures)
    settings = settings_for(base, server)
    return settings.model_copy(update={"pictures": PictureSettings(**values)})  # type: ignore[arg-type]


def pdf_reply(body: bytes, **kwargs: object) -> Reply:
    """A PDF answer."""
    return Reply(body=body, content_type="application/pdf", **kwargs)  # type: ignore[arg-type]


def png_bytes(width: int, height: int, colour: str = "teal") -> bytes:
    """A real PNG of the given size."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def png_bomb(side: int = 8_000) -> bytes:
    """A valid PNG of side x side grey pixels (64 M pixels) in tens of kilobytes: the
    header claims the size, the zlib stream of zero rows squeezes to almost nothing."""
    row = b"\x00" + b"\x00" * side  # filter byte, then one byte a pixel
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(row) for _ in range(side)]
    data = b"".join(chunks) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def gzipped(body: bytes) -> bytes:
    """``body`` gzip-compressed (for a Content-Encoding: gzip answer)."""
    return gzip.compress(body, compresslevel=9)


def recent_paper(n: int, *, day: str = "2026-11-20", thumbnail: bool = False) -> Paper:
    """A paper of a recent day with arXiv id 2611.0000n (and a Hugging Face thumbnail)."""
    arxiv_id = f"2611.{n:05d}"
    paper = Paper(
        title=f"Paper number {n} on sparse attention",
        abstract="An abstract.",
        authors=["Ada Lovelace"],
        arxiv_id=arxiv_id,
        arxiv_version=1,
        categories=["cs.CL"],
        published=datetime.fromisoformat(day),
    )
    if thumbnail:
        paper.extra["thumbnail"] = THUMB.format(arxiv_id)
    return paper
