"""The verdict of one property in one engine: one enum, shared by every job and document.

How this works: every engine reports each property with a `Status`; a member is its
own string in JSON documents (`"holds"`, `"violated"`, ...), so documents read as
before, and code compares members, never strings typed anew.  `Status.good` says
whether a status counts as success; docs/result-format.md describes each one.
"""
from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """A property's status in one engine (see docs/result-format.md)."""

    HOLDS = "holds"
    WITNESSED = "witnessed"
    VIOLATED = "violated"
    NEVER_WITNESSED = "never-witnessed"
    NO_VIOLATION_SO_FAR = "no-violation-so-far"
    NOT_WITNESSED_YET = "not-witnessed-yet"
    PROVED = "proved"
    HOLDS_EVERY_DEPTH = "holds-every-depth"
    HOLDS_TO_DEPTH = "holds-to-depth"
    UNPROVED = "unproved"
    CONFORMS = "conforms"
    DIVERGED = "diverged"

    @property
    def good(self) -> bool:
        """Whether this status counts as success."""
        return self in GOOD_STATUSES


GOOD_STATUSES: frozenset[Status] = frozenset(
    {Status.HOLDS, Status.WITNESSED, Status.PROVED, Status.HOLDS_EVERY_DEPTH, Status.HOLDS_TO_DEPTH, Status.CONFORMS}
)
"""Statuses that count as success; anything else (violated, never-witnessed, unproved, ...) fails."""
