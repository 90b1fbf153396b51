"""The render child: untrusted bytes on stdin, a small WebP and its card variant on stdout
(one after the other), one JSON line on stderr.

Run as ``python -m papertide.pictures.render pdf|image --memory-mb N``; ``sandbox.py`` starts
it and kills it after its time-out. The child caps its own address space (RLIMIT_AS) before it
imports a decoder, so a decompression bomb or a PDF that asks for a giant bitmap ends in a
MemoryError here, not in the worker. The sizes it draws never depend on the input's own
claims: a page is rendered at a scale computed from the target width, and only the part that
is kept (the top, 4:3) is drawn at all.
"""

from __future__ import annotations

import io
import math
import resource
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any

import orjson

WIDTH, HEIGHT = 400, 300  # a picture is at most WIDTH wide; a PDF's page top is WIDTH x HEIGHT
MAX_THUMB_HEIGHT = 2 * WIDTH  # a thumbnail taller than this (scaled) is cut from the top
QUALITY = 55  # WebP quality: 8-20 KB for a page top of text (bench pictures)
# The grid's tiles show a 16:10 band of the picture's top about 300 px wide: the card variant
# is that band, so a day page's first screen of pictures weighs 5-8 KB each, not 8-20 KB.
CARD_WIDTH, CARD_HEIGHT, CARD_QUALITY = 320, 200, 40
SUPERSAMPLE = 2  # draw the page at twice the size, then shrink: sharper small type
MAX_PAGES = 100_000  # more pages than any paper: a broken or hostile count
MAX_IMAGE_PIXELS = 16_000_000  # Pillow refuses larger images (its default is 89M)
_ASPECT = (1 / 20, 20)  # a page or image outside these width:height ratios is refused


class Unusable(Exception):
    """The input cannot become a picture; the message says why, in a few words."""


@dataclass(frozen=True, slots=True)
class Drawn:
    """A picture made: WebP bytes and their size in pixels, and the card variant's bytes."""

    data: bytes
    width: int
    height: int
    card: bytes = b""


def _check_ratio(width: float, height: float, what: str) -> None:
    if not (math.isfinite(width) and math.isfinite(height)) or width <= 0 or height <= 0:
        raise Unusable(f"{what} has no usable size ({width} x {height})")
    if not _ASPECT[0] <= width / height <= _ASPECT[1]:
        raise Unusable(f"{what} is {width:.0f} x {height:.0f}, not a page or picture shape")


def render_pdf(data: bytes) -> Drawn:
    """The top of a PDF's first page, cropped to 4:3 and drawn at WIDTH x HEIGHT."""
    import pypdfium2 as pdfium  # type: ignore[import-untyped]  # in the child only

    if b"%PDF-" not in data[:1024]:  # the header may follow up to 1 KB of junk (PDF 1.7, H.3)
        raise Unusable(f"not a PDF (starts {data[:24]!r})")
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise Unusable(f"unreadable PDF ({exc})") from exc
    pages = len(pdf)
    if not 0 < pages <= MAX_PAGES:
        raise Unusable(f"a PDF of {pages} pages")
    page = pdf[0]
    width, height = page.get_size()  # points, whatever the MediaBox claims
    _check_ratio(width, height, "the first page")
    keep = min(height, width * HEIGHT / WIDTH)  # the top of the page, 4:3
    scale = WIDTH * SUPERSAMPLE / width
    # crop = (left, bottom, right, top) in points taken off each side: only the top is drawn.
    bitmap = page.render(scale=scale, crop=(0, height - keep, 0, 0), may_draw_forms=False)
    image = bitmap.to_pil().convert("RGB")
    image = _fit(image, WIDTH, round(WIDTH * keep / width))
    if image.height < HEIGHT:  # a landscape page shorter than 4:3: pad with white below
        from PIL import Image

        padded = Image.new("RGB", (WIDTH, HEIGHT), "white")
        padded.paste(image, (0, 0))
        image = padded
    return _webp(image)


