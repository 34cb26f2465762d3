"""The report's SVG pictures: well-formed, escaped, and drawing what the trace says."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from leaderfollower.checker.report import svg
from leaderfollower.checker.explore.traces import finding_trace
from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.explore.traces import replay
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.actions import Action
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import RequestVoteRequest

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def tiny() -> ExploreResult:
    return explore(RaftSpec(PRESETS["tiny"]), keep_graph=False, stop_on_violation=False)


def parse(text: str) -> ET.Element:
    return ET.fromstring(text)


def by_class(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("class") == cls]


def test_a_witness_diagram_has_one_box_per_step_and_marks_the_last_one(tiny: ExploreResult) -> None:
    trace = finding_trace(tiny, tiny.witnesses["StaleFollowerRead"]).trace
    text = svg.sequence_diagram(trace, title="witness", highlight_step=len(trace) - 1, highlight_label="here", highlight_kind="witness", standalone=True)
    root = parse(text)
    assert root.tag == f"{SVG}svg"
    assert len(by_class(root, "action")) == len(trace) - 1
    (highlight,) = by_class(root, "highlight")
    assert highlight.get("stroke") == "#2e9d4f"
    # Every message of the trace is an arrow: RequestVote to itself and to the other server, their answers,
    # one AppendEntries and its answer.
    assert len(by_class(root, "message")) == 6


def test_a_message_is_drawn_from_the_step_that_sends_it_to_the_step_that_consumes_it() -> None:
    spec = RaftSpec(Params(servers=2, max_term=2, max_log=0))
    m = RequestVoteRequest("RequestVoteRequest", 2, 0, 0, 0, 1)
    trace = replay(spec, [Action("Timeout", (0,)), Action("RequestVote", (0, 1)), Action("UpdateTerm", (m,)), Action("HandleRequestVoteRequest", (m,))])
    arrows = svg._arrows(trace)
    assert [(a.message.mtype, a.src_row, a.dst_row) for a in arrows] == [
        ("RequestVoteRequest", 2, 4),  # UpdateTerm leaves the message in the bag; the handler takes it
        ("RequestVoteResponse", 4, None),  # still in flight at the end: dashed to the bottom
    ]
    root = parse(svg.sequence_diagram(trace))
    dashed = [p for p in root.iter("path") if p.get("stroke-dasharray") == "6,4"]
    assert len(dashed) == 1


def test_a_lost_message_ends_in_a_cross_without_an_arrowhead() -> None:
    spec = RaftSpec(Params(servers=2, max_term=2, max_log=0))
    m = RequestVoteRequest("RequestVoteRequest", 2, 0, 0, 0, 1)
    trace = replay(spec, [Action("Timeout", (0,)), Action("RequestVote", (0, 1)), Action("DropMessage", (m,))])
    (arrow,) = svg._arrows(trace)
    assert arrow.dropped and arrow.dst_row == 3
    root = parse(svg.sequence_diagram(trace, highlight_step=3, highlight_kind="violation"))
    (highlight,) = by_class(root, "highlight")
    assert highlight.get("stroke") == "#d1242f"
    assert any(p.get("stroke") == "#d1242f" for p in root.iter("path"))  # the red cross
    assert not [p for p in root.iter("path") if p.get("marker-end") and p.get("stroke-dasharray") == "3,3"]


def test_text_is_escaped(tiny: ExploreResult) -> None:
    trace = finding_trace(tiny, tiny.witnesses["LeaderElected"]).trace
    nasty = 'a <b>&"quoted"</b> \'title\''
    text = svg.sequence_diagram(trace, title=nasty, highlight_step=1, highlight_label=nasty)
    assert "<b>" not in text
    root = parse(text)
    assert root.find("title") is not None and root.find("title").text == nasty  # type: ignore[union-attr]
    chart = parse(svg.depth_chart([1, 2, 3], title=nasty))
    assert chart.find("title").text == nasty  # type: ignore[union-attr]


def test_inline_svg_has_no_namespace_url_and_standalone_svg_has_one(tiny: ExploreResult) -> None:
    trace = finding_trace(tiny, tiny.witnesses["LeaderElected"]).trace
    assert "http" not in svg.sequence_diagram(trace)
    assert f'xmlns="{svg.SVG_NS}"' in svg.sequence_diagram(trace, standalone=True)


def test_depth_chart_has_one_bar_per_depth(tiny: ExploreResult) -> None:
    root = parse(svg.depth_chart(tiny.states_per_depth))
    bars = by_class(root, "bar")
    assert len(bars) == len(tiny.states_per_depth)
    assert bars[0].find("title").text == "depth 0: 1 states"  # type: ignore[union-attr]
    assert parse(svg.depth_chart([])).tag == "svg"


def test_state_graph_draws_every_state_and_marks_the_given_ones() -> None:
    result = explore(RaftSpec(Params(servers=1, max_term=3, max_log=1)), keep_graph=True, stop_on_violation=False)
    marked = {w.state: f"witness of {name}" for name, w in result.witnesses.items()}
    root = parse(svg.state_graph(result, title="tiny", marked=marked, standalone=True))
    nodes = by_class(root, "node")
    assert len(nodes) == result.distinct_states
    rings = [c for c in root.iter(f"{SVG}circle") if c.get("stroke") == "#d1242f" and c.get("fill") == "none"]
    assert len(rings) == len(marked) + 1  # plus the legend's
    leaders = [c for c in root.iter(f"{SVG}circle") if c.get("fill") == "#2e9d4f" and c.get("r") != "6"]
    assert leaders, "some states have a leader"
    with pytest.raises(ValueError, match="too many to draw"):
        svg.state_graph(result, max_nodes=10)
