"""A minimal non-linearizable sub-history of one key: drop operations while the rest stays non-linearizable.

How this works.  Dropping operations from a non-linearizable history does not
always leave a witness of the original's violation: drop the put that wrote `a`
and a get that returned `a` is suddenly impossible, for a reason the original did
not have.  So only drops that cannot create a violation are made; for each, every
linearization of the larger history, with the operation taken out, is still a
linearization of the smaller one:

- a get can always go (it changes nothing);
- a write can go when nothing remaining could have observed it: a get of its
  value or a delete answering "existed" (for a put), a get of "absent" or a delete
  answering "was absent" (for a delete), unless that operation completed before
  the write began, or a write that stays certainly lies between the two (a get
  that returned a put's value always observes that put);
- a delete's answer can be forgotten (`existed` made unknown): a weaker claim.

Whatever survives is therefore non-linearizable *because the original was*.  The
drops are tried in halves, then quarters, and so on down to one operation at a
time, until no single drop or forgetting keeps the history non-linearizable
(1-minimal, as delta debugging calls it).  Writes of unknown outcome are dropped
by the same rules (they may not have happened at all).
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
    """Definite writes that stay, to tell when one certainly falls between two operations."""

    def __init__(self, writes: Sequence[Op]) -> None:
        ordered = sorted(writes, key=lambda w: w.invoke)
        self.invokes = [w.invoke for w in ordered]
        # suffix_min[k]: the earliest completion among the writes from k on (by invocation)
        self.suffix_min = [0] * (len(ordered) + 1)
        self.suffix_min[-1] = 1 << 62
        for k in range(len(ordered) - 1, -1, -1):
            self.suffix_min[k] = min(ordered[k].complete, self.suffix_min[k + 1])

    def screen(self, a: Op) -> int:
        """The earliest completion of a write invoked after `a` completed: an operation invoked later than
        this has a write certainly between it and `a`."""
        return self.suffix_min[bisect.bisect_right(self.invokes, a.complete)]


class _ByInvoke:
    """Operations sorted by invocation, with the two latest completions among each prefix."""

    def __init__(self, ops: Sequence[Op]) -> None:
        ordered = sorted(ops, key=lambda o: o.invoke)
        self.invokes = [o.invoke for o in ordered]
        self.top: list[tuple[tuple[int, int], tuple[int, int]]] = []  # ((complete, id) best, second-best)
        none = (-1, -1)
        best, second = none, none
        for o in ordered:
            entry = (o.complete, o.id)
            if entry > best:
                best, second = entry, best
            elif entry > second:
                second = entry
            self.top.append((best, second))

    def reaches(self, w: Op, invoked_by: int) -> bool:
        """Whether an operation other than `w`, invoked by `invoked_by`, completed at or after `w` began."""
        k = bisect.bisect_right(self.invokes, invoked_by)
        if k == 0:
            return False
        best, second = self.top[k - 1]
        latest = best if best[1] != w.id else second
        return latest[0] >= w.invoke


class _Observers:
    """The remaining operations that could observe a write: gets by the value they returned; answers of
    "absent" (gets of nothing, deletes that found nothing); answers of "existed"."""

    def __init__(self, ops: Sequence[Op]) -> None:
        self.readers: dict[str, list[Op]] = {}
        absent, existed = [], []
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

    def could_see(self, w: Op, separators: _Separators) -> bool:
        """Whether a remaining operation could be linearized right after write `w` and observe it.

        It cannot if it completed before `w` began, or if it began after some
        write that stays had certainly come after `w` (`separators.screen`).  A get
        that returned a put's value observes that put in any case.
        """
        if w.kind == PUT:
            if any(o.complete >= w.invoke for o in self.readers.get(w.value or "", ())):
                return True
            return self.existed.reaches(w, separators.screen(w))
        return self.absent.reaches(w, separators.screen(w))


def _drop(ops: list[Op], chosen: set[int]) -> list[Op]:
    """`ops` without those of `chosen` that may go (every get; writes nothing remaining could observe).

    Repeated until nothing more goes: a write dropped in one round may have been
    the only observer that kept another one.
    """
    kept = [op for op in ops if not (op.id in chosen and op.kind == GET)]
    # Only writes that surely stay may separate a dropped write from an observer.
    separators = _Separators([op for op in kept if op.outcome == OK and op.is_write and op.id not in chosen])
    while True:
        observers = _Observers(kept)
        dropped = {op.id for op in kept if op.id in chosen and op.is_write and not observers.could_see(op, separators)}
        if not dropped:
            return kept
        kept = [op for op in kept if op.id not in dropped]


def _forget(ops: list[Op], chosen: set[int]) -> list[Op]:
    """`ops` with the answers of the chosen deletes made unknown."""
    return [dataclasses.replace(op, existed=None) if op.id in chosen and op.kind == DELETE else op for op in ops]


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
    while True:
        before = current
        for move in (_drop, _forget):
            current = _minimise(current, move, failing, deadline)
        if current == before:
            return Witness(current, deadline is None or time.monotonic() <= deadline)


def _minimise(current: list[Op], move: Callable[[list[Op], set[int]], list[Op]],
              failing: Callable[[list[Op]], bool], deadline: Optional[float]) -> list[Op]:
    chunk = max(1, len(current) // 2)
    while True:
        changed = False
        start = 0
        while start < len(current):
            if deadline is not None and time.monotonic() > deadline:
                return current
            chosen = {op.id for op in current[start:start + chunk]}
            candidate = move(current, chosen)
            if candidate != current and failing(candidate):
                current = candidate
                changed = True
            else:
                start += chunk
        if chunk == 1 and not changed:
            return current
        if not changed or chunk > 1:
            chunk = max(1, chunk // 2)
