"""Usernames are one per person whatever their case or Unicode form: ``ada_ux`` and
``ADA_UX`` cannot both register, ``/users/ADA_UX`` is ada_ux's page, and the migration that
adds the key copes with accounts that already collide."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert, select

from papertide.config import Settings
from papertide.normalize import username_key
from papertide.store import NameTaken, Store
from papertide.store.schema import papers, submissions, users
from papertide.web import create_app
from tests.conftest import serving

PASSWORD = "a long enough passphrase"
FULLWIDTH = "\uff41\uff44\uff41_\uff55\uff58"  # ada_ux in fullwidth letters: NFKC is ada_ux
FULLWIDTH_FOLDED = "\uff41\uff44\uff41\uff3f\uff55\uff58"  # with a fullwidth low line too


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app over an empty store."""
    with serving(create_app(settings)) as opened:
        yield opened


def _register(client: TestClient, name: str) -> int:
    client.get("/register")
    token = client.cookies.get("pt_csrf")
    data = {"username": name, "password": PASSWORD, "csrf_token": token}
    response = client.post("/register", data=data, follow_redirects=False)
    client.cookies.clear()
    return response.status_code


def test_username_key_folds_case_and_unicode_forms() -> None:
    assert username_key("ADA_UX") == username_key("ada_ux") == username_key(FULLWIDTH_FOLDED)
    assert username_key("Straße") == username_key("STRASSE")
    assert username_key("ada_ux") != username_key("ada-ux")


def test_names_differing_only_in_case_or_width_do_not_both_register(client: TestClient) -> None:
    assert _register(client, "ada_ux") == 303
    for other in ("ADA_UX", "Ada_Ux", FULLWIDTH):  # the last one fullwidth: NFKC is ada_ux
        client.get("/register")
        token = client.cookies.get("pt_csrf")
        data = {"username": other, "password": PASSWORD, "csrf_token": token}
        refused = client.post("/register", data=data)
        client.cookies.clear()
        assert refused.status_code == 400, other
        assert "That username is taken." in refused.text
    assert _register(client, "ada-ux") == 303  # a different name


def test_the_store_refuses_a_second_spelling_even_without_the_web_check(settings: Settings) -> None:
    store = Store.open(settings.resolved_database_url)
    now = datetime(2026, 12, 2)
    store.create_user(username="grace", email=None, password_hash="x", now=now)
    with pytest.raises(NameTaken):  # the unique index, not a read before the write
        store.create_user(username="GRACE", email=None, password_hash="x", now=now)
    store.close()


def test_other_spellings_of_a_name_lead_to_the_one_account(client: TestClient) -> None:
    assert _register(client, "ada_ux") == 303
    moved = client.get("/users/ADA_UX", follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == "/users/ada_ux"
    page = client.get("/users/ADA_UX")
    assert page.status_code == 200 and "<h1>ada_ux</h1>" in page.text
    client.get("/login")
    token = client.cookies.get("pt_csrf")
    data = {"username": "ADA_UX", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "papertide.store:migrations")
    return cfg


def test_migration_keeps_the_oldest_name_and_renames_later_duplicates(
    any_settings: Settings,
) -> None:
    url = any_settings.resolved_database_url
    if url.startswith("sqlite"):
        any_settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    cfg = _alembic_config()
    now = datetime(2026, 12, 1)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "counters")  # the schema before usernames had a key
    with engine.begin() as conn:
        for name in ("ada_ux", "ADA_UX", "grace", "Ada_Ux", "ADA_UX-2"):
            conn.execute(insert(users).values(username=name, password_hash="x", created=now))
        paper_pk = conn.execute(
            insert(papers)
            .values(
                id="p1",
                title="T",
                title_key="t",
                author_key="",
                abstract="",
                authors=[],
                categories=[],
                sources=[],
                extra={},
                first_seen=now,
                modified=now,
                submitted_by="ADA_UX",
            )
            .returning(papers.c.pk)
        ).scalar_one()
        conn.execute(insert(submissions).values(paper_pk=paper_pk, user_pk=2, created=now))
    engine.dispose()
    store = Store.open(url)  # migrates to head
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(users.c.pk, users.c.username, users.c.username_key).order_by(users.c.pk)
        ).all()
        credited = conn.execute(select(papers.c.submitted_by)).scalar_one()
    names = [name for _, name, _ in rows]
    assert names == ["ada_ux", "ADA_UX-2-1", "grace", "Ada_Ux-4", "ADA_UX-2"]
    assert [key for _, _, key in rows] == [username_key(n) for n in names]
    assert credited == "ADA_UX-2-1"  # the renamed submitter keeps the credit
    assert store.user_by_name("ada_ux-2-1") is not None
    with pytest.raises(NameTaken):
        store.create_user(username="ADA_ux", email=None, password_hash="x", now=now)
    store.close()
