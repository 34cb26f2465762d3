"""A minimal non-linearizable sub-history of one key: drop operations while the rest stays non-linearizable.

How this works.  Dropping operations from a non-linearizable history does not
always leave a witness of the original's violation: drop the put that wrote `a`
and a get that returned `a` is suddenly impossible, for a reason the original did
not have.  So only drops that cannot create a violation are made; for each, every
linearization of the larger history, with the operation taken out, is still a
linearization of the smaller one:

- a get can always go (it changes nothing);
- a put can go when no remaining get returned its value and no remaining delete
  answered "existed" (the only operations that could have observed it);
- a delete can go when no remaining get returned "absent" and no remaining delete
  answered "was absent";
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
from collections import Counter
from typing import Callable, Optional, Sequence

from .history import DELETE, GET, OK, PUT, Op
from .linearizability import DEFAULT_MAX_CONFIGS, NOT_LINEARIZABLE, search_key, searchable


class _Observers:
    """What the remaining operations observe: the values gets returned, and absent/existed answers."""

    def __init__(self, ops: Sequence[Op]) -> None:
        self.read_values: Counter[str] = Counter()
        self.absent_reads = 0
        self.existed_true = 0
        self.existed_false = 0
        for op in ops:
            self.add(op, 1)

    def add(self, op: Op, sign: int) -> None:
        if op.outcome != OK:
            return
        if op.kind == GET:
            if op.value is None:
                self.absent_reads += sign
            else:
                self.read_values[op.value] += sign
        elif op.kind == DELETE and op.existed is not None:
            if op.existed:
                self.existed_true += sign
            else:
                self.existed_false += sign

    def may_drop(self, op: Op) -> bool:
        """Whether `op` can be dropped from the remaining operations (it is already not counted)."""
        if op.kind == GET:
            return True
        if op.kind == PUT:
            return self.read_values[op.value or ""] == 0 and self.existed_true == 0
        return self.absent_reads == 0 and self.existed_false == 0


def _drop(ops: list[Op], chosen: set[int]) -> list[Op]:
    """`ops` without those of `chosen` that may go (gets first, then deletes, then puts)."""
    observers = _Observers(ops)
    dropped: set[int] = set()
    for kind in (GET, DELETE, PUT):
        for op in ops:
            if op.id in chosen and op.kind == kind:
                observers.add(op, -1)
                if observers.may_drop(op):
                    dropped.add(op.id)
                else:
                    observers.add(op, 1)
    return [op for op in ops if op.id not in dropped]


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
