"""The design-review report: one self-contained HTML page and a Markdown summary.

How this works: `build_report` gathers everything the page shows into a
`ReportData` value: it explores the chosen spec (or takes a result already
explored), makes the concrete trace of every violation and every *sometimes*
witness, explores each selected broken variant on its `catch_params` for its
counterexample, and explores a tiny configuration whose whole state graph fits
in one picture.  Results of other engines (Z3, conformance) come in from a
`verify` result document as `extra_engines`.  Nothing is cached between runs.

`render_html` and `render_markdown` are pure functions of `ReportData`.  The page
has inline CSS and inline SVG (`svg.py`), no script and no URL, so it opens from a
mail attachment or a CI artifact with no network.  Every piece of text that comes
from the spec or the user goes through `esc`.
"""
from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from leaderfollower.spec.params import Params
from leaderfollower.spec.properties import PROPERTIES, read
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import VARIANTS, BrokenVariant

from leaderfollower.checker.report import svg
from leaderfollower.checker.jobs.check import summarise, with_liveness
from leaderfollower.checker.liveness.check import LivenessOutcome
from leaderfollower.checker.liveness.lasso import format_lasso
from leaderfollower.checker.explore.result import ExploreResult, Finding, ProgressFn
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.jobs.fingerprint import spec_fingerprint
from leaderfollower.checker.explore.traces import Trace, TraceError, finding_trace, format_finding, format_trace, replay
from leaderfollower.checker.jobs.status import GOOD_STATUSES, Status
from leaderfollower.checker.jobs.verify import tool_versions

esc = svg.esc

GRAPH_PARAMS = Params(servers=1, values=1, max_term=3, max_log=1, max_copies=1, max_in_flight=1)
"""The configuration whose whole state graph the report draws (54 states: small enough to read)."""

GRAPH_MAX_NODES = 1500
"""Above this many states the graph picture is left out, with a note saying why."""

WITNESS_NOTES: dict[str, str] = {
    "LeaderElected": "An election can complete: a candidate collects a quorum of votes and becomes leader.",
    "ValueCommitted": "A client value can travel from the leader to a quorum and be committed.",
    "StaleFollowerRead": (
        "This is the trade-off of serving reads from followers, and it is expected: a follower (or a leader "
        "that has been deposed without hearing of it yet) answers from its own state machine, which can lag "
        "behind what another server has already committed. The read is stale but never wrong: NoUncommittedRead "
        "holds, so it only ever returns values a quorum holds. Follower reads are cheap but not linearizable; a "
        "client that must see its own latest write reads through the current leader after it has confirmed its "
        "leadership (ReadIndex or a lease)."
    ),
}
"""Why each witness matters, in a sentence or two, shown above its diagram."""

ProgressNote = Callable[[str], None]
ProgressFactory = Callable[[str], ProgressFn]
"""Given what is being explored, a callback for the explorer's progress snapshots."""


@dataclass
class TraceFigure:
    """A counterexample or a witness: its trace, as a diagram and as text."""

    name: str
    """The property's name."""
    kind: str  # "violation" or "witness"
    description: str
    note: str
    trace: Trace
    diagram: str
    text: str

    @property
    def steps(self) -> int:
        """Steps from the initial state (the trace's length)."""
        return len(self.trace) - 1


@dataclass
class VariantOutcome:
    """A broken variant explored on its catch parameters: was its bug caught, and how."""

    name: str
    description: str
    breaks: str
    params: Params
    violated: list[str]
    distinct_states: int
    seconds: float
    figure: Optional[TraceFigure]
    complete: bool = True
    """The search ran to the end (or to the violation), not into the state budget."""
    scripted: bool = False
    """The figure replays the variant's scripted `scenario`, not an explorer counterexample."""
    not_run: Optional[str] = None
    """Why the explorer did not search this variant in this profile (its catch needs a large search)."""
    simulated: Optional[str] = None
    """When the explorer stopped at its budget and a simulation broke the property: how (strategy, time, lengths)."""

    @property
    def caught(self) -> bool:
        """The explorer, or the simulation after it, broke the property the variant is meant to break."""
        return self.breaks in self.violated or self.simulated is not None

    @property
    def how(self) -> str:
        """One word for the table: caught, caught by simulation, not run (in this profile), missed, or out of budget."""
        if self.breaks in self.violated:
            return "caught"
        if self.simulated is not None:
            return "caught-by-simulation"
        if self.not_run is not None:
            return "not-run"
        return "missed" if self.complete else "out-of-budget"


