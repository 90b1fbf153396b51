"""`papertide bench pictures`: what drawing a paper's picture costs, in the same capped child
process the worker uses: render time (decode, draw, encode, inside the child), the child's
whole run (start-up included) and its peak resident memory, and the pictures' sizes, over
generated PDFs (letter, A4, landscape, a giant MediaBox) and thumbnails. The baseline is a
child that only starts and loads the decoders, timed in the same rounds."""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

from papertide.bench.output import BenchFailed, Echo
from papertide.bench.pdfs import paper_pdf, sample_titles
from papertide.pictures.sandbox import Rendered, RenderRefused, render

PAGE_SIZES = [(612.0, 792.0), (595.0, 842.0), (792.0, 612.0), (200_000.0, 200_000.0)]
TARGETS = {"render p50 ms": 300.0, "peak RSS MB": 200.0}


@dataclass
class Figures:
    """Per-kind measurements of one run."""

    render_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    def add(self, drawn: Rendered) -> None:
        """Record one picture."""
        self.render_ms.append(drawn.render_ms)
        self.cpu_ms.append(drawn.cpu_ms)
        self.wall_ms.append(drawn.wall_ms)
        self.rss_mb.append(drawn.rss_mb)
        self.sizes.append(len(drawn.data))


def _thumbnail(seed: int) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1200, 648), (30 + seed * 7 % 200, 60, 120))
    draw = ImageDraw.Draw(image)
    for i in range(40):
        x = (seed * 37 + i * 53) % 1100
        draw.rectangle((x, i * 15, x + 90, i * 15 + 40), fill=(200, (i * 29) % 255, 90))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _baseline_ms() -> float:
    """A child that starts and loads the decoders, and draws nothing."""
    code = (
        "import pypdfium2, orjson, resource; "
        "from PIL import Image, JpegImagePlugin, PngImagePlugin, WebPImagePlugin"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def run_bench_pictures(*, pdfs: int, memory_mb: int, timeout: float, echo: Echo) -> None:
    """Draw ``pdfs`` generated PDFs and as many thumbnails; print medians and the peak."""
    pdf_figures, thumb_figures, baseline = Figures(), Figures(), []
    for n, title in enumerate(sample_titles(pdfs)):
        width, height = PAGE_SIZES[n % len(PAGE_SIZES)]
        data = paper_pdf(title, seed=n, width=width, height=height, pages=1 + n % 12)
        try:
            pdf_figures.add(render("pdf", data, memory_mb=memory_mb, timeout=timeout))
            thumb_figures.add(render("image", _thumbnail(n), memory_mb=memory_mb, timeout=timeout))
        except RenderRefused as exc:
            raise BenchFailed(f"a generated input was refused: {exc}") from exc
        baseline.append(_baseline_ms())
    base = statistics.median(baseline)
    echo(f"pictures: {pdfs} generated PDFs and {pdfs} thumbnails, capped at {memory_mb} MB")
    echo(f"  load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    echo(f"  baseline: a child that starts and loads the decoders: p50 {base:.0f} ms")
    for label, figures in (("PDF page top", pdf_figures), ("HF thumbnail", thumb_figures)):
        render_p50 = statistics.median(figures.render_ms)
        wall_p50 = statistics.median(figures.wall_ms)
        echo(
            f"  {label}: render p50 {render_p50:.0f} ms (p90 "
            f"{_p90(figures.render_ms):.0f}; CPU p50 {statistics.median(figures.cpu_ms):.0f}), "
            f"child p50 {wall_p50:.0f} ms "
            f"({wall_p50 / base:.2f}x baseline), peak RSS {max(figures.rss_mb):.0f} MB",
            highlight=False,
        )
        sizes = sorted(figures.sizes)
        echo(
            f"    sizes: p50 {statistics.median(sizes) / 1024:.1f} KB, min {sizes[0] / 1024:.1f},"
            f" max {sizes[-1] / 1024:.1f}",
            highlight=False,
        )
    peak = max(pdf_figures.rss_mb + thumb_figures.rss_mb)
    verdicts = [
        _verdict("PDF render p50 (wall)", statistics.median(pdf_figures.render_ms), "ms"),
        _verdict("PDF render p50 (CPU)", statistics.median(pdf_figures.cpu_ms), "ms"),
        _verdict("peak RSS", peak, "MB"),
    ]
    echo("  targets: " + "; ".join(verdicts), highlight=False)


def _verdict(label: str, value: float, unit: str) -> str:
    target = TARGETS["peak RSS MB" if unit == "MB" else "render p50 ms"]
    return f"{label} {value:.0f} {unit} <= {target:.0f}: {'met' if value <= target else 'NOT met'}"


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]
