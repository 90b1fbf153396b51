"""A real SMTP server on 127.0.0.1 for mail tests (aiosmtpd), with scriptable replies,
and the few records mail tests need (papers, subscribers, settings pointing at it)."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from papertide.config import Settings
from papertide.mail.records import Preferences, Subscriber
from papertide.models import Paper
from papertide.store import Store
from papertide.store import subscriptions as subs


@dataclass
class SmtpSink:
    """Records every accepted message; ``replies`` scripts the answers to DATA in order
    (e.g. ["421 4.3.0 try later"] then the default 250), ``refuse`` answers RCPT with 550."""

    port: int = 0
    received: list[EmailMessage] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.replies:
            return self.replies.pop(0)
        msg = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(msg, EmailMessage)
        self.received.append(msg)
        return "250 2.0.0 Message accepted for delivery"

    def unique(self) -> dict[str, EmailMessage]:
        """Accepted messages deduplicated on Message-ID, as a receiving MTA would."""
        return {str(m["Message-ID"]): m for m in self.received}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A running SMTP server on loopback (an ephemeral port)."""
    sink = SmtpSink(port=_free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


def mail_settings(base: Settings, sink: SmtpSink, **mail: Any) -> Settings:
    """``base`` with mail going to ``sink`` and links to the test client's site."""
    values = {
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.port,
        "smtp_timeout": 5.0,
        "base_url": "http://testserver",
        "secret_key": "test-secret",
        "from_address": "papertide <digest@example.org>",
        **mail,
    }
    return base.model_copy(update={"mail": base.mail.model_copy(update=values)})


def add_papers(store: Store, specs: list[dict[str, Any]], *, now: datetime) -> list[Paper]:
    """Store papers (title, abstract, categories, authors, upvotes_external...) filed today."""
    made = [
        Paper(
            id=f"p{i}-{abs(hash(spec['title'])) % 10_000}",
            first_seen=now,
            published=now,
            listed_on=now.date(),
            **spec,
        )
        for i, spec in enumerate(specs)
    ]
    with store.write() as ws:
        ws.insert_papers(made)
    return made


def add_subscriber(store: Store, email_addr: str, *, now: datetime, **prefs: Any) -> Subscriber:
    """A confirmed subscriber with the given preferences (sending from midnight UTC)."""
    values: dict[str, Any] = {"send_hour": 0, "include_trending": False, **prefs}
    sub, _ = subs.subscribe(
        store,
        email=email_addr,
        prefs=Preferences(**values),
        now=now,
        limit=3,
        window=now - now,
    )
    subs.confirm_subscriber(store, pk=sub.pk, now=now)
    found = subs.get_subscriber(store, pk=sub.pk)
    assert found is not None
    return found


def data_file(settings: Settings, name: str) -> Path:
    """A path in the settings' data folder."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.data_dir / name
