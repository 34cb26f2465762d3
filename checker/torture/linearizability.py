"""Linearizability of a key-value history: Wing and Gong's search with Lowe's memoisation, one key at a time.

How this works.  A history is linearizable if every operation can be given a
point between its invocation and its completion such that, taken in the order of
those points, the operations are a run of the sequential store.  The keys of the
store are independent registers, and linearizability is compositional (Herlihy
and Wing's locality; Horn and Kroening's P-compositionality, used by Porcupine and
Knossos), so each key's sub-history is checked on its own: a history is
linearizable if and only if each key's is.

For one key the search (Wing and Gong, 1993; Lowe's memoisation, 2017) walks a
doubly linked list of call and return events in time order.  At a call it tries
to linearize that operation now: if the register allows it (a get must return the
current value; a delete that answered `existed` must match), the operation's call
and return leave the list, the old state goes on a stack, and the walk restarts at
the front.  At a return, the operation it belongs to should have been linearized
already and was not: the last choice is undone (pop, put the events back) and the
walk goes on after it.  A configuration already seen (the set of linearized
operations, with the register's value) is not explored twice; that is
Lowe's cache, and it makes histories of tens of thousands of operations tractable.

Outcomes: an operation that answered is *definite*.  A read that did not answer
is dropped: it has no effect.  A write whose outcome is unknown (it raised, or
timed out) has a call and no return: it may be linearized at any point after its
invocation, or never, so the search succeeds once every definite operation is
linearized.  A search that hits its budget (configurations, or a deadline) says
"unknown", never "linearizable".

The register starts absent (a fresh cluster).  Written by hand: no maintained
Python library checks linearizability.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional, Sequence

from .history import DELETE, GET, OK, PUT, UNKNOWN, Op, by_key

LINEARIZABLE = "linearizable"
NOT_LINEARIZABLE = "not linearizable"
INCONCLUSIVE = "unknown"
"""The three verdicts: a linearization found, none exists, or the budget ran out first."""

DEFAULT_MAX_CONFIGS = 10_000_000
"""Configurations one key's search may cache before it gives up (about 2 GB)."""

_PUT, _GET, _DELETE = 0, 1, 2
_KIND_CODES = {PUT: _PUT, GET: _GET, DELETE: _DELETE}


@dataclass(frozen=True)
class SearchResult:
    """One key's search: its verdict, how many operations it took part in, how much it explored."""

    status: str
    ops: int
    """Operations searched (failed reads and unanswered reads dropped)."""
    unknown_writes: int
    configs: int
    """Distinct configurations cached (Lowe's memoisation)."""
    reason: str = ""
    """Why the search stopped early (status `unknown`)."""


@dataclass(frozen=True)
class KeyVerdict:
    """The verdict for one key's sub-history."""

    key: str
    result: SearchResult
    seconds: float


@dataclass(frozen=True)
class HistoryVerdict:
    """The verdict for a whole history: linearizable iff every key's is (unknown if any key's search gave up)."""

    keys: tuple[KeyVerdict, ...]
    dropped: int
    """Operations left out: failed operations, and reads whose outcome is unknown."""
    seconds: float
    status: str = field(init=False)

    def __post_init__(self) -> None:
        statuses = {k.result.status for k in self.keys}
        status = (NOT_LINEARIZABLE if NOT_LINEARIZABLE in statuses
                  else INCONCLUSIVE if INCONCLUSIVE in statuses else LINEARIZABLE)
        object.__setattr__(self, "status", status)

    @property
    def failing(self) -> list[KeyVerdict]:
        """The keys whose sub-history is not linearizable."""
        return [k for k in self.keys if k.result.status == NOT_LINEARIZABLE]


def searchable(op: Op) -> bool:
    """Whether an operation takes part in the search: answered operations, and writes of unknown outcome."""
    return op.outcome == OK or (op.outcome == UNKNOWN and op.is_write)


def search_key(ops: Sequence[Op], initial: Optional[str] = None, max_configs: int = DEFAULT_MAX_CONFIGS,
               deadline: Optional[float] = None) -> SearchResult:
    """Whether the operations on ONE key are linearizable against a register starting at `initial`.

    `ops` may contain operations that do not take part (failed, unanswered reads):
    they are dropped here.  `deadline` is a `time.monotonic()` value.
    """
    return _KeySearch(ops, initial, max_configs, deadline).run()


