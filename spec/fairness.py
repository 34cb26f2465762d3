"""Fairness: which actions a behaviour must eventually take, declared once per spec.

How this works: a `Fairness` names an action of the table (`spec/actions.py`), a kind
and how its instances are grouped:
- *weak* (TLA+ `WF_vars(A)`): if A stays enabled forever from some point on, A is
  taken infinitely often;
- *strong* (`SF_vars(A)`): if A is enabled infinitely often, it is taken infinitely often.

A is the action with every argument (`each=False`: one condition for the
disjunction over the arguments, `WF_vars(\\E args: Name(args))`), each argument
tuple on its own (`each=True`: `\\A args: WF_vars(Name(args))`; for a message
handler, one condition per message), or one given argument tuple (`args=(0, 1)`).
A spec's `fairness` (a `RaftSpec` class attribute) lists them; a variant overrides
the attribute to change them.  Faults (Timeout, Restart, DuplicateMessage,
DropMessage) are left unfair: a behaviour may take them or not.

"Enabled" is the spec's: an action is enabled in a state when its method returns a
successor there, whether or not the successor lies within the model's bounds
(checker/liveness/ says what a successor cut by the bounds does to a verdict).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from .actions import HANDLERS, Action, ActionName, Arg, action_def

FairnessKind = Literal["weak", "strong"]


@dataclass(frozen=True)
class Fairness:
    """One fairness declaration: an action (or its instances), weakly or strongly fair."""

    kind: FairnessKind
    action: str
    each: bool = False
    """One condition per argument tuple (per message, for a handler) instead of one for the action."""
    args: Optional[tuple[Arg, ...]] = None
    """Only the instance with these arguments (then `each` is irrelevant)."""

    def __post_init__(self) -> None:
        action_def(self.action)  # KeyError naming the known actions
        if self.kind not in ("weak", "strong"):
            raise ValueError(f"fairness of {self.action}: kind must be 'weak' or 'strong', got {self.kind!r}")

    def condition(self, label: Action) -> Optional[tuple[object, ...]]:
        """The fairness condition a transition label counts for under this declaration (None: none)."""
        if label.name != self.action:
            return None
        if self.args is not None:
            return (self,) if label.args == self.args else None
        return (self, label.args) if self.each else (self,)

    def __str__(self) -> str:
        which = f"{self.action}{self.args!r}" if self.args is not None else (f"each {self.action}" if self.each else self.action)
        return f"{'WF' if self.kind == 'weak' else 'SF'}({which})"

    @property
    def symmetric(self) -> bool:
        """The condition set is unchanged by renaming servers (no argument singled out or told apart)."""
        return self.args is None and not self.each


def weak(action: str, *, each: bool = False, args: Optional[tuple[Arg, ...]] = None) -> Fairness:
    """Weak fairness of an action (see `Fairness`)."""
    return Fairness("weak", action, each, args)


def strong(action: str, *, each: bool = False, args: Optional[tuple[Arg, ...]] = None) -> Fairness:
    """Strong fairness of an action (see `Fairness`)."""
    return Fairness("strong", action, each, args)


FAULTS: frozenset[str] = frozenset({ActionName.Timeout, ActionName.Restart, ActionName.DuplicateMessage, ActionName.DropMessage})
"""Actions that are faults: left unfair by `DEFAULT_FAIRNESS`."""

DEFAULT_FAIRNESS: tuple[Fairness, ...] = (
    # The servers' own protocol steps: a candidate asks for votes, a winner takes office,
    # a leader sends and commits.  Weak: each stays enabled until taken.
    weak(ActionName.RequestVote),
    weak(ActionName.BecomeLeader),
    weak(ActionName.AppendEntries),
    weak(ActionName.AdvanceCommitIndex),
    # Delivery: a message that can be handled infinitely often is handled.  Strong, because
    # the network may lose or duplicate messages (unfairly) so handling is not continuously enabled.
    *(strong(row.name) for row in HANDLERS),
)
"""raft.tla's fairness as checked by default: every protocol step fair, every fault unfair."""
