"""`papertide sync-hub` SIGKILLed in the middle of a round: the papers it finished keep their
whole lists, the rest stay as they were and due, and the next round completes them."""

from __future__ import annotations

import signal
import threading
from datetime import date

from papertide.config import Settings
from papertide.store import Store
from tests.support.fixture_server import FixtureServer, Reply, Seen
from tests.support.hub_service import HubService, add_paper
from tests.support.processes import _finish, _papertide

DAY = date(2026, 11, 21)
IDS = [f"2411.0000{n}" for n in range(1, 5)]


def _env(server: FixtureServer) -> dict[str, str]:
    return {
        "PAPERTIDE_SYNC__HUB_URL": server.url,
        "PAPERTIDE_SYNC__GITHUB_REPOS_PER_ROUND": "0",
        "PAPERTIDE_SYNC__HUB_REQUEST_INTERVAL": "0",
    }


def test_a_killed_round_leaves_whole_lists_and_the_next_one_finishes(
    any_settings: Settings, any_store: Store
) -> None:
    for arxiv_id in IDS:
        add_paper(any_store, arxiv_id, day=DAY)
    recorded = {
        (kind, arxiv_id): f"{kind}_2411.00001.json"
        for kind in ("models", "datasets", "spaces")
        for arxiv_id in IDS
    }
    hub = HubService(recorded)  # type: ignore[arg-type]
    third_paper = threading.Event()

    def handler(seen: Seen) -> Reply:
        # Newest first, then by pk descending: the third paper asked about is IDS[1].
        if seen.path == "/api/spaces" and seen.query["filter"] == f"arxiv:{IDS[1]}":
            third_paper.set()
            return Reply(b"[]", delay=600)  # hangs until the process is killed
        return hub(seen)

    with FixtureServer() as server:
        server.handler = handler
        process = _papertide(any_settings, "sync-hub", "-q", **_env(server))
        assert third_paper.wait(300), "sync-hub never reached the third paper"
        process.send_signal(signal.SIGKILL)
        process.wait()
        checked = {}
        for arxiv_id in IDS:
            paper = any_store.get_paper(arxiv_id)
            assert paper is not None
            checked[arxiv_id] = any_store.hub_links(paper.pk or 0)
        done = [i for i, links in checked.items() if links.checked is not None]
        assert sorted(done) == IDS[2:]  # the two it finished, nothing of the third
        assert all(len(checked[i].repos) == 6 for i in done)
        assert all(checked[i].repos == [] for i in IDS[:2])

        server.handler = hub
        out = _finish(_papertide(any_settings, "sync-hub", "-q", **_env(server)))
        assert "hf-hub: 2 papers checked, 12 repositories stored" in out
    counts = any_store.hub_counts([any_store.get_paper(i).pk or 0 for i in IDS])  # type: ignore[union-attr]
    assert len(counts) == 4 and all(c.models == 3 for c in counts.values())