class _KeySearch:
    """One key's Wing-Gong walk: the operations, the list of their events, the configuration and the undo stack."""

    def __init__(self, ops: Sequence[Op], initial: Optional[str], max_configs: int, deadline: Optional[float]) -> None:
        self.max_configs = max_configs
        self.deadline = deadline
        self._prepare_operations(sorted((op for op in ops if searchable(op)), key=lambda o: (o.invoke, o.id)))
        self._prepare_events()
        # A configuration is the set of linearized operations and the register's value.
        # The definite operations' set is kept compact and exact: every slot below
        # `base` is linearized, and bit j of `window` is slot base + j.  The search
        # linearizes roughly in call order, so `window` stays a few bits wide however
        # long the history (a plain bitset cost 13 GB at 100,000 operations on one key).
        # `unknown`, `lazy_put`, `lazy_del`: bitsets of the unknown writes linearized.
        self.state = initial
        self.base = self.window = self.unknown = self.lazy_put = self.lazy_del = 0
        self.cache: set[tuple[int, int, int, int, int, Optional[str]]] = set()
        self.stack: list[tuple[int, Optional[str], int, int, int, int, int]] = []  # (call event, what it replaced)

    def _prepare_operations(self, ops: list[Op]) -> None:
        n = self.n = len(ops)
        self.kinds = kinds = [_KIND_CODES[op.kind] for op in ops]
        self.values = values = [op.value for op in ops]
        self.existed = [op.existed if op.outcome == OK else None for op in ops]
        self.definite = definite = [op.outcome == OK for op in ops]
        self.invoke = [op.invoke for op in ops]
        self.complete = [op.complete for op in ops]
        read_values = {op.value for op in ops if op.kind == GET and op.outcome == OK}
        # Readers still to be linearized, for the values exactly one put writes: once
        # such a value is overwritten it never comes back, so a write over it while a
        # get of it is pending leads nowhere and is not tried (a dead branch cut early).
        written = Counter(values[i] for i in range(n) if kinds[i] == _PUT)
        self.waiting: dict[Optional[str], int] = Counter(
            op.value for op in ops if op.kind == GET and op.outcome == OK and written[op.value] == 1)
        # Which pool an operation is in: the definite ones and the unknown puts whose
        # value some get returned take part in the walk; the other unknown writes are
        # lazy (see the comment above `_take_lazy`).
        self.pool = [_WALK if definite[i] or (kinds[i] == _PUT and values[i] in read_values)
                     else _LAZY_PUT if kinds[i] == _PUT else _LAZY_DELETE for i in range(n)]
        self.slots: list[int] = []  # an operation's bit in its pool's bitset
        counts = [0, 0, 0, 0]
        for i in range(n):
            which = _DEFINITE if definite[i] else self.pool[i]
            self.slots.append(counts[which])
            counts[which] += 1
        self.remaining = counts[_DEFINITE]
        self.unknown_writes = n - self.remaining

    def _prepare_events(self) -> None:
        # Events in time order; at equal times calls come first, so that operations
        # that touch at an instant count as concurrent (the lenient reading).
        events: list[tuple[int, int, int]] = []
        for i in range(self.n):
            events.append((self.invoke[i], 0, i))
            if self.definite[i]:
                events.append((self.complete[i], 1, i))
        events.sort()
        m = len(events)
        self.head = m  # the sentinel before the first event
        self.ev_op = [e[2] for e in events]
        self.ev_call = [e[1] == 0 for e in events]
        self.ret_of = [-1] * self.n  # op -> index of its return event
        self.lazy_calls: tuple[list[int], list[int]] = ([], [])  # the lazy puts' and deletes' call events, in order
        for index, (_, is_return, i) in enumerate(events):
            if is_return:
                self.ret_of[i] = index
            elif self.pool[i] != _WALK:
                self.lazy_calls[self.pool[i] - _LAZY_PUT].append(index)
        # The list of the walk: event i is followed by nxt[i] (-1: none); index m is
        # the head sentinel.  Lazy writes are not in it.
        self.nxt = [-1] * (m + 1)
        self.prv = [-1] * (m + 1)
        before = self.head
        for index in range(m):
            if self.pool[self.ev_op[index]] == _WALK:
                self.nxt[before], self.prv[index] = index, before
                before = index

    def run(self) -> SearchResult:
        """Walk the list until every definite operation is linearized, or no order is left to try."""
        nxt, ev_call = self.nxt, self.ev_call
        e = nxt[self.head]
        steps = 0
        while self.remaining:
            steps += 1
            if not steps & 0xFFF and self.deadline is not None and time.monotonic() > self.deadline:
                return self._result(INCONCLUSIVE, "ran out of time")
            if ev_call[e]:
                if self._linearize(e):
                    e = nxt[self.head]
                else:
                    e = nxt[e]
                if len(self.cache) > self.max_configs:
                    return self._result(INCONCLUSIVE, f"more than {self.max_configs:,} configurations")
            elif not self.stack:
                # The return of an operation not yet linearized, and no choice left to undo.
                return self._result(NOT_LINEARIZABLE)
            else:
                e = nxt[self._undo()]
        return self._result(LINEARIZABLE)

    def _result(self, status: str, reason: str = "") -> SearchResult:
        return SearchResult(status, self.n, self.unknown_writes, len(self.cache), reason)

    def _register(self, e: int, i: int) -> Optional[tuple[Optional[str], int, int]]:
        """The register after operation i at call event e: (value, lazy puts, lazy deletes), or None if it cannot go now."""
        kind, state, value = self.kinds[i], self.state, self.values[i]
        lazy_put, lazy_del = self.lazy_put, self.lazy_del
        if kind != _GET and self.waiting.get(state):
            return None  # overwriting a value some pending get returned
        if kind == _PUT:
            return value, lazy_put, lazy_del
        if kind == _GET:
            if state == value:
                return state, lazy_put, lazy_del
            if value is None and not self.waiting.get(state):
                # A lazy delete just before this get would make it right.
                new_del = _take_lazy(lazy_del, self.lazy_calls[1], e, self.nxt, self.ev_call)
                return (None, lazy_put, new_del) if new_del != lazy_del else None
            return None
        was = self.existed[i]
        if was is None or was == (state is not None):
            return None, lazy_put, lazy_del
        if was:  # it deleted something: a lazy put just before it
            new_put = _take_lazy(lazy_put, self.lazy_calls[0], e, self.nxt, self.ev_call)
            return (None, new_put, lazy_del) if new_put != lazy_put else None
        new_del = _take_lazy(lazy_del, self.lazy_calls[1], e, self.nxt, self.ev_call)  # it found nothing: a lazy delete
        return (None, lazy_put, new_del) if new_del != lazy_del else None

    def _linearize(self, e: int) -> bool:
        """Linearize the operation called at e now, if the register allows it and the configuration is new."""
        i = self.ev_op[e]
        after = self._register(e, i)
        if after is None:
            return False
        new_state, new_put, new_del = after
        base, window, unknown = self.base, self.window, self.unknown
        if self.definite[i]:
            window |= 1 << (self.slots[i] - base)
            ones = (~window & (window + 1)).bit_length() - 1  # trailing ones
            window >>= ones
            base += ones
        else:
            unknown |= 1 << self.slots[i]
        config = (base, window, unknown, new_put, new_del, new_state)
        if config in self.cache:
            return False
        self.cache.add(config)
        self.stack.append((e, self.state, self.base, self.window, self.unknown, self.lazy_put, self.lazy_del))
        if self.kinds[i] == _GET and self.values[i] in self.waiting:
            self.waiting[self.values[i]] -= 1
        self.state, self.base, self.window, self.unknown, self.lazy_put, self.lazy_del = (
            new_state, base, window, unknown, new_put, new_del)
        # Lift the operation: its call and return leave the list.
        self._unlink(e)
        r = self.ret_of[i]
        if r != -1:
            self._unlink(r)
            self.remaining -= 1
        return True

    def _undo(self) -> int:
        """Take back the last linearized operation (its events return to the list); its call event."""
        e, self.state, self.base, self.window, self.unknown, self.lazy_put, self.lazy_del = self.stack.pop()
        i = self.ev_op[e]
        if self.kinds[i] == _GET and self.values[i] in self.waiting:
            self.waiting[self.values[i]] += 1
        r = self.ret_of[i]
        if r != -1:
            self._relink(r)
            self.remaining += 1
        self._relink(e)
        return e

    def _unlink(self, x: int) -> None:
        p, q = self.prv[x], self.nxt[x]
        self.nxt[p] = q
        if q != -1:
            self.prv[q] = p

    def _relink(self, x: int) -> None:
        p, q = self.prv[x], self.nxt[x]
        self.nxt[p] = x
        if q != -1:
            self.prv[q] = x


