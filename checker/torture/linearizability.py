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
    ops = sorted((op for op in ops if searchable(op)), key=lambda o: (o.invoke, o.id))
    n = len(ops)
    kinds = [_KIND_CODES[op.kind] for op in ops]
    values = [op.value for op in ops]
    existed = [op.existed if op.outcome == OK else None for op in ops]
    definite = [op.outcome == OK for op in ops]
    read_values = {op.value for op in ops if op.kind == GET and op.outcome == OK}
    # Readers still to be linearized, for the values exactly one put writes: once
    # such a value is overwritten it never comes back, so a write over it while a
    # get of it is pending leads nowhere and is not tried (a dead branch cut early).
    written = Counter(values[i] for i in range(n) if kinds[i] == _PUT)
    waiting: dict[Optional[str], int] = Counter(op.value for op in ops if op.kind == GET and op.outcome == OK
                                                and written[op.value] == 1)
    # Which pool an operation is in: the definite ones and the unknown puts whose
    # value some get returned take part in the walk; the other unknown writes are
    # lazy (see the comment above `_take_lazy`).
    pool = [_WALK if definite[i] or (kinds[i] == _PUT and values[i] in read_values)
            else _LAZY_PUT if kinds[i] == _PUT else _LAZY_DELETE for i in range(n)]
    slots: list[int] = []  # an operation's bit in its pool's bitset
    counts = [0, 0, 0, 0]
    for i in range(n):
        which = _DEFINITE if definite[i] else pool[i]
        slots.append(counts[which])
        counts[which] += 1
    remaining = counts[_DEFINITE]
    unknown_writes = n - remaining

    # Events in time order; at equal times calls come first, so that operations
    # that touch at an instant count as concurrent (the lenient reading).
    events: list[tuple[int, int, int]] = []
    for i, op in enumerate(ops):
        events.append((op.invoke, 0, i))
        if definite[i]:
            events.append((op.complete, 1, i))
    events.sort()
    m = len(events)
    head = m  # the sentinel before the first event
    ev_op = [e[2] for e in events]
    ev_call = [e[1] == 0 for e in events]
    ret_of = [-1] * n  # op -> index of its return event
    lazy_calls: tuple[list[int], list[int]] = ([], [])  # the lazy puts' and deletes' call events, in order
    for index, (_, is_return, i) in enumerate(events):
        if is_return:
            ret_of[i] = index
        elif pool[i] != _WALK:
            lazy_calls[pool[i] - _LAZY_PUT].append(index)
    # The list of the walk: event i is followed by nxt[i] (-1: none); index m is
    # the head sentinel.  Lazy writes are not in it.
    walk = [index for index in range(m) if pool[ev_op[index]] == _WALK]
    nxt = [-1] * (m + 1)
    prv = [-1] * (m + 1)
    before = head
    for index in walk:
        nxt[before], prv[index] = index, before
        before = index

    # A configuration is the set of linearized operations and the register's value.
    # The definite operations' set is kept compact and exact: every slot below
    # `base` is linearized, and bit j of `window` is slot base + j.  The search
    # linearizes roughly in call order, so `window` stays a few bits wide however
    # long the history (a plain bitset cost 13 GB at 100,000 operations on one key).
    # `unknown`, `lazy_put`, `lazy_del`: bitsets of the unknown writes linearized.
    state = initial
    base = window = unknown = lazy_put = lazy_del = 0
    cache: set[tuple[int, int, int, int, int, Optional[str]]] = set()
    stack: list[tuple[int, Optional[str], int, int, int, int, int]] = []  # (call event, what it replaced)
    e = nxt[head]
    steps = 0
    while remaining:
        steps += 1
        if not steps & 0xFFF and deadline is not None and time.monotonic() > deadline:
            return SearchResult(INCONCLUSIVE, n, unknown_writes, len(cache), "ran out of time")
        if ev_call[e]:
            i = ev_op[e]
            kind = kinds[i]
            new_put, new_del = lazy_put, lazy_del
            if kind != _GET and waiting.get(state):
                allowed, new_state = False, state  # overwriting a value some pending get returned
            elif kind == _PUT:
                allowed, new_state = True, values[i]
            elif kind == _GET:
                allowed, new_state = state == values[i], state
                if not allowed and values[i] is None and not waiting.get(state):
                    # A lazy delete just before this get would make it right.
                    new_del = _take_lazy(lazy_del, lazy_calls[1], e, nxt, ev_call)
                    allowed, new_state = new_del != lazy_del, None
            else:
                was = existed[i]
                allowed, new_state = was is None or was == (state is not None), None
                if not allowed and was:
                    new_put = _take_lazy(lazy_put, lazy_calls[0], e, nxt, ev_call)
                    allowed = new_put != lazy_put
                elif not allowed:
                    new_del = _take_lazy(lazy_del, lazy_calls[1], e, nxt, ev_call)
                    allowed = new_del != lazy_del
            if allowed:
                new_base, new_window, new_unknown = base, window, unknown
                if definite[i]:
                    new_window |= 1 << (slots[i] - base)
                    ones = (~new_window & (new_window + 1)).bit_length() - 1  # trailing ones
                    new_window >>= ones
                    new_base += ones
                else:
                    new_unknown |= 1 << slots[i]
                config = (new_base, new_window, new_unknown, new_put, new_del, new_state)
                if config not in cache:
                    cache.add(config)
                    if len(cache) > max_configs:
                        return SearchResult(INCONCLUSIVE, n, unknown_writes, len(cache),
                                            f"more than {max_configs:,} configurations")
                    stack.append((e, state, base, window, unknown, lazy_put, lazy_del))
                    if kind == _GET and values[i] in waiting:
                        waiting[values[i]] -= 1
                    state, base, window, unknown, lazy_put, lazy_del = (new_state, new_base, new_window, new_unknown,
                                                                       new_put, new_del)
                    # Lift the operation: its call and return leave the list.
                    p, q = prv[e], nxt[e]
                    nxt[p] = q
                    if q != -1:
                        prv[q] = p
                    r = ret_of[i]
                    if r != -1:
                        p, q = prv[r], nxt[r]
                        nxt[p] = q
                        if q != -1:
                            prv[q] = p
                        remaining -= 1
                    e = nxt[head]
                    continue
            e = nxt[e]
        else:
            # The return of an operation not yet linearized: undo the last choice.
            if not stack:
                return SearchResult(NOT_LINEARIZABLE, n, unknown_writes, len(cache))
            e, state, base, window, unknown, lazy_put, lazy_del = stack.pop()
            i = ev_op[e]
            if kinds[i] == _GET and values[i] in waiting:
                waiting[values[i]] += 1
            r = ret_of[i]
            if r != -1:
                p, q = prv[r], nxt[r]
                nxt[p] = r
                if q != -1:
                    prv[q] = r
                remaining += 1
            p, q = prv[e], nxt[e]
            nxt[p] = e
            if q != -1:
                prv[q] = e
            e = nxt[e]
    return SearchResult(LINEARIZABLE, n, unknown_writes, len(cache))


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
