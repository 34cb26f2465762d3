"""Shrinking a violation to a minimal sub-history that is a witness of the original's violation."""
from __future__ import annotations

import dataclasses
import itertools
import random

import pytest
from hypothesis import HealthCheck, given, settings

from leaderfollower.checker.torture.history import DELETE, GET, OK, PUT, Op
from leaderfollower.checker.torture.linearizability import LINEARIZABLE, NOT_LINEARIZABLE, search_key
from leaderfollower.checker.torture.shrink import shrink
from register_sim import brute_force, duplicate_delete, late_put, simulate
from support.histories import op, small_histories


def _weaker_or_equal(small: Op, big: Op) -> bool:
    """`small` is `big`, or `big` with its delete answer forgotten."""
    return small == big or (big.kind == DELETE and small == dataclasses.replace(big, existed=None))


def _check_witness(witness: list[Op], original: list[Op]) -> None:
    assert search_key(witness).status == NOT_LINEARIZABLE
    by_id = {o.id: o for o in original}
    assert all(_weaker_or_equal(o, by_id[o.id]) for o in witness)
    # 1-minimal: dropping any one operation makes it linearizable, or is a drop the shrinker may not make.
    for i in range(len(witness)):
        rest = witness[:i] + witness[i + 1:]
        if witness[i].kind == GET:
            assert search_key(rest).status == LINEARIZABLE, f"{witness[i].describe()} could go"


def test_pause_case_shrinks_to_its_three_operations() -> None:
    noise = [op(10 + k, 3, GET, None, -100 + k, -99 + k) for k in range(5)]
    history = noise + [op(0, 0, PUT, "a", 0, 300), op(5, 4, PUT, "z", 150, 160), op(1, 1, PUT, "b", 310, 320),
                       op(6, 4, GET, "b", 325, 326), op(2, 2, GET, "a", 330, 340), op(7, 5, DELETE, None, 350, 360)]
    witness = shrink(history).ops
    assert [o.id for o in witness] == [0, 1, 2]
    _check_witness(witness, history)


def test_delete_applied_twice_shrinks_to_put_and_delete() -> None:
    history = [op(0, 0, PUT, "v", 0, 10), op(3, 2, GET, "v", 11, 12), op(4, 2, PUT, "w", -50, -40),
               op(1, 0, DELETE, None, 20, 400, existed=False), op(5, 3, DELETE, None, 500, 510, existed=False)]
    witness = shrink(history).ops
    # A put that completed, then the delete that answered "was absent": either put shows it.
    assert len(witness) == 2 and witness[0].kind == PUT and witness[1].id == 1
    _check_witness(witness, history)


def test_a_get_keeps_the_put_it_read() -> None:
    # Dropping the put would leave "get a" unexplained: a violation the original did not have.
    history = [op(0, 0, PUT, "a", 0, 10), op(1, 1, GET, "a", 20, 30), op(2, 0, PUT, "b", 40, 50),
               op(3, 1, GET, "a", 60, 70)]
    witness = shrink(history).ops
    assert {o.id for o in witness} >= {0, 2, 3}
    _check_witness(witness, history)


def test_shrink_refuses_a_linearizable_history() -> None:
    with pytest.raises(ValueError):
        shrink([op(0, 0, PUT, "a", 0, 1)])


@pytest.mark.parametrize("mutate", [late_put, duplicate_delete])
def test_generated_violations_shrink_to_a_handful(mutate) -> None:  # type: ignore[no-untyped-def]
    for seed in range(3):
        history = simulate(1500, 8, 1, seed, unknown_rate=0.02)
        broken = mutate(history, random.Random(seed))
        if broken is None:
            continue
        witness = shrink(broken).ops
        assert len(witness) <= 6, [o.describe() for o in witness]
        _check_witness(witness, broken)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(small_histories())
def test_every_history_between_witness_and_original_is_not_linearizable(history: list[Op]) -> None:
    """The witness's violation is the original's: adding back any of the dropped operations cannot fix it."""
    if brute_force(history):
        return
    witness = shrink(history).ops
    kept = {o.id for o in witness}
    dropped = [o for o in history if o.id not in kept and (o.outcome == OK or o.is_write)]
    for r in range(len(dropped) + 1):
        for extra in itertools.combinations(dropped, r):
            assert not brute_force(witness + list(extra)), (witness, extra)


def test_a_shrink_out_of_time_says_its_witness_is_not_minimal() -> None:
    history = simulate(500, 4, 1, seed=3)
    broken = late_put(history, random.Random(3))
    assert broken is not None
    witness = shrink(broken, time_limit=0.0)
    assert not witness.minimal and search_key(witness.ops).status == NOT_LINEARIZABLE
    assert shrink(broken).minimal
