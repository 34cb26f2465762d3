"""Histories for testing the linearizability checker: a simulated correct store, its mutants, and a brute force.

`simulate` runs clients against a correct key-value store in simulated time: each
operation takes effect at a random instant between its invocation and completion,
so the history it records is linearizable by construction.  A write may be made
*unknown* (the client gave up): then it takes effect at a random instant after its
invocation, possibly after the client's later operations, or never.  The mutants
break a history in ways that are certainly not linearizable (the conditions are
checked where they are built).  `brute_force` decides small histories by trying
every order, as an oracle independent of the search.
"""
from __future__ import annotations

import dataclasses
import random
from typing import Optional, Sequence

from leaderfollower.checker.torture.history import DELETE, FAIL, GET, OK, PUT, UNKNOWN, Op


def simulate(ops: int, clients: int, keys: int, seed: int, unknown_rate: float = 0.0, fail_rate: float = 0.0,
             read_share: float = 0.5, delete_share: float = 0.1) -> list[Op]:
    """A linearizable history of `ops` operations by `clients` clients over `keys` keys."""
    rng = random.Random(seed)
    clock = [rng.randrange(1000) for _ in range(clients)]
    plan: list[dict[str, object]] = []
    for n in range(ops):
        c = min(range(clients), key=lambda i: clock[i])  # the client that is free first
        invoke = clock[c] + rng.randrange(1, 200)
        complete = invoke + rng.randrange(1, 3000)
        clock[c] = complete
        roll = rng.random()
        kind = GET if roll < read_share else DELETE if roll < read_share + delete_share else PUT
        entry: dict[str, object] = {"id": n, "client": c, "kind": kind, "key": f"k{rng.randrange(keys)}",
                                    "invoke": invoke, "complete": complete, "outcome": OK,
                                    "value": f"{c}-{n}" if kind == PUT else None}
        if kind != GET and rng.random() < unknown_rate:
            entry["outcome"] = UNKNOWN
            # It may land long after the client gave up, or never.
            entry["at"] = None if rng.random() < 0.3 else invoke + rng.randrange(0, 20000)
        elif kind == GET and rng.random() < fail_rate:
            entry["outcome"] = FAIL
            entry["at"] = None
        else:
            entry["at"] = rng.randrange(invoke, complete + 1)
        plan.append(entry)
    return apply_plan(plan)


def apply_plan(plan: list[dict[str, object]]) -> list[Op]:
    """Apply the planned operations at their instants ("at"; None: never) and record what clients saw."""
    store: dict[str, str] = {}
    results: dict[int, tuple[Optional[str], Optional[bool]]] = {}
    for entry in sorted((e for e in plan if e["at"] is not None), key=lambda e: (e["at"], e["id"])):
        key = str(entry["key"])
        if entry["kind"] == PUT:
            store[key] = str(entry["value"])
            results[int(str(entry["id"]))] = (str(entry["value"]), None)
        elif entry["kind"] == GET:
            results[int(str(entry["id"]))] = (store.get(key), None)
        else:
            results[int(str(entry["id"]))] = (None, store.pop(key, None) is not None)
    history = []
    for entry in plan:
        n = int(str(entry["id"]))
        value, existed = results.get(n, (None, None))
        kind, outcome = str(entry["kind"]), str(entry["outcome"])
        history.append(Op(n, int(str(entry["client"])), kind, str(entry["key"]),
                          str(entry["value"]) if kind == PUT else (value if outcome == OK else None),
                          int(str(entry["invoke"])), int(str(entry["complete"])), outcome,
                          existed if outcome == OK and kind == DELETE else None))
    return history


def precedes(a: Op, b: Op) -> bool:
    """Whether `a` certainly took effect before `b` was invoked (a definite op that completed first)."""
    return a.outcome == OK and a.complete < b.invoke


def stale_read(history: Sequence[Op], rng: random.Random, overwrites: tuple[str, ...] = (PUT, DELETE)) -> Optional[list[Op]]:
    """A get made to return a value overwritten before it was invoked (put p, then write w, then get: p's value).

    Certainly not linearizable: p and w are definite, p completed before w began
    and w before the get began, and every put writes a value of its own.
    """
    gets = [op for op in history if op.kind == GET and op.outcome == OK]
    rng.shuffle(gets)
    for r in gets:
        same = [op for op in history if op.key == r.key]
        writes = [op for op in same if op.is_write and precedes(op, r)]
        for w in (op for op in writes if op.kind in overwrites):
            for p in writes:
                if p.kind == PUT and precedes(p, w) and p.value != r.value:
                    return [dataclasses.replace(op, value=p.value) if op.id == r.id else op for op in history]
    return None


def late_put(history: Sequence[Op], rng: random.Random) -> Optional[list[Op]]:
    """The campaign's pause case: put p1 acknowledged, put p2 acknowledged later, then a get returns p1's value."""
    return stale_read(history, rng, overwrites=(PUT,))


def duplicate_delete(history: Sequence[Op], rng: random.Random) -> Optional[list[Op]]:
    """A delete answering "was absent" though a put completed before it and no other write could intervene.

    The campaign's retried delete: applied once (the answer lost), retried, and
    the retry answered. Certainly not linearizable: the put completed before the
    delete began, and no other delete of the key can fall between them.
    """
    deletes = [op for op in history if op.kind == DELETE and op.outcome == OK and op.existed]
    rng.shuffle(deletes)
    for d in deletes:
        same = [op for op in history if op.key == d.key and op.id != d.id]
        for p in (op for op in same if op.kind == PUT and precedes(op, d)):
            # Only another delete placed between p and d could make d's "was absent" true.
            between = [w for w in same if w.kind == DELETE and not precedes(w, p) and not d.complete < w.invoke]
            if not between:
                return [dataclasses.replace(op, existed=False) if op.id == d.id else op for op in history]
    return None


def brute_force(history: Sequence[Op], initial: Optional[str] = None) -> bool:
    """Whether a one-key history is linearizable, by trying every order (small histories only)."""
    ops = [op for op in history if op.outcome == OK or (op.outcome == UNKNOWN and op.is_write)]

    def step(state: Optional[str], op: Op) -> tuple[bool, Optional[str]]:
        if op.kind == PUT:
            return True, op.value
        if op.kind == GET:
            return state == op.value, state
        if op.outcome == OK and op.existed is not None:
            return op.existed == (state is not None), None
        return True, None

    def go(done: frozenset[int], state: Optional[str]) -> bool:
        if all(op.id in done for op in ops if op.outcome == OK):
            return True
        for op in ops:
            if op.id in done:
                continue
            # Every definite op that completed before this one began must already be placed.
            if any(precedes(other, op) and other.id not in done for other in ops):
                continue
            allowed, after = step(state, op)
            if allowed and go(done | {op.id}, after):
                return True
        return False

    return go(frozenset(), initial)
