"""Store methods for paper pictures: the stored WebP of each paper, the worker's claims and
failures (picture_attempts), and the wishes a paper page records (picture_wishes).

Every write is one statement or one short transaction, and each is safe to repeat or race:
a picture is an upsert on the paper's key (two workers storing one paper's picture leave one
row), a claim is an upsert that only wins once its lease has run out, a wish is INSERT ...
ON CONFLICT DO NOTHING. A worker killed between a claim and its picture leaves a claim that
expires; nothing half-written."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    exists,
    func,
    literal,
    select,
    update,
)

from papertide.models import Paper
from papertide.store.dialects import insert_of
from papertide.store.feeds import select_papers, to_papers
from papertide.store.picture_tables import paper_pictures, picture_attempts, picture_wishes
from papertide.store.schema import list_items, papers
from papertide.store.writer import touch_pages, writing

CARD_SIZE = (320, 200)  # the card variant's size (pictures/render.py draws it)


@dataclass(frozen=True, slots=True)
class StoredPicture:
    """A paper's picture as stored: its bytes and what serving them needs."""

    version: str
    mime: str
    data: bytes
    width: int
    height: int


def picture_version(data: bytes) -> str:
    """The short version key of a picture: the start of its bytes' SHA-256."""
    return hashlib.sha256(data).hexdigest()[:12]


def picture_versions(
    conn: Connection, paper_pks: Sequence[int]
) -> dict[int, tuple[str, str | None]]:
    """The version keys of each of these papers' pictures, for those that have one: the full
    picture's and its card variant's (None when it has none yet)."""
    found = conn.execute(_VERSIONS, {"pks": list(paper_pks)})
    return {int(pk): (str(full), card) for pk, full, card in found}


# Built once: every card of every page asks it (see store/feeds.py's _BY_PKS).
_VERSIONS = select(
    paper_pictures.c.paper_pk, paper_pictures.c.version, paper_pictures.c.card_version
).where(paper_pictures.c.paper_pk.in_(bindparam("pks", expanding=True)))


def _waiting(now: datetime) -> list[Any]:
    """Conditions on papers.pk: no picture yet, and no claim or failure that is still due."""
    return [
        ~exists().where(paper_pictures.c.paper_pk == papers.c.pk),
        ~exists().where(
            picture_attempts.c.paper_pk == papers.c.pk, picture_attempts.c.next_try > now
        ),
    ]


