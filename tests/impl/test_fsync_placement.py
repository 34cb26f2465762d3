"""Where the shell runs its fsyncs (`FsyncPlacement`): inline while they are fast, fresh threads while they are slow."""
from __future__ import annotations

from leaderfollower.impl.server import FsyncPlacement

FAST, SLOW = 0.0001, 0.004


def test_fast_fsyncs_stay_inline() -> None:
    p = FsyncPlacement()
    for _ in range(10_000):
        p.record(FAST)
    assert p.inline


def test_isolated_slow_fsyncs_do_not_move_them() -> None:
    p = FsyncPlacement(slow_streak=3)
    for _ in range(100):
        p.record(SLOW)
        p.record(SLOW)
        p.record(FAST)
    assert p.inline


def test_a_streak_of_slow_fsyncs_moves_them_to_threads_then_inline_is_retried() -> None:
    p = FsyncPlacement(slow_streak=3, fallback_batches=5)
    for _ in range(3):
        p.record(SLOW)
    assert not p.inline
    for _ in range(4):
        p.record(FAST)  # thread batches: their durations do not matter
        assert not p.inline
    p.record(FAST)
    assert p.inline
    p.record(SLOW)
    p.record(SLOW)
    assert p.inline  # a fresh streak is needed to move again
    p.record(SLOW)
    assert not p.inline
