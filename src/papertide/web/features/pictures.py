"""Pictures of papers, served from this site's own origin (readers' browsers contact no third
party): a paper's stored picture at ``/pictures/ID.VERSION.webp`` (VERSION is a hash of its
bytes, so the address is cached for a year and a new picture gets a new one), the band of it
a grid's tile shows at ``/pictures/ID.CARDVERSION.card.webp``, and its drawn
cover at ``/papers/ID/cover.svg``, the same SVG the cards draw inline where a paper has no
picture of its own."""

from __future__ import annotations

import zlib

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from papertide.web.covers import cover_svg
from papertide.web.deps import StoreDep
from papertide.web.display import find_paper
from papertide.web.feature import Feature
from papertide.web.headers import none_match

router = APIRouter(include_in_schema=False)

# A cover follows the paper's title and category, which a later merge may change: a day.
COVER_CACHE = "public, max-age=86400"
# A picture's address names its bytes: it never changes, so a year (RFC 8246 immutable).
PICTURE_CACHE = "public, max-age=31536000, immutable"


@router.get("/papers/{ref:path}/cover.svg")
def cover(request: Request, ref: str, store: StoreDep) -> Response:
    """The paper's drawn cover, with an ETag so a reader's browser revalidates cheaply."""
    paper = find_paper(store, ref)
    body = cover_svg(paper.title, paper.primary_category, label=f"Cover of {paper.title}")
    etag = f'"{zlib.crc32(body.encode("utf-8")):08x}"'
    headers = {"Cache-Control": COVER_CACHE, "ETag": etag}
    if none_match(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="image/svg+xml", headers=headers)


@router.get("/pictures/{name:path}")
def picture(request: Request, name: str, store: StoreDep) -> Response:
    """A paper's stored picture by ``ID.VERSION.webp``, its card variant by
    ``ID.VERSION.card.webp``; 404 for an unknown paper, a paper without a picture, or a
    version that is not (or no longer) its picture's."""
    stem = name.removesuffix(".webp")
    card = stem.endswith(".card")
    paper_id, _, version = stem.removesuffix(".card").rpartition(".")
    found = store.get_picture(paper_id, card=card) if stem != name and paper_id else None
    if found is None or found.version != version:
        raise HTTPException(status_code=404, detail=f"No picture {name!r} here.")
    etag = f'"{found.version}"'
    headers = {"Cache-Control": PICTURE_CACHE, "ETag": etag}
    if none_match(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(found.data, media_type=found.mime, headers=headers)


# Not in the page cache: the route sets its own Cache-Control, which holds for every reader.
feature = Feature(name="pictures", routers=(router,))