class PicturesMixin:
    """Pictures, claims, failures and wishes; mixed into Store, which provides ``engine``."""

    engine: Engine

    def get_picture(self, paper_id: str, *, card: bool = False) -> StoredPicture | None:
        """The stored picture of the paper with this public id, if it has one; with ``card``
        its card variant (None when it has none)."""
        c = paper_pictures.c
        query = (
            select(c.card_version, c.mime, c.card, literal(CARD_SIZE[0]), literal(CARD_SIZE[1]))
            if card
            else select(c.version, c.mime, c.data, c.width, c.height)
        )
        query = query.join(papers, papers.c.pk == paper_pictures.c.paper_pk).where(
            papers.c.id == paper_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return StoredPicture(*row) if row and row[0] is not None else None

    def wish_picture(self, paper_pk: int, *, now: datetime) -> bool:
        """Ask the worker for this paper's picture; True when the wish is new. A paper that
        has a picture or a wish already costs one read and no write."""
        with self.engine.connect() as conn:
            known = conn.execute(
                select(
                    exists().where(paper_pictures.c.paper_pk == paper_pk)
                    | exists().where(picture_wishes.c.paper_pk == paper_pk)
                )
            ).scalar()
        if known:
            return False
        row = {"paper_pk": paper_pk, "wished_at": now}
        with writing(self.engine) as conn:
            query = insert_of(conn)(picture_wishes).values(row).on_conflict_do_nothing()
            return conn.execute(query.returning(picture_wishes.c.paper_pk)).first() is not None

    def picture_candidates(self, *, now: datetime, recent_days: int, limit: int) -> list[Paper]:
        """Papers waiting for a picture, at most ``limit``: wished-for ones (newest wish
        first), then those of the last ``recent_days`` days before the newest day (newest
        first), then saved ones (most recently saved first)."""
        waiting = _waiting(now)
        wished = (
            select(picture_wishes.c.paper_pk)
            .join(papers, papers.c.pk == picture_wishes.c.paper_pk)
            .where(*waiting)
            .order_by(picture_wishes.c.wished_at.desc(), picture_wishes.c.paper_pk.desc())
        )
        saved = (
            select(list_items.c.paper_pk)
            .join(papers, papers.c.pk == list_items.c.paper_pk)
            .where(*waiting)
            .group_by(list_items.c.paper_pk)
            .order_by(func.max(list_items.c.added).desc(), list_items.c.paper_pk.desc())
        )
        chosen: list[int] = []
        with self.engine.connect() as conn:
            latest = conn.execute(select(func.max(papers.c.day))).scalar_one_or_none()
            queries = [wished]
            if latest is not None and recent_days > 0:
                since = latest - timedelta(days=recent_days - 1)
                queries.append(
                    select(papers.c.pk)
                    .where(papers.c.day >= since, *waiting)
                    .order_by(papers.c.day.desc(), papers.c.pk.desc())
                )
            for query in [*queries, saved]:
                for pk in conn.scalars(query.limit(limit)):
                    if pk not in chosen and len(chosen) < limit:
                        chosen.append(pk)
            rows = conn.execute(select_papers().where(papers.c.pk.in_(chosen))).mappings()
            found = {p.pk: p for p in to_papers(rows)}
        return [found[pk] for pk in chosen if pk in found]

    def claim_picture(self, paper_pk: int, *, now: datetime, lease: timedelta) -> int | None:
        """Take this paper's fetch for ``lease``; the number of this try, or None when another
        worker holds it, its last failure is not due for a retry, or it has a picture."""
        values = {"paper_pk": paper_pk, "tries": 1, "last_try": now, "next_try": now + lease}
        with writing(self.engine) as conn:
            has = exists().where(paper_pictures.c.paper_pk == paper_pk)
            if conn.execute(select(has)).scalar():
                return None
            query = (
                insert_of(conn)(picture_attempts)
                .values(values)
                .on_conflict_do_update(
                    index_elements=[picture_attempts.c.paper_pk],
                    set_={
                        "tries": picture_attempts.c.tries + 1,
                        "last_try": now,
                        "next_try": now + lease,
                    },
                    where=picture_attempts.c.next_try <= now,
                )
                .returning(picture_attempts.c.tries)
            )
            tries = conn.execute(query).scalar()
        return int(tries) if tries is not None else None

    def save_picture(
        self,
        paper_pk: int,
        *,
        data: bytes,
        mime: str,
        size: tuple[int, int],
        origin: str,
        now: datetime,
        card: bytes | None = None,
    ) -> str:
        """Store (or replace) a paper's picture and its card variant, ending its claim and
        wish; its version key."""
        version = picture_version(data)
        row = {
            "card": card,
            "card_version": picture_version(card) if card else None,
            "paper_pk": paper_pk,
            "version": version,
            "mime": mime,
            "width": size[0],
            "height": size[1],
            "origin": origin,
            "data": data,
            "fetched_at": now,
        }
        with writing(self.engine) as conn:
            insert = insert_of(conn)(paper_pictures).values(row)
            changed = {k: v for k, v in row.items() if k != "paper_pk"}
            key = [paper_pictures.c.paper_pk]
            conn.execute(insert.on_conflict_do_update(index_elements=key, set_=changed))
            conn.execute(delete(picture_attempts).where(picture_attempts.c.paper_pk == paper_pk))
            conn.execute(delete(picture_wishes).where(picture_wishes.c.paper_pk == paper_pk))
            touch_pages(conn)  # cards that drew the cover now show the picture
        return version

    def pictures_without_cards(self, *, limit: int) -> list[tuple[int, str, bytes]]:
        """Pictures stored before card variants were (paper key, version, bytes): the
        worker cuts their cards."""
        c = paper_pictures.c
        query = select(c.paper_pk, c.version, c.data).where(c.card.is_(None)).limit(limit)
        with self.engine.connect() as conn:
            return [
                (int(pk), str(version), bytes(data)) for pk, version, data in conn.execute(query)
            ]

    def save_card(self, paper_pk: int, *, version: str, card: bytes) -> bool:
        """Store the card cut from the picture ``version``; False (nothing written) when the
        paper's picture has changed since, whose own card came with it."""
        c = paper_pictures.c
        values = {"card": card, "card_version": picture_version(card)}
        with writing(self.engine) as conn:
            query = update(paper_pictures).where(c.paper_pk == paper_pk, c.version == version)
            done = conn.execute(query.values(values)).rowcount == 1
            if done:
                touch_pages(conn)  # cards now ask for the smaller picture
        return done

    def fail_picture(self, paper_pk: int, *, error: str, next_try: datetime) -> None:
        """Record why a claimed fetch failed and when the paper may be tried again."""
        query = (
            picture_attempts.update()
            .where(picture_attempts.c.paper_pk == paper_pk)
            .values(last_error=error[:1000], next_try=next_try)
        )
        with writing(self.engine) as conn:
            conn.execute(query)

    def picture_counts(self) -> dict[str, int]:
        """How many papers have a picture, are waiting after a failure, are wished for."""
        with self.engine.connect() as conn:
            pictures = conn.scalar(select(func.count()).select_from(paper_pictures))
            failed = conn.scalar(
                select(func.count())
                .select_from(picture_attempts)
                .where(picture_attempts.c.last_error.is_not(None))
            )
            wished = conn.scalar(select(func.count()).select_from(picture_wishes))
        return {
            "pictures": int(pictures or 0),
            "failed": int(failed or 0),
            "wished": int(wished or 0),
        }