@dataclass
class ReportData:
    """Everything the report shows; rendered by `render_html` and `render_markdown`."""

    spec_name: str
    spec_description: str
    fingerprint: str
    params: Params
    preset: Optional[str]
    versions: dict[str, str]
    date: str
    summary: dict[str, Any]
    figures: list[TraceFigure]
    variants: list[VariantOutcome]
    graph_svg: Optional[str]
    graph_params: Params
    graph_states: int
    graph_note: str
    extra_engines: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    engine_notes: dict[str, str] = field(default_factory=dict)
    conformance: Optional[dict[str, Any]] = None
    seconds: float = 0.0

    def problems(self) -> list[str]:
        """Why the verdict is FAIL, one line each (empty: PASS)."""
        out = []
        for row in self.summary["properties"]:
            if row["status"] not in GOOD_STATUSES:
                out.append(f"explorer: {row['name']} {row['status']}")
        if self.summary["deadlocks"]:
            out.append(f"explorer: {self.summary['deadlocks']} deadlocked state(s)")
        for engine, props in self.extra_engines.items():
            for name, entry in props.items():
                if entry.get("status") not in GOOD_STATUSES:
                    out.append(f"{engine}: {name} {entry.get('status')}")
        for engine, note in self.engine_notes.items():
            if "error:" in note:
                out.append(f"{engine}: {note}")
        for v in self.variants:
            if v.how == "missed":
                out.append(f"variant {v.name}: {v.breaks} holds in every state the search reached (the bug was missed)")
        return out

    def warnings(self) -> list[str]:
        """What the reader should know but does not fail the report: variants whose search ran out of budget."""
        return [
            f"variant {v.name}: not caught within {v.distinct_states:,} states (the search stopped at its budget)"
            + ("; a scripted scenario shows the bug instead" if v.scripted else "")
            for v in self.variants
            if v.how == "out-of-budget"
        ] + [f"variant {v.name}: not searched: {v.not_run}" for v in self.variants if v.how == "not-run"] + [
            (
                f"variant {v.name}: the search stopped at its budget of {v.distinct_states:,} states; {v.simulated}"
                if v.distinct_states
                else f"variant {v.name}: not explored in this profile; {v.simulated}"
            )
            for v in self.variants
            if v.how == "caught-by-simulation"
        ]

    @property
    def ok(self) -> bool:
        """The spec passed every engine and no variant's bug was missed by a complete search."""
        extra_ok = all(
            entry.get("status") in GOOD_STATUSES for props in self.extra_engines.values() for entry in props.values()
        )
        return bool(self.summary["ok"]) and extra_ok and not self.problems()


# ------------------------------------------------------------------ building


def _figure(result: ExploreResult, finding: Finding) -> TraceFigure:
    ft = finding_trace(result, finding)
    trace = ft.trace
    prop = next((p for p in result.properties if p.name == finding.property), None)
    description = prop.description if prop else (finding.error or "an action raised an exception")
    if finding.kind == "sometimes":
        kind, label = "witness", f"{finding.property} holds after step {len(trace) - 1}"
        note = WITNESS_NOTES.get(finding.property, "")
        if finding.property == "StaleFollowerRead":
            reads = "; ".join(
                f"s{k} ({srv.role} t{srv.current_term}) returns [{', '.join(f'v{v}' for v in read(srv))}]"
                for k, srv in enumerate(trace[-1].state.servers)
            )
            note += f" At the highlighted step a read served by each server: {reads}."
    else:
        kind, label = "violation", f"{finding.property} violated at step {len(trace) - 1}"
        note = f"{ft.failed} raised {ft.error}" if ft.failed is not None else finding.error or ""
    diagram = svg.sequence_diagram(
        trace,
        title=f"{'witness of' if kind == 'witness' else 'counterexample to'} {finding.property} ({result.spec.name})",
        highlight_step=len(trace) - 1,
        highlight_label=label,
        highlight_kind=kind,
    )
    return TraceFigure(finding.property, kind, description, note, trace, diagram, format_finding(ft))


def _lasso_figures(result: ExploreResult) -> list[TraceFigure]:
    """A figure for every liveness property with a lasso (violated or inconclusive)."""
    return [_lasso_figure(result, o) for o in result.liveness if o.lasso is not None]


def _lasso_figure(result: ExploreResult, outcome: LivenessOutcome) -> TraceFigure:
    """A liveness counterexample: the lasso's diagram with its loop drawn, and its text."""
    lasso = outcome.lasso
    assert lasso is not None
    trace, loop = lasso.trace, lasso.loop
    name = outcome.property.name
    label = (
        f"{name} {outcome.status}: steps {loop + 1}..{len(trace) - 1} repeat forever"
        if loop < len(trace) - 1
        else f"{name} {outcome.status}: the behaviour stutters forever after step {loop}"
    )
    diagram = svg.sequence_diagram(
        trace, title=f"lasso: {name} {outcome.status} ({result.spec.name})", highlight_step=loop, highlight_label=label, loop=loop
    )
    return TraceFigure(name, "violation", outcome.property.description, outcome.why, trace, diagram, format_lasso(lasso))


VARIANT_MAX_STATES = 3_000_000
"""Default state budget per broken variant: the slowest that the explorer catches needs about 1.7 million."""


def _scenario_figure(cls: type[RaftSpec], params: Params, breaks: str) -> Optional[TraceFigure]:
    """The variant's scripted scenario (if it has one), cut at the first step that breaks `breaks`.

    A variant whose bug lies beyond what the explorer can afford may carry
    `scenario`: a sequence of `Action`s from the initial state (or a function
    returning one), replayed here on `params`.
    """
    scenario = getattr(cls, "scenario", None)
    if scenario is None:
        return None
    actions = list(scenario() if callable(scenario) else scenario)
    spec = cls(params)
    try:
        trace = replay(spec, actions)
    except TraceError as exc:
        raise TraceError(f"variant {cls.name}: its scripted scenario does not replay: {exc}") from None
    prop = next(p for p in PROPERTIES if p.name == breaks)
    for row in range(1, len(trace)):
        before, after = trace[row - 1].state, trace[row].state
        if prop.kind == "action" and prop.step_holds is not None:
            broken = not all(prop.step_holds(spec, a, b) for a, b in zip(before.servers, after.servers))
        else:
            broken = prop.holds is not None and not prop.holds(spec, after)
        if broken:
            trace = trace[: row + 1]
            diagram = svg.sequence_diagram(
                trace,
                title=f"scripted counterexample to {breaks} ({cls.name})",
                highlight_step=row,
                highlight_label=f"{breaks} violated at step {row}",
                highlight_kind="violation",
            )
            note = "A scripted scenario, replayed step by step on the variant: the explorer cannot afford bounds this deep."
            return TraceFigure(breaks, "violation", prop.description, note, trace, diagram, format_trace(trace))
    return None


