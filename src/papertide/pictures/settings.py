"""Settings of paper pictures (``Settings.pictures``): where they come from, how many a round,
and the caps on what a render may cost. In the TOML file they sit under ``[pictures]``; as
environment variables they take the ``PAPERTIDE_PICTURES__`` prefix, e.g.
``PAPERTIDE_PICTURES__PER_ROUND=20``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PictureSettings(BaseModel):
    """What the worker's pictures job fetches, how often, and under which caps."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        default=True, description="Whether `papertide worker` runs the pictures job."
    )
    interval_minutes: int = Field(
        default=15, ge=1, description="How often the worker looks for papers without a picture."
    )
    per_round: int = Field(
        default=40,
        ge=1,
        description="Most papers one round fetches a picture for (each is one request at the "
        "sources' pace: sync.request_interval seconds apart).",
    )
    recent_days: int = Field(
        default=31,
        ge=0,
        description="Papers of the last N days (the day, week and month pages, trending) get "
        "a picture; so do saved papers and any paper whose page was opened.",
    )
    arxiv_pdf_url: str = Field(
        default="https://export.arxiv.org/pdf",
        description="Where an arXiv paper's PDF is fetched: this URL, '/', the arXiv id "
        "(export.arxiv.org is arXiv's host for programmatic access).",
    )
    hf_thumbnail_url: str = Field(
        default="https://cdn-thumbnails.huggingface.co",
        description="Where Hugging Face thumbnails are fetched (a mirror may stand in). Only "
        "thumbnails the daily-papers API names on cdn-thumbnails.huggingface.co are taken, "
        "by their path: a source cannot send the worker to any other host.",
    )
    max_download_mb: float = Field(
        default=25.0,
        gt=0,
        description="Largest PDF or thumbnail fetched, in MB: a larger Content-Length is "
        "refused before the body is read, and a body that runs past it is cut off.",
    )
    download_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Seconds a PDF or thumbnail may take to arrive whole (a server that "
        "drips a body out is cut off).",
    )
    render_memory_mb: int = Field(
        default=200,
        ge=64,
        description="Address space a render process may use (RLIMIT_AS), in MB.",
    )
    render_timeout: float = Field(
        default=20.0, gt=0, description="Seconds a render may take before it is killed."
    )
    retry_hours: float = Field(
        default=6.0,
        gt=0,
        description="A paper whose picture failed is tried again after this long, doubling "
        "with each failure up to 30 days.",
    )
