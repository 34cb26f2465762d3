"""Profiles of `verify` and `report`: what each runs, and that each engine's row says what it covered.

The default profile bounds the slow engines (BMC to a depth, some inductive proofs,
a conformance sample, the broken variants on small parameters) and must never
overclaim: every bounded engine says how far it went, the verdict lists the bounds,
and a sample still catches a seeded implementation bug.  The figures the profiles
were chosen by are measured by benchmarks/profiles_bench.py, not here.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from leaderfollower.checker.cli.main import main
from leaderfollower.checker.conform.mutants import MUTANTS
from leaderfollower.checker.conform.run import run_trace_replay
from leaderfollower.checker.explore.cover import sample_walks
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.jobs.profiles import PROFILES, get_profile
from leaderfollower.checker.jobs.verify import run_verify
from leaderfollower.checker.report.page import build_report, run_variant
from leaderfollower.checker.z3.lemmas import PROOFS
from leaderfollower.spec.params import PRESETS
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import VARIANTS


@pytest.fixture(scope="module")
def tiny_default_doc() -> dict[str, Any]:
    spec = RaftSpec(PRESETS["tiny"])
    # The default profile's options, with a sample smaller than tiny's 6,610 transitions and
    # one proof (LogMatching takes half a minute): what each row says is what is tested.
    options = {**get_profile("default").options, "conform_sample": 500, "z3_proofs": ("ElectionSafety",)}
    return run_verify(spec, ("explorer", "z3-bounded", "z3-inductive", "conformance"), options=options, profile="default")


def test_the_default_profile_bounds_the_slow_engines_and_full_does_not() -> None:
    default, full = PROFILES["default"], PROFILES["full"]
    assert get_profile(None) is default
    assert default.options["z3_engine"] == "bmc" and default.options["z3_depth"] > 0
    assert set(default.options["z3_proofs"]) < set(PROOFS) and "ElectionSafety" in default.options["z3_proofs"]
    assert default.options["conform_sample"] > 0 and default.variant_params == "quick"
    # Full keeps today's depth: IC3 at every depth, every proof, every transition, catch parameters.
    assert full.options == {"z3_engine": "ic3"} and full.variant_params == "catch" and full.variant_max_states is None


def test_every_bounded_engine_says_what_it_covered(tiny_default_doc: dict[str, Any]) -> None:
    doc = tiny_default_doc
    assert doc["ok"] and doc["profile"] == "default"
    engines = doc["engines"]
    assert engines["explorer"]["covered"].startswith("every reachable state") and not engines["explorer"]["bounded"]
    depth = PROFILES["default"].options["z3_depth"]
    assert engines["z3-bounded"]["covered"].startswith(f"holds to depth {depth}")
    assert {e["status"] for e in engines["z3-bounded"]["properties"].values()} == {"holds-to-depth"}
    assert engines["z3-inductive"]["covered"].startswith(f"1 of {len(PROOFS)} inductive proofs (not run: LogMatching,")
    assert set(engines["z3-inductive"]["properties"]) == {"ElectionSafety"}
    conform = engines["conformance"]
    assert conform["transitions_covered"] < conform["transitions"]
    assert conform["covered"].startswith(f"{conform['transitions_covered']:,} of {conform['transitions']:,} transitions replayed")
    assert conform["actions_covered"] == conform["actions_total"]
    assert {e["status"] for e in conform["properties"].values()} == {"conforms-on-sample"}
    assert [line.split(":")[0] for line in doc["bounded"]] == ["z3-bounded", "z3-inductive", "conformance"]


def test_the_verdict_line_lists_the_bounds(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('[model]\npreset = "tiny"\n[verify]\nconform_sample = 100\n')
    result = CliRunner().invoke(main, ["verify", "--config", str(config), "--engines", "explorer,conformance"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "VERIFIED in" in text and "profile default" in text
    assert "within these bounds: conformance:" in text and "transitions replayed" in text


def test_the_full_profile_replays_every_transition() -> None:
    result = CliRunner().invoke(
        main, ["verify", "--preset", "tiny", "--engines", "explorer,conformance", "--profile", "full"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "within these bounds" not in result.stdout and "profile full" in result.stdout
    assert "6,610 of 6,610 transitions replayed" in " ".join(result.stdout.split())


def test_an_unknown_profile_is_a_one_line_usage_error() -> None:
    for command in (["verify"], ["report", "out.html"]):
        result = CliRunner().invoke(main, [*command, "--profile", "nightly-ish"])
        assert result.exit_code == 2
        assert "unknown profile 'nightly-ish'" in result.stderr and result.stderr.count("\n") == 1


def test_a_sample_takes_every_action_and_is_seeded() -> None:
    result = explore(RaftSpec(PRESETS["tiny"]))
    walks, taken = sample_walks(result, 100)
    again, _ = sample_walks(result, 100)
    assert [w.edges for w in walks] == [w.edges for w in again]
    names = {result.labels[lid].name for w in walks for _, _, lid in w.edges}
    assert names == {label.name for label in result.labels}
    assert taken == len({e for w in walks for e in w.edges}) < result.transitions


@pytest.mark.parametrize("bug", ["vote-not-fsynced", "apply-before-commit"])
def test_a_conformance_sample_still_catches_a_seeded_bug(bug: str, tmp_path: Path) -> None:
    result = explore(RaftSpec(PRESETS["tiny"]))
    walks, _ = sample_walks(result, 300)
    outcome = run_trace_replay(result, workers=1, impl=MUTANTS[bug].impl, walks=walks, divergence_dir=tmp_path)
    assert outcome.divergences and not outcome.ok


@pytest.mark.parametrize("name", [n for n, cls in VARIANTS.items() if getattr(cls, "quick_params", None) is not None])
def test_each_variant_is_still_caught_on_its_quick_parameters(name: str) -> None:
    outcome = run_variant(name, which="quick")
    assert outcome.caught and outcome.how == "caught" and outcome.figure is not None


def test_the_default_report_leaves_the_large_variants_to_the_full_profile_and_says_so() -> None:
    # The quick variants' catches are tested above; one of them stands for them here.
    names = [n for n, cls in VARIANTS.items() if getattr(cls, "quick_params", None) is None] + ["non-majority-quorum"]
    data = build_report(
        RaftSpec,
        PRESETS["tiny"],
        graph_params=None,
        variants=names,
        variant_params="quick",
        variant_max_states=PROFILES["default"].variant_max_states,
        variant_simulate_seconds=0,  # no simulation either: what the report says of a variant left out
    )
    large = [v for v in data.variants if getattr(VARIANTS[v.name], "quick_params", None) is None]
    assert large and all(v.how == "not-run" and v.distinct_states == 0 for v in large)
    assert all(f"variant {v.name}: not searched:" in " ".join(data.warnings()) for v in large)
    assert all("--profile full" in (v.not_run or "") for v in large)
    assert data.ok  # not run is not missed: the verdict does not fail on it
    small = [v for v in data.variants if v not in large]
    assert small and all(v.caught for v in small)


@pytest.mark.parametrize("name", ["vote-without-log-check", "accept-stale-term"])
def test_the_default_profile_leaves_a_large_variant_to_a_short_simulation(name: str) -> None:
    # Not explored (its catch needs about a million states); a guided simulation of its catch
    # parameters finds the bug in well under a second here, so a generous time box is not reached.
    outcome = run_variant(name, simulate_seconds=30, which="quick")
    assert outcome.how == "caught-by-simulation" and outcome.distinct_states == 0
    assert outcome.figure is not None and outcome.figure.name == VARIANTS[name].breaks
    assert outcome.params == VARIANTS[name].catch_params