VARIANT_SIMULATE_SECONDS = 60.0
"""Default time budget of the simulation that takes over from a variant's search stopped at its state budget."""


def _simulated_figure(
    cls: type[RaftSpec], params: Params, seconds: float, lead: str = "The explorer stopped at its state budget"
) -> tuple[Optional[TraceFigure], Optional[str]]:
    """A violation of the variant's `breaks` found by simulation (guided, all cores), shrunk; and how it was found."""
    from leaderfollower.checker.simulate.run import default_workers, simulate
    from leaderfollower.checker.simulate.strategies import DEFAULT_STRATEGY

    result = simulate(cls(params), strategy=DEFAULT_STRATEGY, seconds=seconds, seed=0, workers=default_workers())
    v = result.violation
    breaks = getattr(cls, "breaks", None)
    if v is None or breaks not in (v.property, *v.also):
        return None, None
    prop = next(p for p in result.properties if p.name == breaks)
    steps = len(v.trace) - 1
    how = (
        f"found by simulation ({DEFAULT_STRATEGY}, seed 0, {result.workers} workers) after {result.time_to_violation or 0.0:.1f} s "
        f"and {result.walks:,} walks, shrunk from {v.walk_length} to {steps} steps"
    )
    diagram = svg.sequence_diagram(
        v.trace,
        title=f"counterexample to {breaks} found by simulation ({cls.name})",
        highlight_step=steps,
        highlight_label=f"{breaks} violated at step {steps}",
        highlight_kind="violation",
    )
    note = f"{lead}; a simulation took over with no scenario: {how}."
    return TraceFigure(breaks, "violation", prop.description, note, v.trace, diagram, format_trace(v.trace)), how


def params_for_variant(name: str, which: str = "catch") -> Params:
    """The parameters a variant is explored on: its `quick_params` ("quick", when it has
    them) or its `catch_params` ("catch")."""
    cls = VARIANTS[name]
    quick: Optional[Params] = getattr(cls, "quick_params", None)
    return quick if which == "quick" and quick is not None else cls.catch_params


def _unexplored_variant(cls: type[BrokenVariant], params: Params, simulate_seconds: float) -> VariantOutcome:
    """A variant the quick profile does not explore (its catch needs a search of minutes): a
    simulation of its catch parameters (if any seconds), else its scripted scenario, and why."""
    start = time.perf_counter()
    figure, simulated = (None, None)
    if simulate_seconds > 0:
        figure, simulated = _simulated_figure(cls, params, simulate_seconds, lead="Not explored in this profile (its catch needs a search of minutes)")
    scripted = False
    if figure is None:
        figure = _scenario_figure(cls, params, cls.breaks)
        scripted = figure is not None
    why = None if simulated else f"its bug needs a search of minutes ({params.describe()}); run the report with --profile full"
    return VariantOutcome(
        cls.name, cls.description, cls.breaks, params, [], 0, time.perf_counter() - start, figure,
        complete=False, scripted=scripted, simulated=simulated, not_run=why,
    )


def run_variant(
    name: str,
    progress: Optional[ProgressFn] = None,
    max_states: Optional[int] = VARIANT_MAX_STATES,
    simulate_seconds: float = VARIANT_SIMULATE_SECONDS,
    which: str = "catch",
) -> VariantOutcome:
    """Explore one shipped broken variant on its catch (or quick) parameters, stopping at the first violation.

    With `which="quick"` (the default profile), a variant is explored on its
    `quick_params`; one without them is not explored (`_unexplored_variant`).

    A search that reaches `max_states` stops there; the outcome says so, and a
    simulation of `simulate_seconds` (0: none) takes over; if it does not break the
    property either, the variant's scripted scenario (if any) stands in for the
    counterexample.
    """
    cls = VARIANTS[name]
    params = params_for_variant(name, which)
    if which == "quick" and getattr(cls, "quick_params", None) is None:
        return _unexplored_variant(cls, params, simulate_seconds)
    start = time.perf_counter()
    result = explore(cls(params), keep_graph=False, stop_on_violation=True, progress=progress, max_states=max_states)
    seconds = time.perf_counter() - start
    figure = None
    wanted = [f for f in result.violations if f.property == cls.breaks] or list(result.violations)
    scripted = False
    simulated = None
    if wanted:
        figure = _figure(result, wanted[0])
    else:
        if simulate_seconds > 0 and not result.complete:
            figure, simulated = _simulated_figure(cls, cls.catch_params, simulate_seconds)
        if figure is None:
            figure = _scenario_figure(cls, cls.catch_params, cls.breaks)
            scripted = figure is not None
    return VariantOutcome(
        name=name,
        description=cls.description,
        breaks=cls.breaks,
        params=params,
        violated=[f.property for f in result.violations],
        distinct_states=result.distinct_states,
        seconds=seconds,
        figure=figure,
        complete=result.complete or bool(result.violations),
        scripted=scripted,
        simulated=simulated,
    )


