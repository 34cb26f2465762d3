"""A minimal non-linearizable sub-history of one key: drop operations while the rest stays non-linearizable.

How this works.  Dropping operations from a non-linearizable history does not
always leave a witness of the original's violation: drop the put that wrote `a`
and a get that returned `a` is suddenly impossible, for a reason the original did
not have.  The witness W this module returns has a stronger property: W, with
any of the dropped operations added back, is still not linearizable (so the
violation is in W, whatever else happened).  Two kinds of steps keep it:

- weakening an observer: a get can always go, and a delete's answer ("existed"
  or "was absent") can always be forgotten; both only make linearizing easier;
- dropping a write that nothing remaining could have observed: a get of its value
  or a delete answering "existed" (for a put), a get of "absent" or a delete
  answering "was absent" (for a delete).  An operation cannot observe a write if
  it completed before the write began, or if a definite write certainly lies
  between them; that write is then pinned (never dropped later), because the drop
  relied on it.  A get that returned a put's value always observes that put.
  Writes that observe only each other (two deletes that both answered "was
  absent") go together.

Observers are weakened first, so that few remain to keep writes from going.
Each kind of step is tried on halves of the operations, then quarters, down to
one at a time, from the end of the history backwards, until no single step keeps
the history non-linearizable (1-minimal, as delta debugging calls it).  A
Hypothesis test checks the property above on random histories against a brute
force.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
import time
import bisect
from typing import Callable, Optional, Sequence

from .history import DELETE, GET, OK, PUT, Op
from .linearizability import DEFAULT_MAX_CONFIGS, NOT_LINEARIZABLE, search_key, searchable


class _Separators:
    """Definite writes, to find one that certainly falls between two operations."""

    def __init__(self, writes: Sequence[Op]) -> None:
        self.writes = sorted(writes, key=lambda w: w.invoke)
        self.invokes = [w.invoke for w in self.writes]

    def between(self, a: Op, before: int) -> Optional[Op]:
        """The latest-invoked write that began after `a` completed and completed before time `before`, if any.

        The latest, so that the writes a drop relies on are the ones closest to
        the observers, which a witness tends to need anyway.
        """
        low = bisect.bisect_right(self.invokes, a.complete)
        for k in range(bisect.bisect_left(self.invokes, before) - 1, low - 1, -1):
            if self.writes[k].complete < before:
                return self.writes[k]
        return None


class _ByInvoke:
    """Operations sorted by invocation, to find the earliest-invoked one that completes at or after a time."""

    def __init__(self, ops: Sequence[Op]) -> None:
        self.ops = sorted(ops, key=lambda o: o.invoke)
        self.prefix_max: list[int] = []  # the latest completion among ops[:k + 1]
        latest = -1
        for o in self.ops:
            latest = max(latest, o.complete)
            self.prefix_max.append(latest)

    def earliest_reaching(self, w: Op) -> Optional[Op]:
        """The earliest-invoked operation other than `w` that completed at or after `w` began."""
        for k in range(bisect.bisect_left(self.prefix_max, w.invoke), len(self.ops)):
            o = self.ops[k]
            if o.complete >= w.invoke and o.id != w.id:
                return o
        return None


class _Observers:
    """The remaining operations that could observe a write: gets by the value they returned; answers of
    "absent" (gets of nothing, deletes that found nothing); answers of "existed"."""

    def __init__(self, ops: Sequence[Op]) -> None:
        self.readers: dict[str, list[Op]] = {}
        absent: list[Op] = []
        existed: list[Op] = []
        for op in ops:
            if op.outcome != OK:
                continue
            if op.kind == GET:
                if op.value is None:
                    absent.append(op)
                else:
                    self.readers.setdefault(op.value, []).append(op)
            elif op.kind == DELETE and op.existed is not None:
                (existed if op.existed else absent).append(op)
        self.absent = _ByInvoke(absent)
        self.existed = _ByInvoke(existed)

    def blocking(self, w: Op, separators: Optional[_Separators]) -> tuple[bool, Optional[Op]]:
        """Whether a remaining operation could be linearized right after write `w` and observe it; if not,
        the write that certainly lies between `w` and every operation that could otherwise (None: none could).

        An operation cannot observe `w` if it completed before `w` began, or began
        after a write that stays had certainly come after `w`.  A get that returned
        a put's value observes that put in any case.
        """
        if w.kind == PUT and any(o.complete >= w.invoke for o in self.readers.get(w.value or "", ())):
            return True, None
        first = (self.existed if w.kind == PUT else self.absent).earliest_reaching(w)
        if first is None:
            return False, None
        separator = None if separators is None else separators.between(w, first.invoke)
        return separator is None, separator


def _drop(ops: list[Op], chosen: set[int]) -> tuple[list[Op], set[int]]:
    """`ops` without the writes of `chosen` that may go, and the writes that must stay for good because a drop
    relied on them lying in between.

    The largest group of chosen writes that nothing
    outside the group could observe goes at once (two deletes that both answered
    "was absent" may observe each other, and go together).  When no write goes
    that way, one write goes that only a write in between keeps from being
    observed (that write is returned, to stay for good, and is not dropped here
    either), and the groups are tried again.
    """
    kept = list(ops)
    left = {op.id for op in kept if op.id in chosen and op.is_write}
    pins: set[int] = set()
    while left:
        group = set(left)
        while group:
            outside = _Observers([op for op in kept if op.id not in group])
            seen = {op.id for op in kept if op.id in group and outside.blocking(op, None)[0]}
            if not seen:
                break
            group -= seen
        if group:
            kept = [op for op in kept if op.id not in group]
            left -= group
            continue
        observers = _Observers(kept)
        separators = _Separators([op for op in kept if op.outcome == OK and op.is_write])
        for op in kept:
            if op.id in left:
                blocked, separator = observers.blocking(op, separators)
                if not blocked and separator is not None:
                    kept = [o for o in kept if o.id != op.id]
                    left -= {op.id, separator.id}
                    pins.add(separator.id)
                    break
        else:
            break
    return kept, pins


def _weaken(ops: list[Op], chosen: set[int]) -> tuple[list[Op], set[int]]:
    """`ops` without the chosen gets and with the chosen deletes' answers forgotten (nothing to pin)."""
    return [dataclasses.replace(op, existed=None) if op.id in chosen and op.kind == DELETE else op
            for op in ops if not (op.id in chosen and op.kind == GET)], set()


