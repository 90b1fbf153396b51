"""`papertide bench digest`: compose and deliver N personalised digests, end to end.

A fresh SQLite store in a temporary folder gets generated papers on topics (with upvotes),
the site's search index over them, and N subscribers with varied interests: queries from a
pool of topic phrases, categories, authors, excluded words, one in ten with upvoted papers
(for the recommender). Then one `digest send` pass composes and delivers everything to an
aiosmtpd server on loopback (needs the dev extra), and the figures are printed.
"""

from __future__ import annotations

import multiprocessing
import random
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from papertide.bench.output import Echo
from papertide.clock import utcnow
from papertide.config import Settings
from papertide.mail.digest import compose_due, links_for, site_search
from papertide.mail.records import Preferences
from papertide.mail.send import deliver_due
from papertide.models import Paper
from papertide.store import Store
from papertide.store import subscriptions as subs

TOPICS = [
    "sparse attention",
    "protein folding",
    "graph neural networks",
    "diffusion models",
    "reinforcement learning",
    "speech recognition",
    "machine translation",
    "object detection",
    "federated learning",
    "quantum error correction",
    "dark matter",
    "gravitational waves",
    "language model alignment",
    "retrieval augmented generation",
    "image segmentation",
    "causal inference",
    "bayesian optimization",
    "contrastive learning",
    "code generation",
    "robot manipulation",
    "time series forecasting",
    "knowledge distillation",
    "mixture of experts",
    "neural radiance fields",
    "adversarial robustness",
    "differential privacy",
    "tabular data",
    "music generation",
    "weather prediction",
    "drug discovery",
]
FILLER = (
    "we propose a method that improves results on standard benchmarks with an efficient "
    "approach and show strong performance across tasks and datasets using a simple model"
).split()
CATEGORIES = ["cs.CL", "cs.LG", "cs.CV", "cs.AI", "stat.ML", "q-bio.BM", "astro-ph.CO", "quant-ph"]
NAMES = "Lovelace Turing Hopper Noether Meitner Bohr Curie Dirac Lecun Chen Hinton Bengio".split()


def _papers(n: int, rng: random.Random, now: Any) -> list[Paper]:
    made = []
    for i in range(n):
        topic, other = rng.sample(TOPICS, 2)
        words = [*topic.split(), *other.split(), *rng.choices(FILLER, k=60)]
        rng.shuffle(words)
        made.append(
            Paper(
                id=f"bench-{i}",
                title=f"{topic.title()} meets {other} ({i})",
                abstract=" ".join(words),
                authors=[f"{rng.choice('ABCDEFGH')}. {rng.choice(NAMES)}" for _ in range(3)],
                categories=rng.sample(CATEGORIES, 2),
                upvotes_external=int(rng.paretovariate(1.2)) - 1,
                published=now - timedelta(hours=rng.uniform(0, 40)),
                first_seen=now,
                listed_on=now.date(),
            )
        )
    return made


def _prefs(rng: random.Random) -> Preferences:
    return Preferences(
        send_hour=0,
        queries=rng.sample(TOPICS, rng.randint(0, 3)),
        categories=rng.sample(CATEGORIES, rng.randint(0, 2)),
        authors=[rng.choice(NAMES)] if rng.random() < 0.3 else [],
        exclude=[rng.choice(FILLER)] if rng.random() < 0.1 else [],
        papers_per_mail=rng.choice([5, 10, 15]),
        include_trending=rng.random() < 0.7,
    )


def run_bench_digest(base: Settings, *, subscribers: int, papers: int, echo: Echo) -> None:
    """Set up, compose and deliver; print timings and rates."""
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="papertide-bench-") as tmp, _sink() as sink:
        settings = base.model_copy(update={"data_dir": Path(tmp), "database_url": None})
        mail = settings.mail.model_copy(
            update={
                "smtp_host": "127.0.0.1",
                "smtp_port": sink.port,
                "smtp_security": "none",
                "smtp_user": None,
                "secret_key": "bench",
            }
        )
        settings = settings.model_copy(update={"mail": mail})
        store = Store.open(settings.resolved_database_url)
        now = utcnow().replace(hour=12)
        stored = _papers(papers, rng, now)
        with store.write() as ws:
            ws.insert_papers(stored)
        emails = [f"reader{i}@bench.example" for i in range(subscribers)]
        subs.add_active_subscribers(
            store, people=[(e, _prefs(rng)) for e in emails], now=now - timedelta(days=1)
        )
        liked = {
            pk: [p.pk for p in rng.sample(stored, 5) if p.pk is not None]
            for pk in range(1, subscribers + 1, 10)
        }
        search = site_search(settings, store)
        started = time.perf_counter()
        search(TOPICS[0])  # opens and builds the index: reported apart
        indexed = time.perf_counter() - started
        echo(f"setup: {papers:,} papers indexed in {indexed:.1f} s, {subscribers:,} subscribers")
        links = links_for(settings, store)
        started = time.perf_counter()
        composed = compose_due(
            store,
            links=links,
            now=now,
            weekly_day=0,
            search=search,
            votes=lambda s: liked.get(s.pk, []),
        )
        compose_s = time.perf_counter() - started
        search.close()
        sent = deliver_due(store, mail=settings.mail, links=links, clock=lambda: now)
        total = compose_s + sent.seconds
        store.close()
    echo(
        f"composed {composed.created:,} digests ({composed.queries} distinct queries) in "
        f"{compose_s:.1f} s; delivered {sent.sent:,} (failed {sent.failed}) in "
        f"{sent.seconds:.1f} s; server received {sink.count:,}"
    )
    echo(f"total {total:.1f} s = {sent.sent / total:,.0f} digests/s (target: 10,000 in 300 s)")


class _Counter:
    """An aiosmtpd handler that accepts and counts messages."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        return "250 OK"


@dataclass(slots=True)
class _Sink:
    port: int
    count: int = 0


def _serve(port: int, ready: Any, stop: Any, count: Any) -> None:
    from aiosmtpd.controller import Controller  # the dev extra

    handler = _Counter()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    count.value = handler.count
    controller.stop()


@contextmanager
def _sink() -> Iterator[_Sink]:
    """A counting SMTP server in its own process (so it does not share our GIL)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        sink = _Sink(int(probe.getsockname()[1]))
    ctx = multiprocessing.get_context("spawn")
    ready, stop, count = ctx.Event(), ctx.Event(), ctx.Value("i", 0)
    proc = ctx.Process(target=_serve, args=(sink.port, ready, stop, count), daemon=True)
    proc.start()
    if not ready.wait(60):
        proc.kill()
        raise RuntimeError("the SMTP sink did not start (is aiosmtpd installed?)")
    try:
        yield sink
    finally:
        stop.set()
        proc.join(30)
        sink.count = int(count.value)
