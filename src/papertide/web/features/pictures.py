"""Pictures of papers, served from this site's own origin (readers' browsers contact no third
party): a paper's drawn cover at ``/papers/ID/cover.svg``, the same SVG the cards draw inline
where a paper has no picture of its own."""

from __future__ import annotations

import zlib

from fastapi import APIRouter, Request
from fastapi.responses import Response

from papertide.web.covers import cover_svg
from papertide.web.deps import StoreDep
from papertide.web.display import find_paper
from papertide.web.feature import Feature

router = APIRouter(include_in_schema=False)

# A cover follows the paper's title and category, which a later merge may change: a day.
COVER_CACHE = "public, max-age=86400"


@router.get("/papers/{ref:path}/cover.svg")
def cover(request: Request, ref: str, store: StoreDep) -> Response:
    """The paper's drawn cover, with an ETag so a reader's browser revalidates cheaply."""
    paper = find_paper(store, ref)
    body = cover_svg(paper.title, paper.primary_category, label=f"Cover of {paper.title}")
    etag = f'"{zlib.crc32(body.encode("utf-8")):08x}"'
    headers = {"Cache-Control": COVER_CACHE, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="image/svg+xml", headers=headers)


# Not in the page cache: the route sets its own Cache-Control, which holds for every reader.
feature = Feature(name="pictures", routers=(router,))