def _observer(op: Op) -> bool:
    return op.kind == GET or (op.kind == DELETE and op.existed is not None)


@dataclass(frozen=True)
class Witness:
    """A non-linearizable sub-history, in invocation order; `minimal` unless shrinking ran out of time."""

    ops: list[Op]
    minimal: bool


def shrink(ops: Sequence[Op], max_configs: int = DEFAULT_MAX_CONFIGS, time_limit: Optional[float] = 60.0) -> Witness:
    """A 1-minimal non-linearizable sub-history of `ops` (one key's operations, which must be non-linearizable).

    If `time_limit` seconds pass first, the smallest witness found so far is
    returned (still non-linearizable and still a witness, `minimal` False).
    """
    deadline = None if time_limit is None else time.monotonic() + time_limit
    current = sorted((op for op in ops if searchable(op)), key=lambda o: (o.invoke, o.id))

    def failing(candidate: list[Op]) -> bool:
        return search_key(candidate, max_configs=max_configs).status == NOT_LINEARIZABLE

    if not failing(current):
        raise ValueError("shrink needs a non-linearizable history")
    pinned: set[int] = set()
    while True:
        before = current
        for move in (_weaken, _drop):
            current = _minimise(current, move, failing, deadline, pinned)
        if current == before:
            return Witness(current, deadline is None or time.monotonic() <= deadline)


def _minimise(current: list[Op], move: Callable[[list[Op], set[int]], tuple[list[Op], set[int]]],
              failing: Callable[[list[Op]], bool], deadline: Optional[float], pinned: set[int]) -> list[Op]:
    """Apply `move` to chunks of `current` (halves, quarters, ... single operations) while the result stays
    non-linearizable; `pinned` (updated) are writes a drop relied on, never dropped later.

    Chunks are taken from the end backwards: the later operations (often
    observers of earlier writes) go first, so that fewer drops of earlier writes
    have to rely on a write in between, which would then have to stay.
    """
    chunk = max(1, len(current) // 2)
    while True:
        changed = False
        chunk = min(chunk, max(1, len(current) // 2))
        # Only the operations the move can change: a chunk without any is skipped at no cost.
        ids = [op.id for op in current if (op.is_write if move is _drop else _observer(op))]
        for end in range(len(ids), 0, -chunk):
            if deadline is not None and time.monotonic() > deadline:
                return current
            chosen = set(ids[max(0, end - chunk):end]) - pinned
            if not chosen:
                continue
            candidate, pins = move(current, chosen)
            if candidate != current and failing(candidate):
                current = candidate
                pinned |= pins
                changed = True
        if chunk == 1 and not changed:
            return current
        if not changed or chunk > 1:
            chunk = max(1, chunk // 2)
