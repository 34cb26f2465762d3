"""The `check` job: explore, judge every property, and describe the outcome.

How this works: `run_check` runs the explorer with a progress callback, then
`summarise` turns the `ExploreResult` into a plain dict (the `--json` document,
also the basis of later result documents) with one entry per property: its kind,
a status (`holds`, `violated`, `witnessed`, `never-witnessed`), and for findings
the depth and the concrete trace.  Printing lives in `render`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from leaderfollower.spec.raft import ACTION_NAMES, RaftSpec

from leaderfollower.checker.explore.search import ExploreResult, Finding, ProgressFn, explore
from leaderfollower.checker.formats.itf import write_itf
from leaderfollower.checker.explore.traces import Trace, counterexample, trace_to

DOC_VERSION = 1


def run_check(
    spec: RaftSpec,
    *,
    keep_graph: bool = True,
    stop_on_violation: bool = True,
    progress: Optional[ProgressFn] = None,
) -> ExploreResult:
    """Explore the spec's model and check its properties."""
    return explore(spec, keep_graph=keep_graph, stop_on_violation=stop_on_violation, progress=progress)


def finding_trace(result: ExploreResult, finding: Finding) -> Trace:
    """The concrete trace of a violation or a witness."""
    if finding.kind == "sometimes":
        return trace_to(result, finding.state)
    return counterexample(result, finding)


def property_statuses(result: ExploreResult) -> list[dict[str, Any]]:
    """One record per property (and one per action error): name, kind, status, depth."""
    violated = {f.property: f for f in result.violations}
    rows: list[dict[str, Any]] = []
    for prop in result.properties:
        row: dict[str, Any] = {"name": prop.name, "kind": prop.kind, "description": prop.description}
        if prop.name in violated:
            f = violated[prop.name]
            row["status"] = "violated"
            row["depth"] = int(result.depth[f.state]) + (1 if f.action is not None else 0)
            if f.error:
                row["error"] = f.error
        elif prop.kind == "sometimes":
            w = result.witnesses.get(prop.name)
            if w is not None:
                row["status"] = "witnessed"
                row["depth"] = int(result.depth[w.state])
            else:
                row["status"] = "never-witnessed" if result.complete else "not-witnessed-yet"
        else:
            row["status"] = "holds" if result.complete else "no-violation-so-far"
        rows.append(row)
    for f in result.violations:
        if f.kind == "error":
            rows.append(
                {
                    "name": f.property,
                    "kind": "error",
                    "description": "an action raised an exception",
                    "status": "violated",
                    "depth": int(result.depth[f.state]) + 1,
                    "error": f"{f.action}: {f.error}",
                }
            )
    return rows


def summarise(result: ExploreResult, trace_files: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """The run as a JSON-ready document (stable keys; see docs/result-format.md)."""
    spec = result.spec
    seconds = result.search_seconds
    return {
        "version": DOC_VERSION,
        "spec": spec.name,
        "spec_description": spec.description,
        "params": spec.params.to_dict(),
        "ok": result.ok,
        "complete": result.complete,
        "distinct_states": result.distinct_states,
        "transitions": result.transitions,
        "diameter": result.diameter,
        "seconds": round(seconds, 3),
        "graph_seconds": round(result.graph_seconds, 3),
        "states_per_second": round(result.distinct_states / seconds) if seconds > 0 else None,
        "states_per_depth": list(result.states_per_depth),
        "deadlocks": len(result.deadlocks),
        "properties": [
            {**row, **({"trace_file": trace_files[row["name"]]} if trace_files and row["name"] in trace_files else {})}
            for row in property_statuses(result)
        ],
        "coverage": {
            name: {"enabled": c.enabled, "within_bounds": c.within_bounds, "new_states": c.new_states}
            for name, c in result.coverage.items()
            if name in ACTION_NAMES
        },
    }


def write_traces(result: ExploreResult, directory: Path, include_witnesses: bool = True) -> dict[str, str]:
    """Write every violation's (and witness's) trace as ITF JSON; returns property -> file path."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    findings: list[Finding] = list(result.violations)
    if include_witnesses:
        findings += list(result.witnesses.values())
    for f in findings:
        trace = finding_trace(result, f)
        prefix = "witness" if f.kind == "sometimes" else "counterexample"
        path = directory / f"{prefix}-{f.property}.itf.json"
        what = f"{'witness of' if f.kind == 'sometimes' else 'violation of'} {f.property}"
        write_itf(path, trace, result.spec.params, result.spec.name, what)
        written[f.property] = str(path)
    return written
