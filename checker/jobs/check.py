"""The `check` job: explore, judge every property, and describe the outcome.

How this works: `run_check` runs the explorer with a progress callback, then
`summarise` turns the `ExploreResult` into a plain dict (the `--json` document,
also the basis of later result documents) with one entry per property: its kind,
a `Status` (`holds`, `violated`, `witnessed`, `never-witnessed`, ...), and for findings
the depth and the concrete trace.  Printing lives in `render`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence

from leaderfollower.spec.actions import ACTION_NAMES
from leaderfollower.spec.properties import PROPERTIES, Property
from leaderfollower.spec.raft import RaftSpec

from leaderfollower.checker.explore.budget import STOP_REQUESTED, Budget
from leaderfollower.checker.explore.result import ExploreResult, Finding, ProgressFn
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.explore.traces import finding_trace
from leaderfollower.checker.formats.itf import write_itf
from leaderfollower.checker.jobs.status import Status
from leaderfollower.checker.liveness.check import LivenessOutcome, timed_check

DOC_VERSION = 1


class PropertySelectionError(ValueError):
    """`--property`/`--skip-property` named a property the spec does not have; the message says which."""


def select_properties(spec: RaftSpec, only: Sequence[str] = (), skip: Sequence[str] = ()) -> tuple[Property, ...]:
    """The spec's properties (a variant's own list, or every property), narrowed to `only`
    (if any are named) and without `skip`, in report order."""
    props: tuple[Property, ...] = tuple(getattr(spec, "properties", PROPERTIES))
    known = [p.name for p in props]
    for name in (*only, *skip):
        if name not in known:
            raise PropertySelectionError(f"unknown property {name!r}; known: {', '.join(known)}")
    return tuple(p for p in props if (not only or p.name in only) and p.name not in skip)


def run_check(
    spec: RaftSpec,
    *,
    properties: Optional[Sequence[Property]] = None,
    keep_graph: bool = True,
    stop_on_violation: bool = True,
    progress: Optional[ProgressFn] = None,
    budget: Optional[Budget] = None,
    workers: int = 1,
    ray: Optional[str] = None,
) -> ExploreResult:
    """Explore the spec's model and check its properties (default: all of them), within the budget if any.

    With `workers` above 1, or a `ray` address, the search is partitioned over that
    many worker processes or Ray actors (checker/distributed/) and keeps no graph;
    it honours the budget's depth limit, its state limit at the end of a level, and
    its time limit and stop requests within a second.
    """
    if workers > 1 or ray is not None:
        from leaderfollower.checker.distributed.run import explore_partitioned

        return with_liveness(explore_partitioned(
            spec, properties, workers=workers, ray=ray, stop_on_violation=stop_on_violation, progress=progress,
            max_states=budget.max_states if budget is not None else None,
            max_depth=budget.max_depth if budget is not None else None,
            stop_when=budget.stop_reason if budget is not None else None,
        ))
    return with_liveness(explore(spec, properties, keep_graph=keep_graph, stop_on_violation=stop_on_violation, progress=progress, budget=budget))


def with_liveness(result: ExploreResult) -> ExploreResult:
    """The result with its liveness properties judged on its graph (checker/liveness/), or skipped saying why."""
    result.liveness, result.liveness_seconds = timed_check(result)
    return result


def verdict(result: ExploreResult, budget: Optional[Budget] = None) -> tuple[str, str]:
    """The run's verdict word (`holds`, `violated`, `never-witnessed`, `incomplete`) and its line.

    A violation found is a violation however the run ended; otherwise a search that
    did not finish is `incomplete`, with what stopped it, and never `holds`.
    """
    live: list[LivenessOutcome] = result.liveness
    live_violated = {o.property.name for o in live if o.status == "violated"}
    if result.violations or result.deadlocks or live_violated:
        names = sorted({f.property for f in result.violations} | ({"Deadlock"} if result.deadlocks else set()) | live_violated)
        return "violated", f"violated: {', '.join(names)}"
    if not result.complete:
        return "incomplete", f"incomplete ({stop_description(result, budget)}): no violation in {result.distinct_states:,} states"
    inconclusive = [o.property.name for o in live if o.status == "inconclusive"]
    if inconclusive:
        return "inconclusive", f"inconclusive at these bounds: {', '.join(inconclusive)} (a fair cycle exists only because the bounds cut fair actions)"
    if not result.ok:
        missing = [p for p in result.properties if p.kind == "sometimes" and p.name not in result.witnesses]
        reasons = [p.impossible_when(result.spec.params) if p.impossible_when is not None else None for p in missing]
        named = [f"{p.name} ({why})" if why else p.name for p, why in zip(missing, reasons)]
        hint = "; --skip-property NAME leaves out one the bounds rule out" if any(reasons) else ""
        return "never-witnessed", f"failed: never witnessed: {', '.join(named)}{hint}"
    skipped = [o for o in live if o.status == "skipped"]
    if skipped:
        return "holds", (
            f"holds: every safety property, every reachable state within the bounds ({result.distinct_states:,});"
            f" liveness skipped: {skipped[0].why}"
        )
    return "holds", f"holds: every property, every reachable state within the bounds ({result.distinct_states:,})"


def stop_description(result: ExploreResult, budget: Optional[Budget]) -> str:
    """Why a search is incomplete, naming the limit that stopped it (`bounded by --max-states 1,000`)."""
    reason = result.stopped_by
    limit = budget.limit(reason) if budget is not None and reason is not None else None
    if limit is not None:
        return f"bounded by {limit}"
    if reason == STOP_REQUESTED:
        return f"interrupted by {budget.requested}" if budget is not None and budget.requested else "interrupted"
    return str(result.incomplete_because)


def property_statuses(result: ExploreResult) -> list[dict[str, Any]]:
    """One record per property (and one per action error): name, kind, status, depth."""
    violated = {f.property: f for f in result.violations}
    live: dict[str, LivenessOutcome] = {o.property.name: o for o in result.liveness}
    spec = result.spec
    rows: list[dict[str, Any]] = []
    for prop in result.properties:
        row: dict[str, Any] = {"name": prop.name, "kind": prop.kind, "description": prop.description}
        if prop.name in live:
            row.update(liveness_row(live[prop.name]))
        elif prop.name in violated:
            f = violated[prop.name]
            row["status"] = Status.VIOLATED
            row["depth"] = int(result.depth[f.state]) + (1 if f.action is not None else 0)  # an action property's bad step
            if f.error:
                row["error"] = f.error
        elif prop.kind == "sometimes":
            w = result.witnesses.get(prop.name)
            if w is not None:
                row["status"] = Status.WITNESSED
                row["depth"] = int(result.depth[w.state])
            else:
                row["status"] = Status.NEVER_WITNESSED if result.complete else Status.NOT_WITNESSED_YET
                why = prop.impossible_when(spec.params) if prop.impossible_when is not None else None
                if why is not None:
                    row["why"] = why
        else:
            row["status"] = Status.HOLDS if result.complete else Status.NO_VIOLATION_SO_FAR
        rows.append(row)
    for f in result.violations:
        if f.kind == "error":
            # Named as in the concrete trace (under symmetry the stored state may be a
            # permutation of it); the depth is the state's, as TLC counts an evaluation error.
            ft = finding_trace(result, f) if f.action is not None else None
            action, error = (ft.failed, ft.error) if ft is not None else (f.action, f.error)
            rows.append(
                {
                    "name": f.property,
                    "kind": "error",
                    "description": "an action raised an exception",
                    "status": Status.VIOLATED,
                    "depth": int(result.depth[f.state]),
                    "error": f"{action}: {error}" if action is not None else str(error),
                }
            )
    return rows


def liveness_row(outcome: LivenessOutcome) -> dict[str, Any]:
    """A liveness property's status, why, and its lasso's prefix and cycle lengths (in steps)."""
    row: dict[str, Any] = {"status": Status(outcome.status)}
    if outcome.why:
        row["why"] = outcome.why
    if outcome.lasso is not None:
        row["prefix_length"] = outcome.lasso.loop
        row["cycle_length"] = len(outcome.lasso.trace) - 1 - outcome.lasso.loop
        row["depth"] = len(outcome.lasso.trace) - 1
    if outcome.cut_actions:
        row["cut_actions"] = outcome.cut_actions
    return row


def summarise(result: ExploreResult, trace_files: Optional[dict[str, str]] = None, budget: Optional[Budget] = None) -> dict[str, Any]:
    """The run as a JSON-ready document (stable keys; see docs/result-format.md)."""
    spec = result.spec
    seconds = result.search_seconds
    word, line = verdict(result, budget)
    return {
        "version": DOC_VERSION,
        "spec": spec.name,
        "spec_description": spec.description,
        "params": spec.params.to_dict(),
        "ok": result.ok,
        "verdict": word,
        "verdict_line": line,
        "complete": result.complete,
        "incomplete_because": result.incomplete_because,
        "stopped_by": result.stopped_by,
        "bounded_by": budget.limit(result.stopped_by) if budget is not None and result.stopped_by else None,
        "unexpanded_states": result.unexpanded_states,
        "distinct_states": result.distinct_states,
        "transitions": result.transitions,
        "diameter": result.diameter,
        "seconds": round(seconds, 3),
        "graph_seconds": round(result.graph_seconds, 3),
        "liveness_seconds": round(result.liveness_seconds, 3),
        "states_per_second": round(result.distinct_states / seconds) if seconds > 0 else None,
        "states_per_depth": list(result.states_per_depth),
        "counts_note": result.counts_note,
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
        ft = finding_trace(result, f)
        prefix = "witness" if f.kind == "sometimes" else "counterexample"
        path = directory / f"{prefix}-{f.property}.itf.json"
        what = f"{'witness of' if f.kind == 'sometimes' else 'violation of'} {f.property}"
        raised = (ft.failed, ft.error or "") if ft.failed is not None else None
        write_itf(path, ft.trace, result.spec.params, result.spec.name, what, raised=raised)
        written[f.property] = str(path)
    for o in result.liveness:
        if o.lasso is not None:
            path = directory / f"lasso-{o.property.name}.itf.json"
            write_itf(path, o.lasso.trace, result.spec.params, result.spec.name, f"{o.status} {o.property.name}: {o.why}", loop=o.lasso.loop)
            written[o.property.name] = str(path)
    return written
