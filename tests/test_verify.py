"""`leaderfollower verify`: configs, the result document, JUnit XML and baselines."""
from __future__ import annotations

import json
import signal
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.cli import interrupted_run

from leaderfollower.checker.cli.main import main
from leaderfollower.checker.jobs.config import ConfigError, load_config
from leaderfollower.checker.jobs.verify import RESULT_FORMAT, compare_with_baseline


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(
    "body, message",
    [
        ('[model]\npreset = "tiny"\nmax_trm = 3\n', "unknown key 'max_trm'"),
        ('[model]\nmax_term = "3"\n', "max_term = '3': expected an integer"),
        ("[model]\nsymmetry = 1\n", "symmetry = 1: expected true or false"),
        ("[model]\nmax_term = 0\n", "max_term: expected at least 1, got 0"),
        ('[model]\npreset = "huge"\n', "preset = 'huge': expected one of"),
        ('[verify]\nengines = ["explorer", "tlc"]\n', "unknown engine 'tlc'"),
        ("[extra]\nx = 1\n", "unknown table 'extra'"),
        ("[model\n", "not valid TOML"),
        ('[verify]\nz3_engine = "tlc"\n', "z3_engine = 'tlc': expected one of ic3, bmc"),
        ("[verify]\nz3_seconds = 0\n", "z3_seconds = 0: expected a positive number of seconds"),
        ("[verify]\nz3_depth = -3\n", "z3_depth = -3: expected a non-negative integer"),
        ("[verify]\nz3_dept = 3\n", "unknown key 'z3_dept'"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path: Path, body: str, message: str) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text(body)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(cfg)
    result = run("verify", "--config", str(cfg))
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and str(cfg) in lines[0] and message in lines[0]


def test_config_picks_model_and_engines(tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text('[model]\npreset = "tiny"\nmax_log = 0\n[verify]\nengines = ["explorer"]\n')
    run_config = load_config(cfg)
    assert run_config.params.max_log == 0 and run_config.params.servers == 2
    assert run_config.engines == ("explorer",)
    assert run_config.options == {}


def test_config_and_flags_set_the_z3_engine(tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text('[model]\npreset = "tiny"\nmax_log = 0\n[verify]\nengines = ["z3-bounded"]\nz3_engine = "bmc"\nz3_depth = 3\n')
    assert load_config(cfg).options == {"z3_engine": "bmc", "z3_depth": 3}
    doc_file = tmp_path / "out.json"
    assert run("verify", "--config", str(cfg), "--json", str(doc_file)).exit_code == 0
    section = json.loads(doc_file.read_text())["engines"]["z3-bounded"]
    assert section["engine"] == "bmc" and section["depth"] == 3
    # A flag overrides the file: IC3 to a stop at depth 2.
    assert run("verify", "--config", str(cfg), "--z3-engine", "ic3", "--z3-depth", "2", "--json", str(doc_file)).exit_code == 0
    section = json.loads(doc_file.read_text())["engines"]["z3-bounded"]
    assert section["engine"] == "ic3" and section["frontier"] == 2
    assert {p["status"] for p in section["properties"].values()} == {"holds-to-depth"}
    bad = run("verify", "--config", str(cfg), "--z3-seconds", "-1")
    assert bad.exit_code == 2 and "--z3-seconds -1.0: expected a positive number" in bad.output


@pytest.fixture(scope="module")
def tiny_doc(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("verify")
    doc_file, junit_file = out / "result.json", out / "junit.xml"
    # The full profile: IC3 at every depth, every proof, every transition (seconds on tiny).
    result = run(
        "verify", "--preset", "tiny", "--profile", "full", "--simulate-seconds", "3", "--json", str(doc_file), "--junit", str(junit_file)
    )
    assert result.exit_code == 0, result.output
    assert "VERIFIED" in result.output
    return out, json.loads(doc_file.read_text())


def test_result_document_is_complete(tiny_doc) -> None:
    _, doc = tiny_doc
    assert doc["format"] == RESULT_FORMAT and doc["version"] == 1
    assert doc["spec"]["fingerprint"].startswith("sha256:")
    assert doc["params"]["servers"] == 2
    assert doc["engines"]["explorer"]["distinct_states"] == 1645
    assert doc["engines"]["conformance"]["transitions_covered"] == doc["engines"]["conformance"]["transitions"]
    # Replay says nothing of the code's fairness: conformance lists no liveness property, the explorer does.
    assert "LeaderKeepsCommitted" in doc["engines"]["conformance"]["properties"]
    assert "CommitReachesFollower" not in doc["engines"]["conformance"]["properties"]
    assert doc["engines"]["explorer"]["properties"]["CommitReachesFollower"]["status"] == "holds"
    assert doc["engines"]["z3-inductive"]["properties"]["ElectionSafety"]["status"] == "proved"
    # IC3 by default: every always property proved at every depth of the bounded model.
    z3_bounded = doc["engines"]["z3-bounded"]
    assert z3_bounded["engine"] == "ic3" and z3_bounded["invariant_clauses"] > 0
    assert {p["status"] for p in z3_bounded["properties"].values()} == {"holds-every-depth"}
    names = {p["name"] for p in doc["properties"]}
    assert {"ElectionSafety", "StaleFollowerRead", "LeaderAppendOnly"} <= names
    assert all(p["ok"] for p in doc["properties"])
    assert doc["ok"] is True


def test_junit_has_a_case_per_property_and_engine(tiny_doc) -> None:
    out, doc = tiny_doc
    root = ET.parse(out / "junit.xml").getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {f"leaderfollower.{e}" for e in doc["engines"]}
    cases = list(suites["leaderfollower.explorer"].iter("testcase"))
    assert len(cases) == len(doc["engines"]["explorer"]["properties"])
    assert root.get("failures") == "0"


def test_baseline_matches_itself_and_catches_regressions(tiny_doc, tmp_path: Path) -> None:
    out, doc = tiny_doc
    base = out / "result.json"
    same = run("verify", "--preset", "tiny", "--profile", "full", "--baseline", str(base), "--quiet")
    assert same.exit_code == 0, same.output
    broken = run("verify", "--preset", "tiny", "--spec", "non-majority-quorum", "--engines", "explorer", "--baseline", str(base))
    assert broken.exit_code == 1
    assert "ElectionSafety regressed: holds -> violated" in broken.output
    assert "spec fingerprint changed" in broken.output
    assert "distinct_states changed: 1645 ->" in broken.output
    assert "conformance: in the baseline but not run now" in broken.output


def test_update_baseline_writes_the_document(tmp_path: Path) -> None:
    base = tmp_path / "baseline.json"
    result = run("verify", "--preset", "tiny", "--engines", "explorer", "--baseline", str(base), "--update-baseline", "--quiet")
    assert result.exit_code == 0, result.output
    written = json.loads(base.read_text())
    assert written["engines"]["explorer"]["transitions"] == 6610
    assert compare_with_baseline(written, written) == []


def test_violation_fails_verify_and_shows_the_trace() -> None:
    result = run("verify", "--preset", "tiny", "--spec", "non-majority-quorum", "--engines", "explorer")
    assert result.exit_code == 1
    assert "ElectionSafety violated" in result.output
    assert "BecomeLeader(1)" in result.output
    assert "NOT VERIFIED" in result.output


def test_bad_command_line_is_a_usage_error(tmp_path: Path) -> None:
    assert run("verify", "--preset", "nope").exit_code == 2
    assert run("verify", "--engines", "tlc").exit_code == 2
    assert run("verify", "--update-baseline").exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run("verify", "--preset", "tiny", "--baseline", str(bad))
    assert result.exit_code == 2 and "not valid JSON" in result.output


def test_z3_engine_catches_a_broken_quorum_by_a_reachable_counterexample_to_induction(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    # Without logs (the variant's catch bounds), so that ElectionSafety is the first property the
    # reachability oracle's search finds broken (with a log, NoUncommittedRead breaks first).
    result = run(
        "verify", "--preset", "tiny", "--max-log", "0", "--spec", "non-majority-quorum", "--engines", "z3-inductive", "--json", str(out), "--quiet"
    )
    assert result.exit_code == 1
    entry = json.loads(out.read_text())["engines"]["z3-inductive"]["properties"]["ElectionSafety"]
    assert entry["status"] == "violated"
    assert "BecomeLeader" in entry["detail"]


def test_z3_bounded_ic3_finds_the_explorers_shortest_counterexample(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = ("--preset", "tiny", "--max-log", "0", "--spec", "non-majority-quorum", "--json", str(out), "--quiet", "--profile", "full")
    result = run("verify", *args, "--engines", "explorer,z3-bounded")
    assert result.exit_code == 1
    engines = json.loads(out.read_text())["engines"]
    explorer, ic3 = engines["explorer"]["properties"]["ElectionSafety"], engines["z3-bounded"]["properties"]["ElectionSafety"]
    assert ic3["status"] == explorer["status"] == "violated"
    assert ic3["depth"] == explorer["trace_length"] == 10
    assert "BecomeLeader" in ic3["detail"]


def test_an_engine_is_anything_with_a_name_and_a_run() -> None:
    from leaderfollower.checker.jobs.status import Status
    from leaderfollower.checker.jobs.verify import ENGINES, EngineOutcome, VerifyContext, register_engine, run_verify
    from leaderfollower.spec.params import PRESETS
    from leaderfollower.spec.raft import RaftSpec

    class Oracle:
        name = "oracle"

        def run(self, ctx: VerifyContext) -> EngineOutcome:
            return EngineOutcome(self.name, False, 0.0, {"ElectionSafety": {"kind": "always", "status": Status.DIVERGED}})

    register_engine(Oracle())
    try:
        doc = run_verify(RaftSpec(PRESETS["tiny"]), ("oracle",))
    finally:
        del ENGINES["oracle"]
    assert doc["ok"] is False
    assert doc["properties"] == [{"name": "ElectionSafety", "kind": "always", "results": {"oracle": "diverged"}, "ok": False}]
    assert json.loads(json.dumps(doc))["engines"]["oracle"]["properties"]["ElectionSafety"]["status"] == "diverged"
    assert not Status.DIVERGED.good and Status.HOLDS_TO_DEPTH.good


@pytest.mark.parametrize(("sig", "code", "name"), [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")])
def test_an_interrupted_verify_keeps_the_engines_done_and_says_incomplete(tmp_path: Path, sig: signal.Signals, code: int, name: str) -> None:
    doc_file = tmp_path / "result.json"
    command = [str(Path(sys.executable).parent / "leaderfollower"), "verify", "--preset", "tiny", "--engines", "explorer,simulation,conformance",
               "--simulate-seconds", "600", "--json", str(doc_file)]
    # The simulation's first progress line: the explorer is done and the second engine under way.
    returncode, out, err = interrupted_run(command, "simulation", sig, cwd=tmp_path)
    assert returncode == code, err
    assert f"INCOMPLETE (interrupted by {name}; engines not run: conformance)" in " ".join(out.split())
    assert "Traceback" not in err
    doc = json.loads(doc_file.read_text())
    assert doc["interrupted"] == name and doc["not_run"] == ["conformance"] and doc["ok"] is False
    assert doc["engines"]["explorer"]["ok"] is True  # what was done before the signal is kept
    assert doc["engines"]["simulation"]["error"] == f"interrupted by {name}"
