"""Conformance: the real implementation replays explored traces and matches the spec at every step."""
from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from click.testing import CliRunner

from leaderfollower.checker.cli.main import main
from leaderfollower.checker.conform.replay import Divergence, ReplayCluster, replay_trace
from leaderfollower.checker.conform.run import (
    concretise,
    random_walks,
    run_trace_replay,
    run_transition_conformance,
)
from leaderfollower.checker.explore.cover import bfs_prefix, edge_cover
from leaderfollower.checker.conform.crashfiles import CrashableDirectory
from leaderfollower.checker.conform.mutants import MUTANTS
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.formats.itf import read_itf
from leaderfollower.checker.explore.traces import trace_to
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.actions import Action
from leaderfollower.spec.raft import RaftSpec

TINY = PRESETS["tiny"]
TINY_SYM = Params(servers=2, values=1, max_term=2, max_log=1, max_copies=1, max_in_flight=1, symmetry=True)
# Deeper bounds for the random-walk mode: terms to 4, logs to 3, three messages in flight.
DEEP = Params(servers=3, values=1, max_term=4, max_log=3, max_copies=2, max_in_flight=3)


@pytest.fixture(scope="module")
def tiny_result():
    return explore(RaftSpec(TINY))


@pytest.fixture(scope="module")
def tiny_sym_result():
    return explore(RaftSpec(TINY_SYM))


# ------------------------------------------------------------------ cover


def test_edge_cover_takes_every_transition(tiny_result) -> None:
    cover = edge_cover(tiny_result)
    # The walks themselves take every edge of the graph (cover.covered counts the walks'
    # own edges, so comparing it with them would prove nothing).
    seen = {e for w in cover.walks for e in w.edges}
    assert seen == set(tiny_result.graph.edges(keys=True))
    assert cover.complete and cover.transitions == tiny_result.graph.number_of_edges()
    # Far fewer steps than one shortest path per transition.
    per_edge = sum(tiny_result.depth[u] + 1 for u, _, _ in tiny_result.graph.edges(keys=True))
    assert cover.steps < per_edge / 2
    for walk in cover.walks:
        assert walk.edges[0][0] == 0, "every walk starts at the initial state"
        for (u1, v1, _), (u2, _, _) in zip(walk.edges, walk.edges[1:]):
            assert v1 == u2, "a walk is a connected path"


def test_walks_are_replayable_from_init(tiny_result) -> None:
    cover = edge_cover(tiny_result)
    for w in cover.walks[:300]:
        assert w.edges[: w.prefix_len] == bfs_prefix(tiny_result, w.edges[w.prefix_len - 1][1]) if w.prefix_len else True
        trace = concretise(tiny_result, w.edges)
        assert tiny_result.find(trace[-1].state) == w.edges[-1][1]


def test_symmetric_walks_are_concrete_and_land_in_the_stored_orbits(tiny_sym_result) -> None:
    cover = edge_cover(tiny_sym_result)
    spec = tiny_sym_result.spec
    for walk in cover.walks[:300]:
        trace = concretise(tiny_sym_result, walk.edges)
        for before, step, (_, v, _) in zip(trace, trace[1:], walk.edges):
            assert spec.apply(before.state, step.action) == step.state
            assert tiny_sym_result.find(step.state) == v


# ------------------------------------------------------------ crash files


def test_crash_loses_unsynced_writes_on_real_files(tmp_path: Path) -> None:
    files = CrashableDirectory(tmp_path / "d")
    files.create("a", b"one")
    files.fsync("a")
    files.fsync_dir()
    files.append("a", b"two")
    files.create("b", b"never synced")
    files.crash()
    assert files.read("a") == b"one"
    assert not files.exists("b")
    assert (tmp_path / "d" / "a").read_bytes() == b"one", "the real file was rolled back too"
    files.append("a", b"three")
    files.fsync("a")
    files.crash()
    assert files.read("a") == b"onethree"


# ------------------------------------------------------------------ replay


def test_full_cover_of_tiny_model_replays_without_divergence(tiny_result) -> None:
    outcome = run_trace_replay(tiny_result, workers=2)
    assert outcome.ok, outcome.divergences[:1]
    assert outcome.transitions_covered == outcome.transitions == 6610
    assert outcome.actions_covered == outcome.actions_total
    assert outcome.steps >= outcome.transitions