def render_image(data: bytes) -> Drawn:
    """A thumbnail (PNG, JPEG or WebP) scaled to WIDTH wide, keeping its shape."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        # Pillow warns between MAX_IMAGE_PIXELS and twice that, and raises above: refuse both.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            opened = Image.open(io.BytesIO(data), formats=["PNG", "JPEG", "WEBP"])
            _check_ratio(opened.width, opened.height, "the image")
            opened.draft("RGB", (WIDTH, WIDTH * 20))  # JPEG: decode at a reduced size
            opened.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise Unusable(f"a decompression bomb ({exc})") from exc
        except UnidentifiedImageError as exc:
            raise Unusable(f"not an image (starts {data[:24]!r})") from exc
        except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
            raise Unusable(f"a broken image ({exc})") from exc
    image: Image.Image = opened
    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        backdrop = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(backdrop, image)
    image = image.convert("RGB")
    height = max(1, round(image.height * WIDTH / image.width))
    image = image.resize((WIDTH, height), Image.Resampling.LANCZOS)
    if height > MAX_THUMB_HEIGHT:
        image = image.crop((0, 0, WIDTH, MAX_THUMB_HEIGHT))
    return _webp(image)


def _fit(image: Any, width: int, height: int) -> Any:
    from PIL import Image

    return image.resize((width, max(1, min(height, HEIGHT))), Image.Resampling.LANCZOS)


def _webp(image: Any) -> Drawn:
    out = io.BytesIO()
    image.save(out, "WEBP", quality=QUALITY, method=4)
    return Drawn(out.getvalue(), image.width, image.height, _card(image))


def _card(image: Any) -> bytes:
    """The card variant: the picture scaled to cover CARD_WIDTH x CARD_HEIGHT and cut to it,
    centred across and from the top down, as the grid's ``object-fit: cover; object-position:
    top`` shows it."""
    from PIL import Image

    scale = max(CARD_WIDTH / image.width, CARD_HEIGHT / image.height)
    left = (max(CARD_WIDTH, round(image.width * scale)) - CARD_WIDTH) // 2
    box = (left / scale, 0, (left + CARD_WIDTH) / scale, CARD_HEIGHT / scale)
    band = image.resize((CARD_WIDTH, CARD_HEIGHT), Image.Resampling.LANCZOS, box=box)
    out = io.BytesIO()
    band.save(out, "WEBP", quality=CARD_QUALITY, method=6)
    return out.getvalue()


def _cap_memory(megabytes: int) -> None:
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str]) -> int:
    """Render stdin as ``argv[0]`` (pdf or image) under ``--memory-mb``; 0 when drawn, 2 when
    the input is unusable (the reason in the JSON line on stderr)."""
    kind, memory = argv[0], int(argv[argv.index("--memory-mb") + 1])
    _cap_memory(memory)
    data = sys.stdin.buffer.read()
    # Loaded before the clock starts (start-up, which the child's whole run counts): the
    # decoders and the encoder, which Pillow would otherwise import on first use.
    import pypdfium2  # noqa: F401
    from PIL import JpegImagePlugin, PngImagePlugin, WebPImagePlugin  # noqa: F401

    started, cpu = time.perf_counter(), time.process_time()
    try:
        drawn = (render_pdf if kind == "pdf" else render_image)(data)
    except Unusable as exc:
        return _report(2, error=str(exc))
    except MemoryError:
        return _report(2, error=f"needs more than the {memory} MB a render may use")
    ms = (time.perf_counter() - started) * 1000
    cpu_ms = (time.process_time() - cpu) * 1000
    sys.stdout.buffer.write(drawn.data + drawn.card)  # the report says where the card starts
    sys.stdout.buffer.flush()
    size = {"width": drawn.width, "height": drawn.height, "card_bytes": len(drawn.card)}
    return _report(0, **size, ms=round(ms, 1), cpu_ms=cpu_ms)


def _report(code: int, **fields: object) -> int:
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    sys.stderr.buffer.write(orjson.dumps({**fields, "rss_mb": round(rss_mb, 1)}) + b"\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
