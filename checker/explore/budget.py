"""When a search stops before its queue is empty: limits on time, states and depth, and a stop request.

How this works: a `Budget` is handed to the search loop (`Search.run(budget=...)`,
and any other search strategy that honours it): the loop expands every state
within `max_depth` steps of the initial state and stops before expanding one
further (those are stored and checked, so a model whose diameter is within the
limit is still searched completely), and it stops once it has stored `max_states`; every `check_every` states it asks
`stop_reason` about the time spent and about a stop request.  A request comes from
outside the loop, for example a signal handler (`request_stop("SIGINT")`), which may
run at any moment: it only sets a field, and the loop notices it at its next check.

The reasons a search gives are the `STOP_*` names below; a result stopped by one
is not complete (`ExploreResult.stopped_by`), and `check` turns them into its
"incomplete (bounded by ...)" verdict.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from leaderfollower.checker.explore.result import Progress

STOP_MAX_SECONDS = "max-seconds"
STOP_MAX_STATES = "max-states"
STOP_MAX_DEPTH = "max-depth"
STOP_REQUESTED = "interrupted"
BUDGET_REASONS: frozenset[str] = frozenset({STOP_MAX_SECONDS, STOP_MAX_STATES, STOP_MAX_DEPTH})
"""The reasons that are a limit the caller set (as opposed to a violation or a stop request)."""


@dataclass
class Budget:
    """Limits of one search (None: no limit) and an outside request to stop it."""

    max_seconds: Optional[float] = None
    max_states: Optional[int] = None
    max_depth: Optional[int] = None
    requested: Optional[str] = field(default=None)
    """Why a stop was requested (for example "SIGINT"), once it was."""

    def __post_init__(self) -> None:
        for name in ("max_seconds", "max_states", "max_depth"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name.replace('_', '-')}: expected a non-negative number, got {value}")

    def request_stop(self, why: str) -> None:
        """Ask the search to stop at its next check (safe to call from a signal handler)."""
        if self.requested is None:
            self.requested = why

    def stop_reason(self, p: Progress) -> Optional[str]:
        """A reason to stop now, given where the search is (the loop asks every few thousand states)."""
        if self.requested is not None:
            return STOP_REQUESTED
        if self.max_seconds is not None and p.seconds >= self.max_seconds:
            return STOP_MAX_SECONDS
        return None

    def limit(self, reason: str) -> Optional[str]:
        """The limit behind a stop reason, as its option reads (`--max-states 1000`); None for other reasons."""
        value = {STOP_MAX_SECONDS: self.max_seconds, STOP_MAX_STATES: self.max_states, STOP_MAX_DEPTH: self.max_depth}.get(reason)
        if value is None:
            return None
        shown = f"{value:g}" if isinstance(value, float) else f"{value:,}"
        return f"--{reason} {shown}"
