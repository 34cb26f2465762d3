"""Robust long proofs: obligations in worker processes with limits, and a run that resumes from its results file.

The stand-in solvers below are the documented seam of `isolation.run_tasks` (its
`solver` argument): real obligations of the 3-server ElectionSafety proof are
solved by `solving.solve`, and one of them is replaced by a query that exhausts
the worker's memory limit, or by a worker that is killed, as the kernel's OOM
killer would.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import z3

from leaderfollower.checker.z3.isolation import Limits, ResultsFile, run_tasks
from leaderfollower.checker.z3.model import Switches, switches_for
from leaderfollower.checker.z3.obligations import Task, invariant_names
from leaderfollower.checker.z3.solving import ProofSetup, plan
from leaderfollower.checker.z3.prove import prove_inductive
from leaderfollower.checker.z3.results import Obligation
from leaderfollower.checker.z3.solving import solve
from leaderfollower.spec.params import Params
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import VoteNotPersisted

THREE = Params(servers=3)
HOG = "LeaderHasQuorum"
"""The conjunct whose obligations the stand-in solvers replace."""


def _tasks(actions: list[str]) -> list[Task]:
    setup = ProofSetup(THREE, Switches(), "ElectionSafety", invariant_names("ElectionSafety"))
    return plan(setup, actions, None, 30_000, False)


def exhaust_memory(task: Task) -> Obligation:
    """HOG's obligations ask Z3 to factor a large number by bit-blasting a 1024-bit product: far past 300 MB."""
    if task.lemma != HOG:
        return solve(task)
    x, y = z3.BitVecs("x y", 512)
    s = z3.Solver()
    s.add(z3.ZeroExt(512, x) * z3.ZeroExt(512, y) == (2**255 - 19) * (2**127 - 1), z3.UGT(x, 1), z3.UGT(y, 1))
    res = s.check()
    return Obligation(task.lemma, task.action, "proved" if res == z3.unsat else "unknown", reason=s.reason_unknown())


def die(task: Task) -> Obligation:
    """HOG's obligations kill their worker, as the kernel's OOM killer would."""
    if task.lemma == HOG:
        os.kill(os.getpid(), signal.SIGKILL)
    return solve(task)


def test_a_query_that_exhausts_its_memory_limit_is_unknown_and_the_run_goes_on() -> None:
    tasks = _tasks(["Timeout", "BecomeLeader"])
    out = run_tasks(tasks, Limits(workers=2, memory_mb=300), solver=exhaust_memory)
    assert [(o.lemma, o.action) for o in out] == [(t.lemma, t.action) for t in tasks]
    hogs = [o for o in out if o.lemma == HOG]
    assert len(hogs) == 3  # Init, Timeout, BecomeLeader
    for o in hogs:
        assert o.status == "unknown" and "memory" in o.reason, o
    assert all(o.status == "proved" for o in out if o.lemma != HOG)
    assert 0 < max(o.peak_rss_mb for o in out) < 1500  # the worker stayed within its limit


def test_a_worker_that_dies_is_unknown_and_the_run_goes_on() -> None:
    tasks = _tasks(["Timeout"])
    out = run_tasks(tasks, Limits(workers=2), solver=die)
    dead = [o for o in out if o.lemma == HOG]
    assert dead and all(o.status == "unknown" and "worker died" in o.reason for o in dead)
    assert all(o.status == "proved" for o in out if o.lemma != HOG)


class _Interrupted(Exception):
    pass


def test_an_interrupted_run_resumes_from_its_results_file(tmp_path: Path) -> None:
    results = tmp_path / "es.jsonl"
    tasks = _tasks(["Timeout", "BecomeLeader"])
    calls = []

    def stop_after_ten(task: Task) -> Obligation:
        if len(calls) == 10:
            raise _Interrupted  # ^C in the middle of the run
        calls.append(task)
        return solve(task)

    with pytest.raises(_Interrupted):
        run_tasks(tasks, Limits(), results=ResultsFile(results), solver=stop_after_ten)
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(rows) == 10 and all(r["status"] == "proved" and len(r["hash"]) == 64 for r in rows)
    again = run_tasks(tasks, Limits(), results=ResultsFile(results))
    resumed = [o for o in again if o.reason.startswith("resumed")]
    assert len(resumed) == 10 and all(o.status == "proved" for o in again)
    assert {o.hash for o in resumed} == {r["hash"] for r in rows}


def test_a_changed_spec_invalidates_the_results_of_the_queries_it_changes(tmp_path: Path) -> None:
    """VoteNotPersisted changes Restart (it forgets votedFor): the obligations whose query reads it are solved
    again, and fail; those whose terms are identical are resumed."""
    results = tmp_path / "es.jsonl"
    first = prove_inductive(RaftSpec(THREE), "ElectionSafety", actions=["Restart"], results_file=results)
    assert first.proved
    broken = VoteNotPersisted(THREE)
    assert switches_for(VoteNotPersisted).vote_not_persisted
    again = prove_inductive(broken, "ElectionSafety", actions=["Restart"], results_file=results)
    by = {(o.lemma, o.action): o for o in again.obligations}
    assert not by[("VotesGrantedMeanVotedFor", "Restart")].reason.startswith("resumed")
    assert by[("VotesGrantedMeanVotedFor", "Restart")].status == "failed"
    assert by[("LeaderHasQuorum", "Restart")].reason.startswith("resumed")


def test_a_corrupt_results_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"hash": "ab", "status": "proved"}\nnot json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not a JSON line"):
        ResultsFile(bad)


def test_workers_that_cannot_start_are_one_clear_error(tmp_path: Path) -> None:
    """A script that starts a proof with workers outside `if __name__ == "__main__":` (the workers
    are spawned, import the script and die bootstrapping) gets an error saying what to do."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from leaderfollower.checker.z3.isolation import Limits\n"
        "from leaderfollower.checker.z3.prove import prove_inductive\n"
        "from leaderfollower.spec.params import Params\n"
        "from leaderfollower.spec.raft import RaftSpec\n"
        "prove_inductive(RaftSpec(Params(servers=3)), 'ElectionSafety', actions=['Timeout'], limits=Limits(workers=1))\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("leaderfollower.checker.z3.isolation.WorkersFailed:") and '__name__ == "__main__"' in last, done.stderr[-2000:]
