"""Small PDFs written by hand, for the picture benchmark and the picture tests: a first page
that looks like a paper's (a title, authors, two columns of text, a rule), any page size.

Each object is written out with a correct cross-reference table (PDF 1.7, 7.5.4), so a
strict reader takes them too. ``mangle`` helpers make the broken and hostile variants."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the store is loaded only by the callers that store pictures
    from papertide.store import Store

_WORDS = (
    "model data learning retrieval language network training attention sparse graph "
    "representation token benchmark evaluation transformer loss gradient dataset policy "
    "inference latent diffusion contrastive embedding reasoning optimisation scaling"
).split()


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _page_text(rng: random.Random, width: float, height: float, title: str) -> bytes:
    """Content stream: a centred title, an author line, then text in two columns."""
    ops = ["BT", "/F1 17 Tf", f"{width * 0.12:.1f} {height - 90:.1f} Td", f"({_escape(title)}) Tj"]
    ops += ["/F1 10 Tf", "0 -28 Td", "(A. Author, B. Author, C. Author) Tj", "ET"]
    column = (width - 150) / 2
    for left in (60.0, 90 + column):
        ops += ["BT", "/F1 9 Tf", "11 TL", f"{left:.1f} {height - 160:.1f} Td"]
        for _ in range(min(60, int((height - 220) / 11))):
            line = " ".join(rng.choice(_WORDS) for _ in range(int(column / 38)))
            ops.append(f"({line}) '")
        ops.append("ET")
    ops += ["0.5 w", f"60 {height - 135:.1f} m {width - 60:.1f} {height - 135:.1f} l S"]
    return "\n".join(ops).encode("latin-1")


def paper_pdf(
    title: str = "A Paper",
    *,
    seed: int = 0,
    width: float = 612,
    height: float = 792,
    pages: int = 1,
) -> bytes:
    """A PDF whose pages (``pages`` of them, width x height points) look like a paper's."""
    rng = random.Random(seed)
    content = _page_text(rng, width, height, title)
    page_numbers = [4 + i for i in range(pages)]
    kids = " ".join(f"{n} 0 R" for n in page_numbers)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    font = 4 + pages
    for _ in page_numbers:
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width:g} {height:g}] /Contents 3 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return _assemble(objects)


def _assemble(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def sample_titles(count: int, *, seed: int = 7) -> list[str]:
    """Paper-like titles for generated PDFs."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(_WORDS).capitalize() for _ in range(rng.randint(4, 9)))
        for _ in range(count)
    ]


def add_drawn_pictures(store: Store, paper_pks: list[int], *, distinct: int = 6) -> None:
    """Give these papers pictures (and card variants) drawn by the real render child from
    ``distinct`` paper-like PDFs, shared round them: each paper's picture still has its own
    address, so a browser fetches every one, as on a real site."""
    from papertide.clock import utcnow
    from papertide.pictures.sandbox import render

    drawn = [
        render("pdf", paper_pdf(f"Paper {n}", seed=n), memory_mb=200, timeout=60)
        for n in range(distinct)
    ]
    for n, pk in enumerate(paper_pks):
        one = drawn[n % len(drawn)]
        store.save_picture(
            pk, data=one.data, card=one.card, mime="image/webp",
            size=(one.width, one.height), origin="pdf", now=utcnow(),
        )  # fmt: skip
