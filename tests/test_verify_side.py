"""`verify` with two workers: the independent engines in a second process, the same document.

The document of a run with `workers` 2 (the Z3 engines in a forked child beside the
explorer's chain, checker/jobs/verify_side.py) must equal the one of `workers` 1 (every
engine in order, in this process) but for what measures time.  Engines registered
here for a test say where they ran; an engine that raises or whose process dies in the
child is reported as a failed engine; an interrupt stops the child and says which
engines it hit.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from support.cli import interrupted_run

from leaderfollower.checker.jobs.status import Status
from leaderfollower.checker.jobs.verify import ENGINES, EngineOutcome, FunctionEngine, VerifyContext, register_engine, run_verify
from leaderfollower.spec.params import PRESETS
from leaderfollower.spec.raft import RaftSpec

SPEED = {"seconds", "states_per_second", "steps_per_second", "walks", "walk_steps", "states_seen", "deepest_walk", "covered"}
"""Figures that measure time or what fits in a time box: they differ between any two runs."""


def content(doc: dict[str, Any]) -> dict[str, Any]:
    """A result document without its date, timings and speed figures."""
    out = {k: v for k, v in doc.items() if k not in ("date", "timings", "bounded")}
    out["engines"] = {name: {k: v for k, v in section.items() if k not in SPEED} for name, section in doc["engines"].items()}
    out["bounded"] = [line for line in doc["bounded"] if not line.startswith("simulation:")]
    return out


def where(ctx: VerifyContext) -> EngineOutcome:
    """An independent engine that says which process ran it and whether it saw the explorer's result."""
    seen = ctx.explored.distinct_states if ctx.explored is not None else None
    return EngineOutcome("where", True, 0.0, {"Where": {"kind": "always", "status": Status.HOLDS}}, {"pid": os.getpid(), "explored": seen})


def explored_states(ctx: VerifyContext) -> object:
    """What `where` takes from the explorer's result."""
    return ctx.explored.distinct_states if ctx.explored is not None else None


def boom(ctx: VerifyContext) -> EngineOutcome:
    """An independent engine that raises."""
    raise RuntimeError("boom at 3 servers")


PARENT = os.getpid()


def dies(ctx: VerifyContext) -> EngineOutcome:
    """An independent engine whose process is killed (only in a child: never the test's own process)."""
    if os.getpid() != PARENT:
        os.kill(os.getpid(), signal.SIGKILL)
    return EngineOutcome("dies", True, 0.0)


@pytest.fixture
def test_engines() -> Iterator[None]:
    for engine in (
        FunctionEngine("where", where, independent=True, reads=explored_states),
        FunctionEngine("where-alone", where, independent=True),
        FunctionEngine("boom", boom, independent=True),
        FunctionEngine("dies", dies, independent=True),
    ):
        register_engine(engine)
    try:
        yield
    finally:
        for name in ("where", "where-alone", "boom", "dies"):
            del ENGINES[name]


def test_two_workers_give_the_document_of_one() -> None:
    spec = RaftSpec(PRESETS["tiny"])
    engines = ("explorer", "simulation", "z3-bounded", "z3-inductive", "conformance")
    options = {"z3_engine": "bmc", "z3_depth": 5, "z3_proofs": ("ElectionSafety",), "conform_sample": 30, "simulate_seconds": 1.0}
    one = run_verify(spec, engines, options={**options, "workers": 1})
    two = run_verify(spec, engines, options={**options, "workers": 2})
    assert one["ok"] and list(one["engines"]) == list(two["engines"]) == list(engines)
    assert content(two) == content(one)
    assert one["engines"]["z3-bounded"]["depth"] == 5 and one["engines"]["explorer"]["distinct_states"] == 1645


def test_an_independent_engine_runs_in_another_process_and_is_redone_when_it_needs_the_explorer(test_engines: None) -> None:
    spec = RaftSpec(PRESETS["tiny"])
    engines = ("explorer", "where", "where-alone", "conformance")
    options = {"conform_sample": 10}
    one = run_verify(spec, engines, options={**options, "workers": 1})
    two = run_verify(spec, engines, options={**options, "workers": 2})
    assert one["engines"]["where-alone"]["pid"] == os.getpid() != two["engines"]["where-alone"]["pid"]
    # `where` reads the explorer's count: without it in the child, it is run again here, as in order.
    assert one["engines"]["where"]["explored"] == two["engines"]["where"]["explored"] == 1645
    assert two["engines"]["where"]["pid"] == os.getpid()
    assert two["engines"]["where-alone"]["explored"] is None and one["engines"]["where-alone"]["explored"] == 1645
    assert list(two["engines"]) == list(engines)


def test_a_failing_engine_in_the_other_process_is_reported_as_in_order(test_engines: None) -> None:
    spec = RaftSpec(PRESETS["tiny"])
    docs = [run_verify(spec, ("explorer", "boom"), options={"workers": w}) for w in (1, 2)]
    for doc in docs:
        assert doc["ok"] is False and doc["engines"]["boom"]["error"] == "RuntimeError: boom at 3 servers"
        assert doc["engines"]["explorer"]["ok"] is True
    assert content(docs[0]) == content(docs[1])


def test_a_dead_second_process_fails_its_engines_with_its_exit_code(test_engines: None) -> None:
    doc = run_verify(RaftSpec(PRESETS["tiny"]), ("explorer", "dies", "where-alone"), options={"workers": 2})
    assert doc["ok"] is False and doc["engines"]["explorer"]["ok"] is True
    for name in ("dies", "where-alone"):
        assert doc["engines"][name]["error"] == "the process running it stopped (exit code -9) before it finished"
    assert doc["not_run"] == [] and doc["interrupted"] is None


def _children_of_run(marker: str) -> list[int]:
    """Processes whose command line names `marker` (the run's result file)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile
    return found


@pytest.mark.parametrize(("sig", "code", "name"), [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_an_interrupt_stops_the_second_process_and_says_which_engines_it_hit(tmp_path: Path, sig: signal.Signals, code: int, name: str) -> None:
    doc_file = tmp_path / "result.json"
    # BMC to depth 60 runs for minutes in the child; the explorer and conformance are done in seconds.
    command = [str(Path(sys.executable).parent / "leaderfollower"), "verify", "--preset", "tiny", "--engines", "explorer,z3-bounded,conformance,simulation",
               "--z3-engine", "bmc", "--z3-depth", "60", "--workers", "2", "--json", str(doc_file)]
    # This process waits for the child's engine, and says so.
    returncode, out, err = interrupted_run(command, "z3-bounded: running in a second process", sig, cwd=tmp_path)
    assert returncode == code, err
    assert "Traceback" not in err
    assert f"INCOMPLETE (interrupted by {name}; engines not run: simulation)" in " ".join(out.split())
    doc = json.loads(doc_file.read_text())
    assert doc["interrupted"] == name and doc["not_run"] == ["simulation"] and doc["ok"] is False
    assert doc["engines"]["explorer"]["ok"] and doc["engines"]["conformance"]["ok"]  # done before the signal: kept
    assert doc["engines"]["z3-bounded"]["error"] == f"interrupted by {name}"
    deadline = time.monotonic() + 10
    while _children_of_run(str(doc_file)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _children_of_run(str(doc_file)) == []  # the child was stopped, not left running
