"""The linearizability checker: hand-written histories, the classic register examples, the campaign's
histories, generated histories of a correct store and of broken ones, and Hypothesis against a brute force."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leaderfollower.checker.torture.history import DELETE, FAIL, GET, OK, PUT, UNKNOWN, Op, load_history
from leaderfollower.checker.torture.linearizability import (
    INCONCLUSIVE,
    LINEARIZABLE,
    NOT_LINEARIZABLE,
    check_history,
    search_key,
)
from support.histories import op, small_histories
from register_sim import brute_force, duplicate_delete, late_put, simulate, stale_read

HISTORIES = Path(__file__).parent / "histories"


def status(*ops: Op) -> str:
    return search_key(list(ops)).status


# ------------------------------------------------------------------ by hand


def test_sequential_history_that_follows_the_register_is_linearizable() -> None:
    assert status(op(0, 0, PUT, "a", 0, 1), op(1, 0, GET, "a", 2, 3), op(2, 0, DELETE, None, 4, 5, existed=True),
                  op(3, 0, GET, None, 6, 7), op(4, 0, DELETE, None, 8, 9, existed=False)) == LINEARIZABLE


def test_read_of_a_value_never_written_is_not_linearizable() -> None:
    assert status(op(0, 0, PUT, "a", 0, 1), op(1, 1, GET, "b", 2, 3)) == NOT_LINEARIZABLE


def test_read_of_absent_before_any_write_is_linearizable_and_of_a_value_is_not() -> None:
    assert status(op(0, 0, GET, None, 0, 1)) == LINEARIZABLE
    assert status(op(0, 0, GET, "a", 0, 1)) == NOT_LINEARIZABLE


def test_concurrent_write_may_be_seen_or_not() -> None:
    write = op(0, 0, PUT, "a", 0, 10)
    assert status(write, op(1, 1, GET, None, 2, 3)) == LINEARIZABLE
    assert status(write, op(1, 1, GET, "a", 2, 3)) == LINEARIZABLE
    # Both reads, in either real-time order, as long as "absent" could come first.
    assert status(write, op(1, 1, GET, None, 2, 3), op(2, 2, GET, "a", 4, 5)) == LINEARIZABLE


def test_operations_that_touch_at_an_instant_count_as_concurrent() -> None:
    assert status(op(0, 0, PUT, "a", 0, 5), op(1, 1, GET, None, 5, 6)) == LINEARIZABLE
    assert status(op(0, 0, PUT, "a", 0, 5), op(1, 1, GET, None, 6, 7)) == NOT_LINEARIZABLE


def test_a_delete_answer_must_match_the_state() -> None:
    assert status(op(0, 0, DELETE, None, 0, 1, existed=True)) == NOT_LINEARIZABLE
    assert status(op(0, 0, DELETE, None, 0, 1, existed=False)) == LINEARIZABLE
    assert status(op(0, 0, DELETE, None, 0, 1)) == LINEARIZABLE  # no answer: no constraint


def test_failed_read_is_dropped_and_failed_write_never_happened() -> None:
    assert status(op(0, 0, PUT, "a", 0, 1), op(1, 1, GET, "zzz", 2, 3, outcome=FAIL)) == LINEARIZABLE
    assert status(op(0, 0, PUT, "a", 0, 1, outcome=FAIL), op(1, 1, GET, "a", 2, 3)) == NOT_LINEARIZABLE


def test_unknown_write_may_land_any_time_after_its_invocation_or_never() -> None:
    lost = op(0, 0, PUT, "a", 0, 1, outcome=UNKNOWN)
    assert status(lost, op(1, 1, GET, None, 2, 3)) == LINEARIZABLE  # never (or not yet)
    assert status(lost, op(1, 1, GET, None, 2, 3), op(2, 1, GET, "a", 100, 101)) == LINEARIZABLE  # much later
    # ...but never before it was invoked.
    assert status(op(0, 1, GET, "a", 0, 1), op(1, 0, PUT, "a", 2, 3, outcome=UNKNOWN)) == NOT_LINEARIZABLE
    # ...and only once: after it was seen and overwritten, it cannot be seen again.
    assert status(lost, op(1, 1, GET, "a", 2, 3), op(2, 1, PUT, "b", 4, 5), op(3, 1, GET, "a", 6, 7)) == NOT_LINEARIZABLE


def test_unknown_delete_may_explain_an_absent_read_and_an_answer() -> None:
    put = op(0, 0, PUT, "a", 0, 1)
    gone = op(1, 0, DELETE, None, 2, 3, outcome=UNKNOWN)
    assert status(put, gone, op(2, 1, GET, None, 10, 11)) == LINEARIZABLE
    assert status(put, gone, op(2, 1, DELETE, None, 10, 11, existed=False)) == LINEARIZABLE
    assert status(put, op(2, 1, DELETE, None, 10, 11, existed=False)) == NOT_LINEARIZABLE


def test_unknown_put_may_explain_an_existed_answer() -> None:
    maybe = op(0, 0, PUT, "a", 0, 1, outcome=UNKNOWN)
    assert status(maybe, op(1, 1, DELETE, None, 5, 6, existed=True)) == LINEARIZABLE
    # One unknown put explains one "existed", not two in a row.
    assert status(maybe, op(1, 1, DELETE, None, 5, 6, existed=True),
                  op(2, 1, DELETE, None, 7, 8, existed=True)) == NOT_LINEARIZABLE


def test_keys_are_independent_and_the_history_verdict_names_the_failing_key() -> None:
    ops = [op(0, 0, PUT, "a", 0, 1, key="x"), op(1, 1, GET, "a", 2, 3, key="y"), op(2, 1, GET, "a", 4, 5, key="x")]
    verdict = check_history(ops)
    assert verdict.status == NOT_LINEARIZABLE
    assert [k.key for k in verdict.failing] == ["y"]


def test_a_search_over_budget_says_unknown_never_linearizable() -> None:
    history = simulate(400, 8, 1, seed=5)
    assert search_key(history).status == LINEARIZABLE
    assert search_key(history, max_configs=10).status == INCONCLUSIVE
    assert check_history(history, max_configs=10).status == INCONCLUSIVE


# ------------------------------------------------------- the classic examples


def test_knossos_crashed_write_concurrent_with_a_read_of_its_value_is_linearizable() -> None:
    """Knossos's README: a write of 3 that crashed (info), concurrent with a read that returned 3."""
    assert status(op(0, 1, PUT, "3", 1, 3, outcome=UNKNOWN), op(1, 0, GET, "3", 0, 4)) == LINEARIZABLE


