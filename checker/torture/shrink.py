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
import time
import bisect
from typing import Callable, Optional, Sequence

from .history import DELETE, GET, OK, PUT, Op
from .linearizability import DEFAULT_MAX_CONFIGS, NOT_LINEARIZABLE, search_key, searchable


def _observes(op: Op, writer: Op) -> bool:
    """Whether definite `op` could observe `writer` as the last write before it (a read of its value, or of
    "absent" after a delete; a delete's "existed" after a put, or "was absent" after a delete)."""
    if op.outcome != OK:
        return False
    if op.kind == GET:
        return op.value == writer.value if writer.kind == PUT else op.value is None
    if op.kind == DELETE and op.existed is not None:
        return op.existed == (writer.kind == PUT)
    return False


class _Separators:
    """Definite writes that certainly fall between two operations (`between(a, b)`), from a fixed set."""

    def __init__(self, writes: Sequence[Op]) -> None:
        self.writes = sorted(writes, key=lambda w: w.invoke)
        self.invokes = [w.invoke for w in self.writes]
        # suffix_min[k]: the earliest completion among writes k.. (by invocation)
        self.suffix_min = [0] * (len(self.writes) + 1)
        self.suffix_min[-1] = 1 << 62
        for k in range(len(self.writes) - 1, -1, -1):
            self.suffix_min[k] = min(self.writes[k].complete, self.suffix_min[k + 1])

    def between(self, a: Op, b: Op) -> bool:
        """Whether some write began after `a` completed and completed before `b` began."""
        return self.suffix_min[bisect.bisect_right(self.invokes, a.complete)] < b.invoke


def _may_drop(op: Op, observers: Sequence[Op], separators: _Separators) -> bool:
    """Whether dropping write `op` keeps every linearization valid: nothing remaining could observe it.

    An observer could see `op` only if it may be linearized right after it with no
    write in between; it cannot if it completed before `op` began, or if a definite
    write certainly lies between them.
    """
    for o in observers:
        if o.id != op.id and _observes(o, op) and not o.complete < op.invoke:
            if o.kind == GET and op.kind == PUT:
                return False  # the value read names this very put
            if not separators.between(op, o):
                return False
    return True


def _drop(ops: list[Op], chosen: set[int]) -> list[Op]:
    """`ops` without those of `chosen` that may go (every get; writes nothing remaining could observe)."""
    kept = [op for op in ops if not (op.id in chosen and op.kind == GET)]
    observers = [op for op in kept if op.outcome == OK and (op.kind == GET or op.existed is not None)]
    # Only writes that surely stay may separate a dropped write from an observer.
    separators = _Separators([op for op in kept if op.outcome == OK and op.is_write and op.id not in chosen])
    dropped = {op.id for op in kept if op.id in chosen and op.is_write and _may_drop(op, observers, separators)}
    return [op for op in kept if op.id not in dropped]


def _forget(ops: list[Op], chosen: set[int]) -> list[Op]:
    """`ops` with the answers of the chosen deletes made unknown."""
    return [dataclasses.replace(op, existed=None) if op.id in chosen and op.kind == DELETE else op for op in ops]


def shrink(ops: Sequence[Op], max_configs: int = DEFAULT_MAX_CONFIGS, time_limit: Optional[float] = 60.0) -> list[Op]:
    """A 1-minimal non-linearizable sub-history of `ops` (one key's operations, which must be non-linearizable).

    Returns the operations in invocation order.  If `time_limit` seconds pass first,
    the smallest witness found so far is returned (still non-linearizable, perhaps
    not minimal).
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
            return current


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