def test_symmetric_full_cover_replays(tiny_sym_result) -> None:
    outcome = run_trace_replay(tiny_sym_result, workers=1)
    assert outcome.ok, outcome.divergences[:1]
    assert outcome.transitions_covered == tiny_sym_result.transitions


def test_transition_level_conformance_of_tiny_model(tiny_result) -> None:
    outcome = run_transition_conformance(tiny_result, workers=2)
    assert outcome.ok, outcome.divergences[:1]
    assert outcome.transitions_covered == tiny_result.transitions
    assert outcome.actions_covered == outcome.actions_total == 13


def test_replay_reports_the_step_and_a_diff(tiny_result, tmp_path: Path) -> None:
    trace = trace_to(tiny_result, tiny_result.witnesses["ValueCommitted"].state)
    states = [s.state for s in trace]
    actions = [s.action for s in trace]
    # Tamper with the expected state at one step: the harness must notice and say where.
    k = 3
    srv = states[k].servers[0]
    states[k] = states[k]._replace(servers=(srv._replace(current_term=srv.current_term + 7),) + states[k].servers[1:])
    with pytest.raises(Divergence) as err:
        replay_trace(states, actions, workdir=tmp_path)
    assert err.value.step == k
    assert any("s0.current_term" in p for p in err.value.problems)


def test_a_refused_action_is_a_divergence(tmp_path: Path) -> None:
    cluster = ReplayCluster(2, tmp_path)
    with pytest.raises(Divergence, match="refused BecomeLeader"):
        cluster.step(1, Action("BecomeLeader", (0,)))


# ------------------------------------------------------------ seeded bugs


@pytest.mark.parametrize("bug", ["vote-not-fsynced", "apply-before-commit"])
def test_replay_catches_seeded_bug_in_the_tiny_cover(tiny_result, bug: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    outcome = run_trace_replay(tiny_result, workers=2, impl=MUTANTS[bug].impl)
    assert not outcome.ok
    first = outcome.divergences[0]
    assert first.file is not None and Path(first.file).exists()
    # The saved prefix reproduces with one command, and only with the bug on.
    runner = CliRunner()
    bad = runner.invoke(main, ["conform", "--replay", first.file, "--bug", bug])
    assert bad.exit_code == 1, bad.output
    assert "divergence at step" in bad.output
    good = runner.invoke(main, ["conform", "--replay", first.file])
    assert good.exit_code == 0, good.output


@pytest.mark.parametrize("bug", ["vote-without-log-check", "accept-stale-term"])
def test_random_walks_at_deeper_bounds_catch_seeded_bug(bug: str, tmp_path: Path) -> None:
    outcome = random_walks(
        RaftSpec(DEEP), walks=300, length=120, seed=1, impl=MUTANTS[bug].impl, divergence_dir=tmp_path
    )
    assert outcome.divergences, f"{bug} was not caught"
    meta, trace = read_itf(Path(outcome.divergences[0].file or ""))
    assert meta["params"]["max_term"] == 4
    assert len(trace) == outcome.divergences[0].step + 1


def test_random_walks_of_the_correct_implementation_conform(tmp_path: Path) -> None:
    outcome = random_walks(RaftSpec(DEEP), walks=60, length=120, seed=7, divergence_dir=tmp_path)
    assert outcome.ok, outcome.divergences[:1]
    assert outcome.steps > 1000


def test_conform_cli_json_and_unknown_bug() -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["conform", "--preset", "tiny", "--json", "--workers", "1"])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.output)
    assert doc["transitions_covered"] == doc["transitions"] == 6610
    bad = runner.invoke(main, ["conform", "--preset", "tiny", "--bug", "nope"])
    assert bad.exit_code == 2
    assert "unknown seeded bug 'nope'" in bad.output


def _worker_handlers(_: int) -> tuple[object, object]:
    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)


def test_replay_pool_workers_do_not_inherit_verify_s_signal_handlers() -> None:
    """Under `verify`'s handlers (SIGTERM raises), a replay worker forked with them printed a
    traceback when the pool ended it; the pool's initializer puts the defaults back."""
    import multiprocessing as mp

    from leaderfollower.checker.cli.common import interrupt_on_signals
    from leaderfollower.checker.conform.run import quiet_worker

    with interrupt_on_signals():
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)
        with mp.get_context("fork").Pool(1, initializer=quiet_worker) as pool:
            assert pool.map(_worker_handlers, [0]) == [(signal.SIG_IGN, signal.SIG_DFL)]