def test_sequentially_consistent_but_not_linearizable_register() -> None:
    """Writes v0 then v1 by one process; another process, invoked after both completed, reads v0."""
    assert status(op(0, 0, PUT, "v0", 0, 10), op(1, 0, PUT, "v1", 20, 30),
                  op(2, 1, GET, "v0", 40, 50)) == NOT_LINEARIZABLE


def test_new_old_inversion_is_not_linearizable() -> None:
    """A regular register may return the new value and then the old one during a write; an atomic one may not."""
    write = op(0, 0, PUT, "1", 0, 100)
    assert status(op(9, 0, PUT, "0", -10, -5), write, op(1, 1, GET, "1", 10, 20),
                  op(2, 2, GET, "0", 30, 40)) == NOT_LINEARIZABLE
    assert status(op(9, 0, PUT, "0", -10, -5), write, op(1, 1, GET, "0", 10, 20),
                  op(2, 2, GET, "1", 30, 40)) == LINEARIZABLE


# ------------------------------------------------------ the campaign's histories


def test_campaign_delete_applied_twice_after_a_retry_is_flagged() -> None:
    """Issue 15, bug 1: a delete applied, its answer lost, retried, and the retry answers "was absent"."""
    assert status(op(0, 0, PUT, "v", 0, 10), op(1, 0, DELETE, None, 20, 400, existed=False)) == NOT_LINEARIZABLE
    # With a concurrent delete by another client the same answer is fine:
    assert status(op(0, 0, PUT, "v", 0, 10), op(2, 1, DELETE, None, 25, 30),
                  op(1, 0, DELETE, None, 20, 400, existed=False)) == LINEARIZABLE


def test_campaign_retried_put_landing_after_a_later_acknowledged_put_is_flagged() -> None:
    """Issue 15, bug 1, the pause run: put a (retried, acknowledged), put b acknowledged later, then a read of a."""
    assert status(op(0, 0, PUT, "a", 0, 300), op(1, 1, PUT, "b", 310, 320),
                  op(2, 2, GET, "a", 330, 340)) == NOT_LINEARIZABLE
    # The same with the first put's outcome unknown is fine: it may land late.
    assert status(op(0, 0, PUT, "a", 0, 300, outcome=UNKNOWN), op(1, 1, PUT, "b", 310, 320),
                  op(2, 2, GET, "a", 330, 340)) == LINEARIZABLE


def test_the_recorded_run_witness_is_not_linearizable() -> None:
    """The witness a torture run on a cluster without client sessions recorded (docs/reliability.md)."""
    history = load_history(HISTORIES / "run-delete-applied-twice.jsonl")
    assert check_history(history).status == NOT_LINEARIZABLE


# ------------------------------------------------------------- generated


@pytest.mark.parametrize("keys,unknown", [(1, 0.0), (1, 0.05), (4, 0.02), (16, 0.1)])
def test_histories_of_a_correct_store_are_linearizable(keys: int, unknown: float) -> None:
    for seed in range(3):
        history = simulate(3000, 8, keys, seed, unknown_rate=unknown, fail_rate=0.02)
        verdict = check_history(history)
        assert verdict.status == LINEARIZABLE, (seed, [(k.key, k.result) for k in verdict.keys])


@pytest.mark.parametrize("mutate", [stale_read, late_put, duplicate_delete])
def test_histories_of_broken_stores_are_not_linearizable(mutate) -> None:  # type: ignore[no-untyped-def]
    made = 0
    for seed in range(6):
        history = simulate(2000, 8, 3, seed, unknown_rate=0.02, fail_rate=0.02)
        broken = mutate(history, random.Random(seed))
        if broken is None:
            continue
        made += 1
        assert check_history(broken).status == NOT_LINEARIZABLE, seed
    assert made >= 3, "the mutation found too few places to apply"


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_histories())
def test_search_agrees_with_brute_force_on_small_histories(history: list[Op]) -> None:
    expected = LINEARIZABLE if brute_force(history) else NOT_LINEARIZABLE
    assert search_key(history).status == expected
