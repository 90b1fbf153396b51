"""The JSON API for comments, lists (collections) and For you, from the same calls as the
pages. Writes need a session cookie and the CSRF token in ``X-CSRF-Token``, as votes do."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from papertide.models import Collection, Comment, User
from papertide.store import Store
from papertide.web import discussion, foryou, lists
from papertide.web.deps import CsrfDep, RequiredUserDep, SettingsDep, StoreDep, UserDep
from papertide.web.display import find_paper
from papertide.web.markdown import render_comment
from papertide.web.schemas import FeedOut, PaperOut, paper_out

router = APIRouter(prefix="/api", tags=["api"])


class CommentOut(BaseModel):
    """A comment; top-level ones carry their replies."""

    id: int
    paper_id: str
    author: str | None = Field(description="null once deleted or hidden from you.")
    body: str = Field(description="The Markdown source ('' once deleted or hidden).")
    html: str = Field(description="The body as safe HTML (math left as $..$ for KaTeX).")
    created: datetime
    edited: datetime | None
    deleted: bool
    hidden: bool
    parent: int | None
    replies: list[CommentOut] = Field(default_factory=list)


class CommentIn(BaseModel):
    """A new comment, or a reply to the comment ``parent``."""

    body: str = Field(max_length=20_000, description="Markdown; math as $..$.")
    parent: int | None = None


class CommentEdit(BaseModel):
    """New text for your comment."""

    body: str = Field(max_length=20_000)


class HideIn(BaseModel):
    """Hide a comment (moderators), or show it again."""

    hidden: bool = True


class ListOut(BaseModel):
    """One of a user's lists."""

    owner: str
    slug: str
    name: str
    description: str
    public: bool
    size: int
    url: str
    feed: str
    bibtex: str
    created: datetime
    updated: datetime
    saved: bool | None = Field(
        default=None, description="With ?paper=ID: whether this list holds that paper."
    )


class ListIn(BaseModel):
    """A new list, or a list's new settings."""

    name: str = Field(max_length=200)
    public: bool = False
    description: str = Field(default="", max_length=4000)


class ListPage(BaseModel):
    """A list and its papers, most recently saved first."""

    collection: ListOut = Field(alias="list")
    papers: list[PaperOut]

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


class DismissOut(BaseModel):
    """Whether a paper is now marked "not interested"."""

    paper_id: str
    dismissed: bool


def _comment_out(comment: Comment, paper_id: str) -> CommentOut:
    gone = bool(comment.deleted) or (bool(comment.hidden) and not comment.body)
    return CommentOut(
        id=comment.pk,
        paper_id=paper_id,
        author=None if gone else comment.username,
        body=comment.body,
        html=str(render_comment(comment.body)) if comment.body else "",
        created=comment.created,
        edited=comment.edited,
        deleted=comment.deleted is not None,
        hidden=comment.hidden is not None,
        parent=comment.parent_pk,
        replies=[_comment_out(r, paper_id) for r in comment.replies],
    )


def _list_out(request: Request, c: Collection, saved: bool | None = None) -> ListOut:
    base = str(request.base_url).rstrip("/") + f"/users/{quote(c.owner)}/lists/{c.slug}"
    return ListOut(
        owner=c.owner,
        slug=c.slug,
        name=c.name,
        description=c.description,
        public=c.public,
        size=c.size,
        url=base,
        feed=base + ".atom",
        bibtex=base + ".bib",
        created=c.created,
        updated=c.updated,
        saved=saved,
    )


@router.get("/papers/{ref:path}/comments", response_model=list[CommentOut])
def api_comments(ref: str, store: StoreDep, user: UserDep) -> list[CommentOut]:
    """A paper's discussion: threads oldest first, each with its replies."""
    paper = find_paper(store, ref)
    threads = store.paper_comments(paper.pk or 0, viewer=user)
    return [_comment_out(c, paper.id or "") for c in threads]


@router.post("/papers/{ref:path}/comments", response_model=CommentOut, status_code=201)
def api_post_comment(
    request: Request,
    ref: str,
    body: CommentIn,
    store: StoreDep,
    settings: SettingsDep,
    user: RequiredUserDep,
    _csrf: CsrfDep,
) -> CommentOut:
    """Comment on a paper, or reply to a comment (one level: a reply to a reply joins its
    thread). Rate-limited per account and address (429 with Retry-After)."""
    made = discussion.post_comment(
        request, store, settings, ref, user=user, body=body.body, parent=body.parent
    )
    return _comment_out(made, find_paper(store, ref).id or "")


@router.patch("/comments/{pk}", response_model=CommentOut)
def api_edit_comment(
    pk: int, body: CommentEdit, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep
) -> CommentOut:
    """Change your own comment's text."""
    made = discussion.edit_comment(store, pk, user=user, body=body.body)
    return _comment_out(made, discussion.paper_ref(store, made))


@router.delete("/comments/{pk}", status_code=204, response_class=Response)
def api_delete_comment(pk: int, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep) -> Response:
    """Delete your own comment (a "[deleted]" placeholder stays while it has replies)."""
    discussion.delete_comment(store, pk, user=user)
    return Response(status_code=204)


