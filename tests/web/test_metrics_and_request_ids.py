"""/metrics and request ids through TestClient on ``create_app``: who may read the metrics,
the 500 page carrying its request id, and the error's log line naming it."""

from __future__ import annotations

import io
from pathlib import Path

from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.logs import lines_to
from papertide.web import create_app


def test_metrics_need_the_token_when_one_is_set(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", serve={"metrics_token": "s3cret-token"})
    with TestClient(create_app(settings)) as client:
        client.get("/healthz")
        assert client.get("/metrics").status_code == 404
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 404
        right = client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
        assert right.status_code == 200
        assert 'route="/healthz",status="200"' in right.text
        assert "papertide_papers_stored 0.0" in right.text


def test_metrics_are_hidden_from_a_client_not_on_this_machine(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:  # its client is "testclient"
        answer = client.get("/metrics")
    assert answer.status_code == 404 and "papertide_" not in answer.text


def test_a_crash_answers_500_with_its_request_id_and_logs_it(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/_boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    out = io.StringIO()
    with lines_to(out), TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/_boom", headers={"X-Request-ID": "trace-0042"})
    assert answer.status_code == 500
    assert answer.headers["X-Request-ID"] == "trace-0042"
    log = out.getvalue()
    error = next(x for x in log.splitlines() if "unhandled error" in x)
    assert " ERROR papertide.web.errors [trace-0042] " in error
    assert "RuntimeError: kaboom" in log
    assert '[trace-0042] testclient:50000 "GET /_boom" 500 ' in log