def build_report(
    spec_cls: type[RaftSpec] = RaftSpec,
    params: Optional[Params] = None,
    *,
    preset: Optional[str] = None,
    result: Optional[ExploreResult] = None,
    variants: Optional[Sequence[str]] = None,
    graph_params: Optional[Params] = GRAPH_PARAMS,
    extra_engines: Optional[dict[str, dict[str, dict[str, Any]]]] = None,
    engine_notes: Optional[dict[str, str]] = None,
    conformance: Optional[dict[str, Any]] = None,
    note: Optional[ProgressNote] = None,
    progress: Optional[ProgressFactory] = None,
    variant_max_states: Optional[int] = VARIANT_MAX_STATES,
    variant_simulate_seconds: float = VARIANT_SIMULATE_SECONDS,
    variant_params: str = "catch",
) -> ReportData:
    """Explore (unless `result` is given) and collect everything the report shows.

    `variants`: names of broken variants to include (None: all of them, []: none).
    `graph_params`: the tiny configuration to draw (None: no graph).
    `extra_engines`: {engine: {property: {"status": ..., "detail": ...}}} from other engines.
    `note`: called with a line of progress before each long step.
    `progress`: called with the name of each exploration for a callback that gets the explorer's snapshots.
    `variant_max_states`: the state budget of each variant's search (None: no limit).
    `variant_simulate_seconds`: the simulation that takes over from a variant's search
    stopped at that budget (0: none).
    `variant_params`: "catch" (each variant's `catch_params`) or "quick" (its `quick_params`,
    small ones that still catch it; a profile's choice, `checker/jobs/profiles.py`).
    """
    started = time.perf_counter()
    say = note or (lambda line: None)
    if result is None:
        if params is None:
            raise ValueError("build_report needs params or an explored result")
        say(f"exploring {spec_cls.name}: {params.describe()}")
        # The graph is kept for the liveness properties (checker/liveness/), judged on it.
        result = with_liveness(explore(spec_cls(params), keep_graph=True, stop_on_violation=False, progress=progress(spec_cls.name) if progress else None))
    spec = result.spec
    summary = summarise(result)
    figures = [_figure(result, f) for f in result.violations]
    for prop in result.properties:
        if prop.kind == "sometimes" and prop.name in result.witnesses:
            figures.append(_figure(result, result.witnesses[prop.name]))
    figures += _lasso_figures(result)
    names = list(VARIANTS) if variants is None else list(variants)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise KeyError(f"unknown variant {unknown[0]!r}; known: {', '.join(VARIANTS)}")
    outcomes = []
    for name in names:
        say(f"exploring variant {name}: {params_for_variant(name, variant_params).describe()}")
        outcomes.append(run_variant(name, progress(name) if progress else None, variant_max_states, variant_simulate_seconds, variant_params))
    graph_svg, graph_states, graph_note = None, 0, "not drawn (no graph configuration given)"
    if graph_params is not None:
        say(f"exploring the graph configuration: {graph_params.describe()}")
        # Capped: a configuration too big to draw is not worth exploring to the end.
        tiny = explore(type(spec)(graph_params), keep_graph=True, stop_on_violation=False, max_states=GRAPH_MAX_NODES + 1)
        graph_states = tiny.distinct_states
        marked: dict[int, str] = {}
        for f in [*tiny.violations, *tiny.witnesses.values()]:
            what = "witness of" if f.kind == "sometimes" else "violates"
            marked[f.state] = (marked[f.state] + ", " if f.state in marked else "") + f"{what} {f.property}"
        if tiny.complete and tiny.distinct_states <= GRAPH_MAX_NODES:
            graph_svg = svg.state_graph(
                tiny, title=f"every reachable state of {spec.name} with {graph_params.describe()}", marked=marked, max_nodes=GRAPH_MAX_NODES
            )
            graph_note = (
                f"{tiny.distinct_states:,} states and {tiny.transitions:,} transitions; one column per BFS depth. "
                "Hover over a state or an edge for its roles, terms and actions."
            )
        else:
            graph_note = f"not drawn: the configuration has more than {GRAPH_MAX_NODES:,} states; choose a smaller one"
    return ReportData(
        spec_name=spec.name,
        spec_description=spec.description,
        fingerprint=spec_fingerprint(type(spec)),
        params=spec.params,
        preset=preset,
        versions=tool_versions(),
        date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        summary=summary,
        figures=figures,
        variants=outcomes,
        graph_svg=graph_svg,
        graph_params=graph_params or GRAPH_PARAMS,
        graph_states=graph_states,
        graph_note=graph_note,
        extra_engines=dict(extra_engines or {}),
        engine_notes=dict(engine_notes or {}),
        conformance=conformance,
        seconds=time.perf_counter() - started,
    )


def engines_from_document(doc: dict[str, Any]) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, str], Optional[dict[str, Any]]]:
    """From a `verify` result document: per-engine property results (all but the explorer),
    per-engine notes (errors, timings), and the conformance engine's figures if it ran."""
    engines: dict[str, dict[str, dict[str, Any]]] = {}
    notes: dict[str, str] = {}
    conformance = None
    for name, section in doc.get("engines", {}).items():
        if name == "explorer":
            continue
        engines[name] = {p: dict(entry) for p, entry in section.get("properties", {}).items()}
        parts = [f"{section['seconds']:.2f} s" if isinstance(section.get("seconds"), (int, float)) else ""]
        if section.get("error"):
            parts.append(f"error: {section['error']}")
        notes[name] = "; ".join(p for p in parts if p)
        if name == "conformance":
            conformance = {k: v for k, v in section.items() if k not in ("properties", "ok", "error")}
    return engines, notes, conformance


# ----------------------------------------------------------------- rendering