@router.post("/comments/{pk}/hide", response_model=CommentOut)
def api_hide_comment(
    pk: int, body: HideIn, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep
) -> CommentOut:
    """Moderators: hide a comment from everyone but its author and moderators, or show it."""
    made = discussion.hide_comment(store, pk, user=user, hidden=body.hidden)
    return _comment_out(made, discussion.paper_ref(store, made))


@router.get("/lists", response_model=list[ListOut])
def api_my_lists(
    request: Request,
    store: StoreDep,
    user: RequiredUserDep,
    paper: Annotated[str | None, Query(max_length=300, description="Say which hold it.")] = None,
) -> list[ListOut]:
    """Your lists, most recently changed first."""
    if paper:
        found = find_paper(store, paper)
        return [
            _list_out(request, c, held) for c, held in lists.lists_for_paper(store, user, found)
        ]
    return [_list_out(request, c) for c in store.user_collections(user.pk)]


@router.post("/lists", response_model=ListOut, status_code=201)
def api_new_list(
    request: Request, body: ListIn, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep
) -> ListOut:
    """Start a list (private unless public is true); its slug comes from the name."""
    made = lists.create_collection(
        store, user=user, name=body.name, public=body.public, description=body.description
    )
    return _list_out(request, made)


@router.get("/users/{owner}/lists/{slug}", response_model=ListPage)
def api_list(request: Request, owner: str, slug: str, store: StoreDep, user: UserDep) -> ListPage:
    """A public list (or your own private one) with its papers."""
    found = lists.visible_collection(store, owner, slug, viewer=user)
    views = lists.collection_views(store, found, viewer=user)
    return ListPage(
        list=_list_out(request, found), papers=[paper_out(request, v, user) for v in views]
    )


@router.put("/users/{owner}/lists/{slug}", response_model=ListOut)
def api_edit_list(
    request: Request,
    owner: str,
    slug: str,
    body: ListIn,
    store: StoreDep,
    user: RequiredUserDep,
    _csrf: CsrfDep,
) -> ListOut:
    """Rename your list, describe it, or change who sees it (its slug stays)."""
    found = lists.owned_collection(store, owner, slug, user=user)
    lists.update_collection(
        store, found, name=body.name, public=body.public, description=body.description
    )
    return _list_out(request, lists.own_collection(store, user, slug))


@router.delete("/users/{owner}/lists/{slug}", status_code=204, response_class=Response)
def api_delete_list(
    owner: str, slug: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep
) -> Response:
    """Delete your list (its papers stay on the site)."""
    store.delete_collection(lists.owned_collection(store, owner, slug, user=user).pk)
    return Response(status_code=204)


@router.put("/users/{owner}/lists/{slug}/papers/{ref:path}", response_model=ListOut)
def api_save(
    request: Request,
    owner: str,
    slug: str,
    ref: str,
    store: StoreDep,
    user: RequiredUserDep,
    _csrf: CsrfDep,
) -> ListOut:
    """Save a paper in your list (saving twice changes nothing)."""
    return _set_saved(request, store, user, owner, slug, ref, saved=True)


@router.delete("/users/{owner}/lists/{slug}/papers/{ref:path}", response_model=ListOut)
def api_unsave(
    request: Request,
    owner: str,
    slug: str,
    ref: str,
    store: StoreDep,
    user: RequiredUserDep,
    _csrf: CsrfDep,
) -> ListOut:
    """Take a paper out of your list."""
    return _set_saved(request, store, user, owner, slug, ref, saved=False)


def _set_saved(
    request: Request, store: Store, user: User, owner: str, slug: str, ref: str, *, saved: bool
) -> ListOut:
    """Save or unsave ``ref`` in the caller's own list ``owner/slug`` (404 if not theirs)."""
    lists.owned_collection(store, owner, slug, user=user)
    lists.save_paper(store, user=user, slug=slug, ref=ref, saved=saved)
    return _list_out(request, lists.own_collection(store, user, slug), saved)


@router.get("/for-you", response_model=FeedOut)
def api_for_you(request: Request, store: StoreDep, user: RequiredUserDep) -> FeedOut:
    """Recommendations from your upvotes and saved papers; ``why`` says which it is like."""
    page = foryou.for_you(request, store, user)
    return FeedOut(papers=[paper_out(request, v, user) for v in page.papers], page=1)


@router.post("/papers/{ref:path}/dismiss", response_model=DismissOut)
def api_dismiss(ref: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep) -> DismissOut:
    """Not interested: the paper leaves For you and weighs against papers like it."""
    paper = find_paper(store, ref)
    foryou.not_interested(store, paper, user=user)
    return DismissOut(paper_id=paper.id or "", dismissed=True)


@router.delete("/papers/{ref:path}/dismiss", response_model=DismissOut)
def api_undismiss(ref: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep) -> DismissOut:
    """Take back a "not interested"."""
    paper = find_paper(store, ref)
    foryou.not_interested(store, paper, user=user, undo=True)
    return DismissOut(paper_id=paper.id or "", dismissed=False)
