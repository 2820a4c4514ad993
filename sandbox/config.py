"""Every setting of a sandbox process, with the defaults the CLI starts from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090
DEFAULT_SEED = 1
# Small enough to start instantly, big enough that paging is exercised.
DEFAULT_PROJECTS = 3
DEFAULT_ISSUES_PER_PROJECT = 250
DEFAULT_COMMENTS_PER_ISSUE = 4
# Revizto's real access tokens live an hour (docs/revizto-api.md §2c).
DEFAULT_TOKEN_LIFETIME_S = 3600.0
# Enough worker threads that injected latency never queues 64 concurrent clients.
DEFAULT_THREADS = 96
MAX_COMMENTS_PER_ISSUE = 1000


@dataclass(frozen=True)
class SandboxConfig:
    """What data the sandbox holds and how its fake Revizto starts out behaving."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    seed: int = DEFAULT_SEED
    projects: int = DEFAULT_PROJECTS
    issues_per_project: int = DEFAULT_ISSUES_PER_PROJECT
    archived_projects: int = 0
    # More exportable licences, one small project each: a second licence to lower rights on.
    extra_licences: int = 0
    comments_per_issue: int = DEFAULT_COMMENTS_PER_ISSUE
    fixtures: Path | None = None
    token_lifetime_s: float = DEFAULT_TOKEN_LIFETIME_S
    latency_ms: float = 0.0
    threads: int = DEFAULT_THREADS
    rotate_refresh_tokens: bool = True
    expired_token_status: int = 401
    error_rate: float = 0.0
    rate_limit_rps: float | None = None
    access_codes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.projects < 0 or self.issues_per_project < 0:
            raise ValueError("projects and issues_per_project must not be negative")
        if self.extra_licences < 0:
            raise ValueError("extra_licences must not be negative")
        if not 0 <= self.archived_projects <= self.projects:
            raise ValueError("archived_projects must be between 0 and projects")
        if not 0 <= self.comments_per_issue <= MAX_COMMENTS_PER_ISSUE:
            raise ValueError(f"comments_per_issue must be between 0 and {MAX_COMMENTS_PER_ISSUE}")
        if self.threads < 1:
            raise ValueError("threads must be at least 1")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
        if self.rate_limit_rps is not None and self.rate_limit_rps < 0:
            raise ValueError("rate_limit_rps must not be negative")
        if self.token_lifetime_s <= 0:
            raise ValueError("token_lifetime_s must be positive")
        if self.expired_token_status not in (401, 200):
            raise ValueError("expired_token_status must be 401 or 200")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be between 0 and 1")