CSS = """
:root { color-scheme: light; }
body { font-family: DejaVu Sans, Verdana, Arial, sans-serif; color: #1b1f23; margin: 0; background: #f6f8fa; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 32px 64px; background: #ffffff; }
h1 { font-size: 26px; margin: 0 0 4px; } h1 code { font-size: 22px; }
h2 { font-size: 20px; margin: 40px 0 8px; padding-bottom: 4px; border-bottom: 2px solid #d0d7de; }
h3 { font-size: 16px; margin: 28px 0 6px; }
p, li { line-height: 1.5; font-size: 14px; max-width: 980px; }
.lead { color: #57606a; margin-top: 0; }
.verdict { display: inline-block; padding: 6px 14px; border-radius: 6px; font-weight: bold; font-size: 15px; color: #ffffff; }
.verdict.pass { background: #2e9d4f; } .verdict.fail { background: #d1242f; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: DejaVu Sans Mono, Menlo, Consolas, monospace; font-size: 12px; }
.status { font-weight: bold; white-space: nowrap; }
.good { color: #1a7f37; } .bad { color: #d1242f; } .other { color: #9a6700; } .none { color: #8c959f; }
tr.unfired td { background: #fff8c5; }
.figure { overflow-x: auto; border: 1px solid #d0d7de; border-radius: 6px; padding: 6px; margin: 8px 0; background: #ffffff; }
.figure svg { display: block; }
details { margin: 6px 0; } summary { cursor: pointer; color: #0969da; font-size: 13px; }
pre { background: #f6f8fa; padding: 10px; overflow-x: auto; font-size: 12px; line-height: 1.35; border-radius: 6px; }
.note { background: #ddf4ff; border-left: 4px solid #0969da; padding: 8px 12px; border-radius: 4px; max-width: 980px; }
.placeholder { color: #57606a; font-style: italic; }
nav ol { columns: 2; font-size: 14px; }
.card { border: 1px solid #d0d7de; border-radius: 8px; padding: 4px 16px 12px; margin: 18px 0; }
"""


def _status_class(status: Optional[str]) -> str:
    if status is None:
        return "none"
    if status in GOOD_STATUSES or status in ("caught", "caught-by-simulation"):
        return "good"
    if status in ("missed", "violated", "never-witnessed", "error", "diverges", "diverged", "counterexample", "failed"):
        return "bad"
    return "other"


def _status(status: Optional[str]) -> str:
    return f'<span class="status {_status_class(status)}">{esc(status or "not run")}</span>'