# Lazy writes, and why they may wait.  A write of unknown outcome either never
# happened or happened at some point after its invocation.  A put whose value no get
# returned can only be observed by the next write, if that is a delete that answered
# "existed" (a get would have returned its value; a put overwrites it): so it can be
# taken as never having happened, or as happening just before such a delete.
# Likewise a delete of unknown outcome matters only to a get that returned "absent"
# or a delete that answered "was absent", and can wait until just before the first
# of them that needs it.  So the walk leaves these writes out, and when a get or
# delete needs one, it takes the earliest unused one invoked before the walk's first
# pending return: they are interchangeable (same effect, all still available later),
# so there is no choice to branch on.
_WALK, _LAZY_PUT, _LAZY_DELETE, _DEFINITE = 0, 1, 2, 3


def _take_lazy(used: int, calls: list[int], e: int, nxt: list[int], ev_call: list[bool]) -> int:
    """`used` with the earliest unused lazy write that may go before the call at `e`; `used` if there is none."""
    earliest = (~used & (used + 1)).bit_length() - 1  # the lowest unused slot
    if earliest >= len(calls):
        return used
    # It may go here if it was invoked before the first return still pending
    # (the walk has passed only calls, so that return lies at or after `e`).
    r = e
    while ev_call[r]:
        r = nxt[r]
    return used | (1 << earliest) if calls[earliest] < r else used


def check_history(ops: Sequence[Op], max_configs: int = DEFAULT_MAX_CONFIGS,
                  time_limit: Optional[float] = None) -> HistoryVerdict:
    """Check every key's sub-history (keys in sorted order); `time_limit` in seconds for the whole history."""
    started = time.monotonic()
    deadline = None if time_limit is None else started + time_limit
    verdicts = []
    for key, key_ops in by_key(ops).items():
        t0 = time.monotonic()
        result = search_key(key_ops, max_configs=max_configs, deadline=deadline)
        verdicts.append(KeyVerdict(key, result, time.monotonic() - t0))
    dropped = sum(1 for op in ops if not searchable(op))
    return HistoryVerdict(tuple(verdicts), dropped, time.monotonic() - started)
