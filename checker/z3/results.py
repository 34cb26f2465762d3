"""What an inductive proof reports: obligations, counterexamples to induction, the result per property.

Shared by the query builder (`obligations.py`), the solver (`solving.py`), the
worker pool (`isolation.py`), the parametric prover (`parametric/`) and the
`prove` job (`prove.py`); plain picklable dataclasses, so that a worker process
can send them back.
"""
from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Callable, Optional, cast

from leaderfollower.spec.actions import Action, ActionName
from leaderfollower.spec.state import State

ProgressFn = Callable[[str, int, int], None]
"""progress(what, done, total)."""

IMPLIED = cast(ActionName, "Implied")  # a pseudo-action, not a member of the table
"""The action name of a derived property's one obligation: the lemmas imply it in every state."""

STATUSES = ("proved", "failed", "unknown")
"""An obligation's status: proved (unsat), failed (a counterexample), unknown (timeout, memory, a worker lost)."""


@dataclass
class Cti:
    """A counterexample to induction: a pre-state satisfying the invariant, and a step breaking a lemma."""

    before: State
    action: Action
    after: State
    reachable: Optional[bool] = None
    """Whether the explorer reaches `before` within the spec's bounds (None: not checked)."""
    note: str = ""


@dataclass
class Obligation:
    """One query: `Init => lemma` (action None) or `Inv and action => lemma'`."""

    lemma: str
    action: Optional[str]
    status: str = "unknown"  # proved | failed | unknown
    seconds: float = 0.0
    cti: Optional[Cti] = None
    support: Optional[tuple[str, ...]] = None
    reason: str = ""
    """Why an obligation is unknown or where a result came from (timeout, memory limit, resumed, ...)."""
    hash: str = ""
    """The obligation's term hash (`obligations.term_hash`): the key of the resume file."""
    peak_rss_mb: float = 0.0
    """Peak resident memory of the process that solved it, in MB (0 when not measured)."""
    queries: int = 0
    """How many conjunct queries were solved: one per orbit under server permutations (0: not split, or resumed)."""
    instances: int = 0
    """How many (action instance, conjunct) pairs those queries stand for."""
    rlimit: int = 0
    """Z3's resource units of the obligation's largest decided query (parametric proofs; 0 when not measured):
    what its budget (`parametric.budget`) must cover."""

    def refute(self, found: Cti) -> None:
        """Fail the obligation with `found`, a counterexample from a reachable state, whatever Z3 answered.

        The reason says so: left as it was, a Z3 `unknown`'s reason (a timeout, the
        resource limit) would read as the cause of the failure."""
        reason = "a counterexample from a reachable state"
        if self.status == "unknown":
            reason += f"; Z3 alone answered unknown ({self.reason})" if self.reason else "; Z3 alone answered unknown"
        self.cti, self.status, self.reason = found, "failed", reason


@dataclass
class InductionResult:
    """Every obligation of one property's inductive proof."""

    property: str
    lemmas: tuple[str, ...]
    obligations: list[Obligation] = field(default_factory=list)
    seconds: float = 0.0
    servers: str = ""
    """How many servers the proof covers: a number, or "any" for the parametric encoding."""

    # The field `property` above shadows the builtin in this class body (for mypy;
    # at run time an annotation alone binds no name), hence `builtins.property`.
    @builtins.property
    def proved(self) -> bool:
        """Every obligation proved."""
        return all(o.status == "proved" for o in self.obligations)

    @builtins.property
    def failed(self) -> list[Obligation]:
        """The obligations with a counterexample."""
        return [o for o in self.obligations if o.status == "failed"]

    @builtins.property
    def peak_rss_mb(self) -> float:
        """The largest peak resident memory reported by a process that solved an obligation (MB)."""
        return max((o.peak_rss_mb for o in self.obligations), default=0.0)
