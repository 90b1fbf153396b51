"""Settings of the live sources and `papertide sync`: one typed model, a default and help each.

Part of the one Settings object (``Settings.sync``). In the TOML file they sit under
``[sync]``; as environment variables they take the ``PAPERTIDE_SYNC__`` prefix, e.g.
``PAPERTIDE_SYNC__ARXIV_CATEGORIES=cs.CL,cs.LG`` or ``PAPERTIDE_SYNC__REQUEST_INTERVAL=5``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import NoDecode

SourceName = Literal["arxiv", "oai", "hf"]
SOURCE_NAMES: tuple[SourceName, ...] = get_args(SourceName)  # the one list, in its order
_DEFAULT_SOURCES: tuple[SourceName, ...] = ("arxiv", "hf")


class SyncSettings(BaseModel):
    """Which live sources `papertide sync` runs, where they are, and how politely."""

    model_config = ConfigDict(extra="forbid")

    # NoDecode: the validator below reads both JSON lists and comma-separated env values.
    sources: Annotated[list[SourceName], NoDecode] = Field(
        default_factory=lambda: list(_DEFAULT_SOURCES),
        description="Sources `papertide sync` runs: arxiv (API search), oai (OAI-PMH bulk "
        "harvest of OAI_SET), hf (Hugging Face daily papers).",
    )
    arxiv_api_url: str = Field(
        default="https://export.arxiv.org/api/query",
        description="arXiv API query endpoint (Atom).",
    )
    arxiv_categories: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["cs.AI", "cs.CL", "cs.CV", "cs.LG"],
        description="arXiv categories the API source searches (any of them).",
    )
    arxiv_query: str = Field(
        default="",
        description="Extra arXiv search_query terms ANDed to the categories, e.g. "
        "'abs:retrieval ANDNOT ti:survey'. Empty: none.",
    )
    arxiv_date_field: Literal["lastUpdatedDate", "submittedDate"] = Field(
        default="lastUpdatedDate",
        description="Date the API window filters on: lastUpdatedDate also catches new versions.",
    )
    arxiv_page_size: int = Field(
        default=200, ge=1, le=2000, description="Entries per API request (arXiv allows 2,000)."
    )
    arxiv_overlap_days: int = Field(
        default=4,
        ge=0,
        description="Each API run re-reads this many days before the last run's end: arXiv "
        "lists a submission only when it is announced, up to ~4 days later over a weekend.",
    )
    oai_url: str = Field(
        default="https://arxiv.org/oai", description="OAI-PMH base URL (arXiv's since 2025)."
    )
    oai_set: str = Field(
        default="cs",
        description="OAI-PMH set to harvest: a group (cs), archive (physics:hep-th) or "
        "category (cs:cs:AI). Empty: all of arXiv.",
    )
    oai_metadata_prefix: Literal["arXiv", "arXivRaw"] = Field(
        default="arXiv",
        description="OAI metadata format: arXiv (authors split, affiliations) or arXivRaw "
        "(version history).",
    )
    hf_url: str = Field(
        default="https://huggingface.co/api/daily_papers",
        description="Hugging Face daily papers endpoint.",
    )
    hf_period: Literal["date", "week", "month"] = Field(
        default="date",
        description="How the HF source asks for papers: one day, one ISO week or one month "
        "per request.",
    )
    hf_page_size: int = Field(default=100, ge=1, le=100, description="HF papers per request.")
    hf_refresh_days: int = Field(
        default=2,
        ge=0,
        description="Each HF run re-reads this many days before the last one it read, so "
        "upvote and comment counts stay fresh.",
    )
    backfill_days: int = Field(
        default=3, ge=0, description="A source's first run reaches this many days back."
    )
    start_date: date | None = Field(
        default=None,
        description="First day a source's first run reads (overrides BACKFILL_DAYS). "
        "Example: 2026-01-01",
    )
    request_interval: float = Field(
        default=3.0,
        ge=0,
        description="Seconds between two requests of one client (arXiv asks for 3).",
    )
    timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for a response.")
    retries: int = Field(
        default=4, ge=0, description="Retries of a request on 429, 5xx, time-outs, bad bodies."
    )
    backoff: float = Field(
        default=5.0,
        ge=0,
        description="Seconds before the first retry; doubles each retry (unless Retry-After).",
    )
    max_wait: float = Field(
        default=600.0,
        ge=0,
        description="Longest wait before a retry, even if Retry-After asks for more.",
    )
    contact_email: str | None = Field(
        default=None,
        description="Sent in the User-Agent (mailto:) so the services can reach you.",
    )
    contact_url: str | None = Field(
        default=None, description="URL of your papertide site, sent in the User-Agent."
    )
    interval_minutes: int = Field(
        default=360, ge=1, description="How often `papertide sync --watch` runs every source."
    )

    hub_url: str = Field(
        default="https://huggingface.co",
        description="Hugging Face Hub base URL: its /api/models, /api/datasets and "
        "/api/spaces list the repositories that cite a paper (tag arxiv:ID).",
    )
    hub_repos_per_kind: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Models, datasets and Spaces kept per paper, each the most liked; a "
        "paper with more shows the count as 'N+'.",
    )
    hub_recent_days: int = Field(
        default=3,
        ge=0,
        description="`papertide sync hub` looks at the papers of the newest N days of the "
        "feeds, besides trending papers and papers saved in lists.",
    )
    hub_refresh_hours: float = Field(
        default=24.0,
        gt=0,
        description="A paper's Hub repositories and GitHub stars are asked for again at "
        "most this often.",
    )
    hub_papers_per_round: int = Field(
        default=100, ge=1, description="Papers one round of `sync hub` asks the Hub about."
    )
    hub_request_interval: float = Field(
        default=1.0, ge=0, description="Seconds between two requests to the Hub API."
    )
    hub_interval_minutes: int = Field(
        default=60, ge=1, description="How often `papertide worker` runs a round of `sync hub`."
    )
    github_api_url: str = Field(
        default="https://api.github.com",
        description="GitHub REST API base URL (GET /repos/OWNER/REPO gives the stars).",
    )
    github_token: str | None = Field(
        default=None,
        description="A GitHub token for the stars look-ups (60 requests an hour without "
        "one, 5,000 with). Keep it in a file: PAPERTIDE_SYNC__GITHUB_TOKEN_FILE.",
    )
    github_repos_per_round: int = Field(
        default=50,
        ge=0,
        description="GitHub repositories one round of `sync hub` asks for stars (0: none).",
    )
    github_request_interval: float = Field(
        default=1.0, ge=0, description="Seconds between two requests to the GitHub API."
    )

    @field_validator("sources", "arxiv_categories", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        """Accept a JSON list or a comma-separated string (handy in env variables)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return orjson.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value
