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
    NO_VIOLATION_FOUND = "no-violation-found"
    """The simulation's: no walk within its budget broke the property (not a proof)."""
    PROVED = "proved"
    HOLDS_EVERY_DEPTH = "holds-every-depth"
    HOLDS_TO_DEPTH = "holds-to-depth"
    UNPROVED = "unproved"
    CONFORMS = "conforms"
    CONFORMS_ON_SAMPLE = "conforms-on-sample"
    DIVERGED = "diverged"
    INCONCLUSIVE = "inconclusive"
    """A liveness property's: a fair violating cycle exists only because the bounds cut a fair action's successors."""
    SKIPPED = "skipped"
    """A liveness property's: not judged (no graph kept, an incomplete search); the row says why."""

    @property
    def good(self) -> bool:
        """Whether this status counts as success."""
        return self in GOOD_STATUSES


GOOD_STATUSES: frozenset[Status] = frozenset(
    {
        Status.HOLDS,
        Status.WITNESSED,
        Status.PROVED,
        Status.HOLDS_EVERY_DEPTH,
        Status.HOLDS_TO_DEPTH,
        Status.CONFORMS,
        Status.CONFORMS_ON_SAMPLE,
        Status.NO_VIOLATION_FOUND,
    }
)
"""Statuses that count as success; anything else (violated, never-witnessed, unproved, ...) fails.
`no-violation-found` (the simulation's), `holds-to-depth` and `conforms-on-sample` are not proofs
of everything: they say how far a bounded engine looked (its `covered` figure; the verdict line
lists them); docs/result-format.md says what each means."""
