"""The design-review report: one self-contained page that a browser renders with every diagram.

Scenarios: build the report for the tiny model with the two fast broken variants;
read it back as HTML and as XML pictures; render it in headless Chromium and keep a
screenshot under tests/artifacts/; drive `leaderfollower report` from the command
line, including results from a `verify` result document.
"""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from leaderfollower.checker.cli.main import main
from leaderfollower.checker.report.page import ReportData, build_report, render_html, render_markdown, write_report
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.raft import RaftSpec

FAST_VARIANTS = ["non-majority-quorum", "vote-not-persisted"]
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="module")
def report_data() -> ReportData:
    return build_report(RaftSpec, PRESETS["tiny"], preset="tiny", variants=FAST_VARIANTS)


@pytest.fixture(scope="module")
def written(report_data: ReportData, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_report(report_data, tmp_path_factory.mktemp("report") / "report.html")


class PageParser(HTMLParser):
    """Collects tags, their attributes and element ids; fails on nothing (html.parser is lenient)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if "id" in a}

    def count(self, tag: str) -> int:
        return sum(1 for t, _ in self.tags if t == tag)


def parse_page(text: str) -> PageParser:
    parser = PageParser()
    parser.feed(text)
    parser.close()
    return parser


def test_the_page_is_self_contained(written: tuple[Path, Path]) -> None:
    text = written[0].read_text(encoding="utf-8")
    page = parse_page(text)
    for tag, attrs in page.tags:
        for name in ("src", "href", "xlink:href", "action", "data"):
            value = attrs.get(name, "")
            assert not re.match(r"\s*(https?:)?//", value), f"<{tag} {name}={value!r}> reaches outside the file"
    assert "http://" not in text and "https://" not in text
    assert page.count("script") == 0 and page.count("link") == 0 and page.count("img") == 0
    assert page.count("style") == 1


def test_every_trace_has_a_diagram_and_every_section_is_there(report_data: ReportData, written: tuple[Path, Path]) -> None:
    text = written[0].read_text(encoding="utf-8")
    page = parse_page(text)
    witnesses = {f.name for f in report_data.figures if f.kind == "witness"}
    assert witnesses == {"LeaderElected", "ValueCommitted", "StaleFollowerRead"}
    assert {"checked", "results", "coverage", "depth", "conformance", "counterexamples", "witnesses", "graph", "bugs"} <= page.ids()
    for name in witnesses:
        assert f"witness-{name}" in page.ids()
    for name in FAST_VARIANTS:
        assert f"variant-{name}" in page.ids()
    # One diagram per witness and per variant, the depth chart and the state graph.
    assert page.count("svg") == len(witnesses) + len(FAST_VARIANTS) + 2
    assert "trade-off" in text and "NoUncommittedRead" in text
    assert report_data.fingerprint in text and report_data.fingerprint.startswith("sha256:")


def test_every_inline_svg_is_well_formed_xml(written: tuple[Path, Path]) -> None:
    text = written[0].read_text(encoding="utf-8")
    pictures = re.findall(r"<svg\b.*?</svg>", text, flags=re.S)
    assert len(pictures) >= 7
    for picture in pictures:
        ET.fromstring(picture)


def test_both_variants_are_caught_with_their_counterexample(report_data: ReportData) -> None:
    outcomes = {v.name: v for v in report_data.variants}
    assert set(outcomes) == set(FAST_VARIANTS)
    for v in outcomes.values():
        assert v.caught and v.figure is not None
        assert v.figure.name == v.breaks == "ElectionSafety"
        assert v.figure.kind == "violation"
    assert report_data.ok and report_data.problems() == []


def test_the_markdown_summary_sits_beside_the_page(written: tuple[Path, Path]) -> None:
    html_path, md_path = written
    assert md_path == html_path.with_suffix(".md")
    md = md_path.read_text(encoding="utf-8")
    assert "| ElectionSafety | always | holds |" in md
    assert "| `vote-not-persisted` (the vote is not persisted across a restart) | ElectionSafety | yes | 18 |" in md
    assert "http" not in md


def test_other_engines_become_columns_and_a_failure_is_named(report_data: ReportData) -> None:
    z3: dict[str, dict[str, Any]] = {"ElectionSafety": {"status": "proved", "detail": "inductive"}, "LogMatching": {"status": "violated", "detail": "step 1\nstep 2"}}
    conformance = {"transitions": 10, "transitions_covered": 7, "actions_total": 15, "actions_covered": 13, "divergences": []}
    data = dataclasses.replace(report_data, extra_engines={"z3 <inductive>": z3}, conformance=conformance)
    page = render_html(data)
    assert "<th>z3 &lt;inductive&gt;</th>" in page
    assert "7 of 10 transitions replayed through the implementation (70.0%)" in page
    assert not data.ok and data.problems() == ["z3 <inductive>: LogMatching violated"]
    assert "| LogMatching | always | holds | violated |" in render_markdown(data)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_page_renders_in_headless_chromium(written: tuple[Path, Path], tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on PATH: install it with 'apt-get install chromium' (.ci/run does)")
    html_path = written[0]
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(html_path, ARTIFACTS / "report.html")
    shutil.copy(written[1], ARTIFACTS / "report.md")
    screenshot = ARTIFACTS / "report.png"
    screenshot.unlink(missing_ok=True)
    base = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ]
    url = html_path.resolve().as_uri()
    shot = subprocess.run(
        [*base, f"--user-data-dir={tmp_path / 'profile-shot'}", f"--screenshot={screenshot}", "--window-size=1280,2000", url],
        capture_output=True, text=True, timeout=120,
    )
    assert shot.returncode == 0 and screenshot.exists(), f"chromium --screenshot failed: {shot.stderr[-2000:]}"
    assert png_size(screenshot) == (1280, 2000)
    assert screenshot.stat().st_size > 50_000, "the screenshot is nearly empty"
    dom = subprocess.run(
        [*base, f"--user-data-dir={tmp_path / 'profile-dom'}", "--dump-dom", url],
        capture_output=True, text=True, timeout=120,
    )
    assert dom.returncode == 0, f"chromium --dump-dom failed: {dom.stderr[-2000:]}"
    page = parse_page(dom.stdout)
    assert page.count("svg") == 7, "the rendered DOM holds every diagram"
    assert {"witness-StaleFollowerRead", "variant-vote-not-persisted", "bugs"} <= page.ids()
    # The browser built SVG elements (not unknown HTML ones) with their shapes inside.
    assert page.count("rect") > 100 and page.count("path") > 10 and page.count("circle") > 50


# ------------------------------------------------------------- command line


def test_report_command_writes_both_files(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", str(out), "--preset", "tiny", "--variants", "non-majority-quorum", "--graph", "none", "--quiet"])
    assert result.exit_code == 0, result.output
    assert out.exists() and out.with_suffix(".md").exists()
    page = out.read_text(encoding="utf-8")
    assert 'id="variant-non-majority-quorum"' in page and "vote-not-persisted" not in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--variants", "nope"], "--variants: unknown variant 'nope'"),
        (["--from-json", "missing.json"], "missing.json: cannot read: No such file"),
        (["--graph", "servers=two"], "--graph: servers = 'two': expected an integer"),
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--spec", "nosuch"], "unknown spec 'nosuch'"),
        (["--max-term", "0"], "parameter max_term: expected at least 1"),
    ],
)
def test_report_usage_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    args = [str(tmp_path / a) if a.endswith(".json") else a for a in args]
    result = CliRunner().invoke(main, ["report", str(tmp_path / "out.html"), "--no-variants", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output


def test_report_takes_other_engines_from_a_verify_document(tmp_path: Path) -> None:
    doc_path = tmp_path / "result.json"
    run = CliRunner().invoke(main, ["verify", "--preset", "tiny", "--engines", "explorer", "--json", str(doc_path), "--quiet"])
    assert run.exit_code == 0, run.output
    doc = json.loads(doc_path.read_text())
    doc["engines"]["z3-bounded"] = {
        "ok": True,
        "seconds": 1.5,
        "properties": {"ElectionSafety": {"kind": "always", "status": "holds-to-depth", "detail": "depth 8"}},
    }
    doc_path.write_text(json.dumps(doc))
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", str(out), "--from-json", str(doc_path), "--no-variants", "--graph", "none", "--quiet"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "<th>z3-bounded</th>" in page and "holds-to-depth" in page
    # The same document against other parameters is refused: the evidence must be about one model.
    other = CliRunner().invoke(main, ["report", str(out), "--from-json", str(doc_path), "--preset", "small", "--no-variants"])
    assert other.exit_code == 2 and "checked other parameters" in other.output


def test_a_graph_configuration_too_big_to_draw_is_left_out_with_a_reason() -> None:
    data = build_report(RaftSpec, PRESETS["tiny"], variants=[], graph_params=Params(servers=3, max_term=2, max_log=1))
    assert data.graph_svg is None
    assert "more than 1,500 states" in render_html(data)


def test_a_variant_search_that_runs_out_of_budget_says_so_and_can_show_a_scripted_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    from leaderfollower.checker.report.page import run_variant
    from leaderfollower.spec.variants import VARIANTS

    out = run_variant("vote-not-persisted", max_states=1000, simulate_seconds=0)
    assert out.how == "out-of-budget" and out.figure is None and not out.complete
    # A variant may carry a scripted scenario; it stands in, cut at the first step that breaks the property.
    cls = VARIANTS["non-majority-quorum"]
    full = run_variant("non-majority-quorum")
    assert full.figure is not None and full.how == "caught"
    actions = [step.action for step in full.figure.trace[1:]]
    from leaderfollower.spec.actions import Action

    monkeypatch.setattr(cls, "scenario", [*actions, Action("Restart", (0,))], raising=False)  # a step past the violation is cut
    scripted = run_variant("non-majority-quorum", max_states=50, simulate_seconds=0)
    assert scripted.how == "out-of-budget" and scripted.scripted
    assert scripted.figure is not None and scripted.figure.steps == full.figure.steps
    data = build_report(RaftSpec, PRESETS["tiny"], variants=["non-majority-quorum"], graph_params=None, variant_max_states=50, variant_simulate_seconds=0)
    assert data.ok and data.warnings() and "scripted counterexample to ElectionSafety" in render_html(data)


def test_a_simulation_takes_over_from_a_variant_search_stopped_at_its_budget() -> None:
    from leaderfollower.checker.report.page import run_variant

    out = run_variant("vote-not-persisted", max_states=1000, simulate_seconds=30)
    assert out.how == "caught-by-simulation" and out.caught and not out.scripted
    assert out.figure is not None and out.figure.name == "ElectionSafety" and out.figure.steps == 18
    assert out.simulated is not None and "found by simulation" in out.simulated
    data = build_report(RaftSpec, PRESETS["tiny"], variants=[], graph_params=None)
    data.variants = [out]
    page = render_html(data)
    assert "caught-by-simulation" in page and "found by simulation" in page and data.ok