def _kv_table(rows: Sequence[tuple[str, str]], raw: bool = False) -> str:
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v if raw else esc(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _figure_html(fig: TraceFigure, anchor: str) -> str:
    parts = [f'<div class="card" id="{esc(anchor)}">']
    what = "Witness" if fig.kind == "witness" else "Counterexample"
    parts.append(f"<h3>{what}: {esc(fig.name)} <span class='lead'>({fig.steps} steps)</span></h3>")
    parts.append(f"<p><b>{esc(fig.name)}</b>: {esc(fig.description)}.</p>")
    if fig.note:
        parts.append(f'<p class="note">{esc(fig.note)}</p>')
    parts.append(f'<div class="figure">{fig.diagram}</div>')
    parts.append(f"<details><summary>the trace as text (what changed at each step)</summary><pre>{esc(fig.text)}</pre></details>")
    parts.append("</div>")
    return "".join(parts)


def _engine_columns(data: ReportData) -> list[str]:
    return ["explorer", *data.extra_engines]


def _engine_results(data: ReportData) -> dict[str, dict[str, dict[str, Any]]]:
    explorer: dict[str, dict[str, Any]] = {}
    for row in data.summary["properties"]:
        entry: dict[str, Any] = {"status": row["status"], "kind": row["kind"]}
        if "depth" in row:
            entry["detail"] = f"at depth {row['depth']}" + (f": {row['error']}" if row.get("error") else "")
        explorer[row["name"]] = entry
    return {"explorer": explorer, **data.extra_engines}


def _property_rows(data: ReportData) -> list[tuple[str, str, str]]:
    """(name, kind, description) of every property any engine reported, in report order."""
    rows: list[tuple[str, str, str]] = [(p.name, p.kind, p.description) for p in PROPERTIES]
    known = {r[0] for r in rows}
    for row in data.summary["properties"]:
        if row["name"] not in known:
            rows.append((row["name"], row["kind"], row.get("description", "")))
            known.add(row["name"])
    for props in data.extra_engines.values():
        for name, entry in props.items():
            if name not in known:
                rows.append((name, str(entry.get("kind", "")), ""))
                known.add(name)
    return rows


def _results_table(data: ReportData) -> str:
    engines = _engine_columns(data)
    results = _engine_results(data)
    head = "".join(f"<th>{esc(e)}</th>" for e in engines)
    body = []
    for name, kind, description in _property_rows(data):
        cells = []
        for e in engines:
            entry = results.get(e, {}).get(name)
            if entry is None:
                cells.append('<td><span class="status none">\u2014</span></td>')
                continue
            detail = str(entry.get("detail", "") or "")
            cell = _status(entry.get("status"))
            if detail and "\n" in detail:
                cell += f"<details><summary>detail</summary><pre>{esc(detail)}</pre></details>"
            elif detail:
                cell += f' <span class="lead">{esc(detail)}</span>'
            cells.append(f"<td>{cell}</td>")
        body.append(f"<tr><td><b>{esc(name)}</b><br><span class='lead'>{esc(description)}</span></td><td>{esc(kind)}</td>{''.join(cells)}</tr>")
    table = f"<table><tr><th>property</th><th>kind</th>{head}</tr>{''.join(body)}</table>"
    if not data.extra_engines:
        table += (
            '<p class="placeholder">Only the explorer ran for this report. Z3 (bounded and inductive) and conformance '
            "results appear here as further columns when the report is given a <code>verify</code> result document "
            "(<code>leaderfollower verify --json RESULT.json</code>, then <code>leaderfollower report OUT.html --from-json "
            "RESULT.json</code>).</p>"
        )
    if data.engine_notes:
        table += "<p>Engine runs (from the result document):</p>" + _kv_table([(e, n or "ran") for e, n in data.engine_notes.items()])
    return table


def _coverage_table(data: ReportData) -> str:
    rows = []
    for name, c in data.summary["coverage"].items():
        cls = ' class="unfired"' if not c["within_bounds"] else ""
        flag = " (never fired)" if not c["within_bounds"] else ""
        rows.append(
            f"<tr{cls}><td>{esc(name)}{esc(flag)}</td><td class='num'>{c['enabled']:,}</td>"
            f"<td class='num'>{c['within_bounds']:,}</td><td class='num'>{c['new_states']:,}</td></tr>"
        )
    covered = sum(1 for c in data.summary["coverage"].values() if c["within_bounds"])
    total = len(data.summary["coverage"])
    return (
        f"<p>{covered} of {total} actions fired within the bounds. <i>enabled</i>: transitions where the action "
        "was enabled; <i>within bounds</i>: of those, successors inside the state constraint; <i>new states</i>: "
        "successors seen for the first time.</p>"
        "<table><tr><th>action</th><th>enabled</th><th>within bounds</th><th>new states</th></tr>" + "".join(rows) + "</table>"
    )


def _figures_html(value: Any) -> str:
    """A generic rendering of an engine's figures: scalars in a table, lists and dicts nested."""
    if isinstance(value, dict):
        if not value:
            return '<span class="none">none</span>'
        return _kv_table([(str(k), _figures_html(v)) for k, v in value.items()], raw=True)
    if isinstance(value, list):
        if not value:
            return '<span class="none">none</span>'
        if all(isinstance(v, dict) for v in value):
            keys: list[str] = []
            for v in value:
                keys += [k for k in v if k not in keys]
            head = "".join(f"<th>{esc(k)}</th>" for k in keys)
            body = "".join("<tr>" + "".join(f"<td>{_figures_html(v.get(k, ''))}</td>" for k in keys) + "</tr>" for v in value)
            return f"<table><tr>{head}</tr>{body}</table>"
        return esc(", ".join(str(v) for v in value))
    if isinstance(value, float):
        return esc(f"{value:,.3f}")
    if isinstance(value, int) and not isinstance(value, bool):
        return esc(f"{value:,}")
    return esc(value)


def _conformance_html(data: ReportData) -> str:
    if not data.conformance:
        return (
            '<p class="placeholder">No conformance run is included. The conformance engine replays a cover of the '
            "explored graph's transitions through the real implementation; run <code>leaderfollower verify --json "
            "RESULT.json</code> with it and pass <code>--from-json RESULT.json</code> to show its coverage here.</p>"
        )
    c = data.conformance
    lines = []
    for done, total, what in (("transitions_covered", "transitions", "transitions"), ("actions_covered", "actions_total", "actions")):
        if isinstance(c.get(done), int) and isinstance(c.get(total), int) and c[total]:
            pct = 100.0 * c[done] / c[total]
            lines.append(f"<li>{c[done]:,} of {c[total]:,} {what} replayed through the implementation ({pct:.1f}%)</li>")
    summary = f"<ul>{''.join(lines)}</ul>" if lines else ""
    return summary + _figures_html(c)


def _inline_table(pairs: Sequence[tuple[str, str]]) -> str:
    """A two-row table: names above, values below."""
    head = "".join(f"<th>{esc(k)}</th>" for k, _ in pairs)
    body = "".join(f"<td class='mono'>{esc(v)}</td>" for _, v in pairs)
    return f"<table><tr>{head}</tr><tr>{body}</tr></table>"


def _params_rows(p: Params) -> list[tuple[str, str]]:
    return [(k, str(v).lower() if isinstance(v, bool) else str(v)) for k, v in p.to_dict().items()]


def _bugs_section(data: ReportData) -> list[str]:
    """The "bugs this checker catches" section: a table of the broken variants, then a card each."""
    out: list[str] = []
    out.append('<h2 id="bugs">Bugs this checker catches</h2>')
    if data.variants:
        out.append(
            "<p>Each broken variant below changes one method of the spec the way a real implementation bug would. "
            "The explorer must find a counterexample to the property it breaks; the table says whether it did.</p>"
        )
        rows = []
        for v in data.variants:
            steps = str(v.figure.steps) if v.figure else "\u2014"
            rows.append(
                f"<tr><td><a href='#variant-{esc(v.name)}'><code>{esc(v.name)}</code></a></td><td>{esc(v.description)}</td>"
                f"<td>{esc(v.breaks)}</td><td>{_status(v.how)}{' <span class=lead>(scripted scenario shown)</span>' if v.scripted else ''}</td>"
                f"<td class='num'>{steps}</td><td class='num'>{v.distinct_states:,}</td><td class='num'>{v.seconds:.1f} s</td></tr>"
            )
        out.append(
            "<table><tr><th>variant</th><th>the bug</th><th>breaks</th><th>caught</th><th>counterexample steps</th>"
            "<th>states explored</th><th>time</th></tr>" + "".join(rows) + "</table>"
        )
        for v in data.variants:
            out.append(f'<div class="card" id="variant-{esc(v.name)}">')
            out.append(f"<h3>Variant <code>{esc(v.name)}</code>: {esc(v.description)}</h3>")
            if v.not_run is not None:
                out.append(f"<p>Breaks <b>{esc(v.breaks)}</b>. Not searched in this profile: {esc(v.not_run)}.</p>")
            else:
                out.append(
                    f"<p>Breaks <b>{esc(v.breaks)}</b>. Explored on <code>{esc(v.params.describe())}</code>: "
                    f"{v.distinct_states:,} states in {v.seconds:.1f} s{'' if v.complete else ' (stopped at the state budget)'}; "
                    f"violated: {esc(', '.join(v.violated) or 'nothing')}.</p>"
                )
            if v.figure:
                if v.scripted or v.simulated:
                    out.append(f'<p class="note">{esc(v.figure.note)} The highlighted step {v.figure.steps} breaks {esc(v.figure.name)}.</p>')
                else:
                    out.append(f"<p>Counterexample of {v.figure.steps} steps; the highlighted last step breaks {esc(v.figure.name)}.</p>")
                out.append(f'<div class="figure">{v.figure.diagram}</div>')
                out.append(f"<details><summary>the trace as text</summary><pre>{esc(v.figure.text)}</pre></details>")
            else:
                what = (
                    "the checker missed this bug on these parameters"
                    if v.complete
                    else "it was not searched in this profile" if v.not_run is not None else "the search stopped at its state budget first"
                )
                out.append(f'<p class="bad">No counterexample found: {what}.</p>')
            out.append("</div>")
    else:
        out.append('<p class="placeholder">No broken variants were run for this report (<code>--no-variants</code>).</p>')
    return out


def _findings_sections(violations: list[TraceFigure], witnesses: list[TraceFigure], s: dict[str, Any]) -> list[str]:
    """The counterexamples and the witnesses, each as a diagram (or why there is none)."""
    out: list[str] = []
    out.append('<h2 id="counterexamples">Counterexamples</h2>')
    if violations:
        out.extend(_figure_html(f, f"violation-{f.name}") for f in violations)
    else:
        out.append("<p>None: no property is violated in any reachable state within the bounds.</p>")
    out.append('<h2 id="witnesses">Witnesses of sometimes properties</h2>')
    out.append("<p>The shortest trace to a state where each <i>sometimes</i> property holds.</p>")
    missing = [r["name"] for r in s["properties"] if r["kind"] == "sometimes" and r["status"] != Status.WITNESSED]
    for name in missing:
        out.append(f'<p class="bad">{esc(name)}: never witnessed, so the model cannot do this within the bounds.</p>')
    out.extend(_figure_html(f, f"witness-{f.name}") for f in witnesses)
    return out


def render_html(data: ReportData) -> str:
    """The report as one self-contained HTML page."""
    s = data.summary
    verdict = "PASS" if data.ok else "FAIL"
    caught = sum(1 for v in data.variants if v.caught)
    witnesses = [f for f in data.figures if f.kind == "witness"]
    violations = [f for f in data.figures if f.kind == "violation"]
    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>leaderfollower report: {esc(data.spec_name)}</title>",
        f"<style>{CSS}</style></head><body><main>",
        f"<h1>leaderfollower design-review report: <code>{esc(data.spec_name)}</code></h1>",
        f'<p class="lead">{esc(data.spec_description)}. Generated {esc(data.date)} in {data.seconds:.1f} s.</p>',
        f'<p><span class="verdict {"pass" if data.ok else "fail"}">{verdict}</span> '
        f"{s['distinct_states']:,} distinct states, {s['transitions']:,} transitions, diameter {s['diameter']}; "
        f"explorer: {sum(1 for r in s['properties'] if r['status'] in GOOD_STATUSES)} of {len(s['properties'])} properties hold or are witnessed"
        + (f"; {caught} of {len(data.variants)} broken variants caught" if data.variants else "")
        + ".</p>",
        ("<ul>" + "".join(f'<li class="bad">{esc(p)}</li>' for p in data.problems())
         + "".join(f'<li class="other">{esc(w)}</li>' for w in data.warnings()) + "</ul>")
        if data.problems() or data.warnings() else "",
        "<nav><ol>"
        '<li><a href="#checked">What was checked</a></li><li><a href="#results">Results per property and engine</a></li>'
        '<li><a href="#coverage">Action coverage</a></li><li><a href="#depth">States per BFS depth</a></li>'
        '<li><a href="#conformance">Conformance coverage</a></li><li><a href="#counterexamples">Counterexamples</a></li>'
        '<li><a href="#witnesses">Witnesses of sometimes properties</a></li><li><a href="#graph">The state graph of a tiny configuration</a></li>'
        '<li><a href="#bugs">Bugs this checker catches</a></li><li><a href="#reading">How to read the diagrams</a></li>'
        "</ol></nav>",
    ]
    # What was checked.
    out.append('<h2 id="checked">What was checked</h2>')
    out.append(
        _kv_table(
            [
                ("spec", f"<code>{esc(data.spec_name)}</code>: {esc(data.spec_description)}"),
                ("spec fingerprint", f"<code>{esc(data.fingerprint)}</code><br><span class='lead'>SHA-256 over the source of "
                 "<code>spec/*.py</code> and of the spec class's module</span>"),
                ("preset", esc(data.preset or "(parameters given directly)")),
                ("parameters", _inline_table(_params_rows(data.params))),
                ("search", esc(f"{'complete' if s['complete'] else 'stopped early'}; {s['seconds']:.2f} s"
                               + (f", {s['states_per_second']:,} states/s" if s["states_per_second"] else "")
                               + f"; {s['deadlocks']} deadlock(s)")),
                ("versions", _inline_table(sorted(data.versions.items()))),
                ("date", esc(data.date)),
            ],
            raw=True,
        )
    )
    out.append('<h2 id="results">Results per property and engine</h2>')
    out.append(
        "<p><i>always</i>: must hold in every reachable state; <i>action</i>: must hold across every step; "
        "<i>sometimes</i>: must hold in at least one reachable state (a witness shows the thing can happen, "
        "so a spec in which nothing happens fails).</p>"
    )
    out.append(_results_table(data))
    out.append('<h2 id="coverage">Action coverage</h2>')
    out.append(_coverage_table(data))
    out.append('<h2 id="depth">States per BFS depth</h2>')
    out.append(f'<div class="figure">{svg.depth_chart(s["states_per_depth"])}</div>')
    out.append('<h2 id="conformance">Conformance coverage</h2>')
    out.append(_conformance_html(data))
    out.extend(_findings_sections(violations, witnesses, s))
    out.append('<h2 id="graph">The state graph of a tiny configuration</h2>')
    out.append(f"<p>Configuration: <code>{esc(data.graph_params.describe())}</code>. {esc(data.graph_note)}</p>")
    if data.graph_svg:
        out.append(f'<div class="figure">{data.graph_svg}</div>')
    out.extend(_bugs_section(data))
    out.append('<h2 id="reading">How to read the diagrams</h2>')
    out.append(
        "<ul><li>One vertical lifeline per server; its colour is the server's role after each step: "
        "<span style='color:#9aa5b1'><b>grey</b></span> follower, <span style='color:#e0a100'><b>amber</b></span> candidate, "
        "<span style='color:#2e9d4f'><b>green</b></span> leader. A small <b>C t2</b> next to a box marks a change of role or term.</li>"
        "<li>One row per step. Each step is a box on the lifeline of the server that takes it (the recipient, for a message "
        "handler); network faults (duplicate, drop) sit on the dotted network column.</li>"
        "<li>An arrow runs from the step that puts a message in the network to the step that takes it out. A dashed arrow "
        "to the bottom edge is still in flight at the end; a dotted arrow ending in a red cross was lost.</li>"
        "<li>The right-hand column lists every variable that changed. The highlighted row is where the property "
        "breaks (red) or is first witnessed (green). Hover over boxes, arrows and lifelines for full details.</li></ul>"
    )
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(data: ReportData, html_name: str = "") -> str:
    """A short Markdown summary for a pull request: verdict, results table, variants."""
    s = data.summary
    lines = [
        f"## leaderfollower report: `{data.spec_name}` \u2014 {'PASS' if data.ok else 'FAIL'}",
        "",
        f"- spec fingerprint: `{data.fingerprint}`",
        f"- parameters: `{data.params.describe()}`" + (f" (preset `{data.preset}`)" if data.preset else ""),
        f"- explored: {s['distinct_states']:,} states, {s['transitions']:,} transitions, diameter {s['diameter']}, "
        f"{'complete' if s['complete'] else 'stopped early'} in {s['seconds']:.2f} s",
        f"- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(data.versions.items())),
        f"- date: {data.date}",
        "",
    ]
    engines = _engine_columns(data)
    results = _engine_results(data)
    lines.append("| property | kind | " + " | ".join(engines) + " |")
    lines.append("|---|---|" + "---|" * len(engines))
    for name, kind, _ in _property_rows(data):
        cells = []
        for e in engines:
            entry = results.get(e, {}).get(name)
            cells.append(_md_escape(str(entry.get("status", ""))) if entry else "\u2014")
        lines.append(f"| {name} | {kind} | " + " | ".join(cells) + " |")
    covered = sum(1 for c in s["coverage"].values() if c["within_bounds"])
    lines += ["", f"Action coverage: {covered} of {len(s['coverage'])} actions fired within the bounds."]
    unfired = [n for n, c in s["coverage"].items() if not c["within_bounds"]]
    if unfired:
        lines.append("Never fired: " + ", ".join(unfired) + ".")
    if data.conformance:
        c = data.conformance
        if "transitions_covered" in c and "transitions" in c:
            lines.append(f"Conformance: {c['transitions_covered']:,} of {c['transitions']:,} transitions replayed through the implementation.")
    if data.figures:
        lines += ["", "| trace | property | steps |", "|---|---|---|"]
        for f in data.figures:
            lines.append(f"| {f.kind} | {f.name} | {f.steps} |")
    if data.variants:
        lines += ["", "Bugs this checker catches:", "", "| variant | breaks | caught | counterexample steps | states | time |", "|---|---|---|---|---|---|"]
        for v in data.variants:
            steps = str(v.figure.steps) if v.figure else "\u2014"
            lines.append(
                f"| `{v.name}` ({_md_escape(v.description)}) | {v.breaks} | {'yes' if v.caught else '**' + v.how + '**' + (' (scripted scenario shown)' if v.scripted else '')} | {steps} | "
                f"{v.distinct_states:,} | {v.seconds:.1f} s |"
            )
    if html_name:
        lines += ["", f"Diagrams of every counterexample and witness are in `{html_name}` (self-contained; open it from the CI artifacts)."]
    return "\n".join(lines) + "\n"


def write_report(data: ReportData, out: Path) -> tuple[Path, Path]:
    """Write the HTML page and the Markdown summary beside it (same name, `.md`)."""
    md_path = out.with_suffix(".md")
    if md_path == out:
        md_path = out.with_name(out.name + ".md")
    out.write_text(render_html(data), encoding="utf-8")
    md_path.write_text(render_markdown(data, out.name), encoding="utf-8")
    return out, md_path
