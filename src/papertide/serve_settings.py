"""Serve settings: the `serve` section of Settings (TOML ``[serve]``, env
PAPERTIDE_SERVE__FIELD): load shedding, the HTTP limits and timeouts every connection
meets, the /metrics token, and the log format of serve and the worker.

Kept out of web/ so that reading the settings does not import the web stack.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ServeSettings(BaseModel):
    """How `papertide serve` protects itself and reports; each field has a default."""

    model_config = ConfigDict(extra="forbid")

    queue: int = Field(
        default=64,
        ge=0,
        le=10_000,
        description="Requests a web worker process lets wait for one of its threads; past "
        "threads + queue requests in progress, it answers 503 with Retry-After at once "
        "instead of queueing (/healthz, /metrics and /static/ are never refused or queued).",
    )
    max_wait_seconds: float = Field(
        default=0.8,
        gt=0,
        le=600,
        description="Longest wait for a thread a web worker admits a request to, in seconds, "
        "reckoned from its recent pace (the time between its answers while requests wait); "
        "a request that would wait longer is answered 503 with Retry-After at once. Bounds "
        "the latency of accepted requests under overload on a fast host and a slow one "
        "alike, where the queue alone bounds only their number.",
    )
    refusal_pause_seconds: float = Field(
        default=0.3,
        ge=0,
        le=60,
        description="Seconds a connection is left unread after its request was refused with "
        "503, so that a client that ignores Retry-After and asks again at once cannot take the "
        "worker's time from the requests it accepted. At 256 closed-loop connections on 2 "
        "cores, 0.1 let about 1,300 refusals a second through and 0.3 about 460, with shorter "
        "waits for the accepted requests.",
    )
    retry_after_seconds: int = Field(
        default=1, ge=1, le=3600, description="Retry-After of a refused (503) request."
    )
    max_url_bytes: int = Field(
        default=8192,
        ge=256,
        le=1_048_576,
        description="Longest request target (path and query) in bytes; longer: 414.",
    )
    max_header_bytes: int = Field(
        default=32_768,
        ge=1024,
        le=1_048_576,
        description="Largest request head (request line and every header) in bytes; "
        "larger: 431 and the connection is closed.",
    )
    max_headers: int = Field(
        default=100, ge=8, le=10_000, description="Most header fields a request has; more: 431."
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Seconds a client has from opening a connection (or from a request's "
        "first byte) to the end of its headers; slower (slowloris): 408 and closed.",
    )
    body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds a client has from the end of its headers to the end of its "
        "body; slower: 408 (or closed once an answer started).",
    )
    socket_per_worker: bool = Field(
        default=True,
        description="With several workers on Linux, each listens on a socket of its own "
        "on the port (SO_REUSEPORT) and the kernel spreads new connections over them evenly. "
        "With one shared socket, a worker that is free when a burst of connections comes "
        "accepts them all, and keeps them while they are kept alive (one worker held 57 of "
        "64). A worker that hangs holds its share of new connections until the supervisor "
        "replaces it; false: one shared socket.",
    )
    keep_alive_seconds: int = Field(
        default=5, ge=1, le=600, description="Idle seconds a kept-alive connection is kept."
    )
    metrics_token: str | None = Field(
        default=None,
        description="Bearer token /metrics asks for (Authorization: Bearer TOKEN); empty: "
        "/metrics answers only to clients on this machine (loopback) that came through no "
        "proxy, and 404 to everyone else.",
    )
    log_json: bool = Field(
        default=False,
        description="Serve and worker log lines as JSON objects (one a line) instead of text.",
    )
