"""`leaderfollower check`: the exhaustive explorer alone, its tables and its counterexamples."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import click
from rich.console import Console
from rich.table import Table

from leaderfollower.spec.params import PRESETS

from leaderfollower.checker.cli.common import (
    EXIT_ERROR,
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_SIGNAL,
    EXIT_VIOLATION,
    ProgressBar,
    ProgressLines,
    UsageError,
    build_params,
    fail_usage,
    progress_display,
    stop_on_signals,
)
from leaderfollower.checker.cli.options import model_options, model_overrides
from leaderfollower.checker.distributed.local import ShardFailed
from leaderfollower.checker.distributed.ray_backend import RayUnavailable
from leaderfollower.checker.distributed.search import WorkerLost
from leaderfollower.checker.explore.exports import ExportError, dump_graph
from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.explore.traces import finding_trace, format_finding
from leaderfollower.checker.jobs.status import Status
from leaderfollower.checker.explore.budget import STOP_REQUESTED, Budget
from leaderfollower.checker.jobs.check import PropertySelectionError, run_check, select_properties, summarise, write_traces
from leaderfollower.checker.jobs.specs import SpecLoadError, known_specs, load_spec_class
from leaderfollower.checker.liveness.lasso import format_lasso

def render(console: Console, result: ExploreResult, doc: dict[str, Any]) -> None:
    """Print the summary, the property table and the action coverage."""
    summary = Table(title=f"{doc['spec']}: {result.spec.params.describe()}", show_header=False)
    summary.add_row("distinct states", f"{doc['distinct_states']:,}")
    summary.add_row("transitions", f"{doc['transitions']:,}")
    summary.add_row("diameter", str(doc["diameter"]))
    summary.add_row("time", f"{doc['seconds']:.2f} s")
    if doc["states_per_second"]:
        summary.add_row("states/s", f"{doc['states_per_second']:,}")
    summary.add_row("search", "complete" if doc["complete"] else _incomplete(doc))
    console.print(summary)
    if doc["counts_note"]:
        console.print(f"counts: {doc['counts_note']}", markup=False, highlight=False)
    props = Table(title="properties")
    for col in ("property", "kind", "status", "depth"):
        props.add_column(col)
    styles = {Status.HOLDS: "green", Status.WITNESSED: "green", Status.VIOLATED: "bold red", Status.NEVER_WITNESSED: "bold red"}
    for row in doc["properties"]:
        status = row["status"]
        style = styles.get(status, "yellow")
        props.add_row(row["name"], row["kind"], f"[{style}]{status}[/]", str(row.get("depth", "")))
    console.print(props)
    for row in doc["properties"]:
        if "why" in row and "prefix_length" not in row:  # a lasso's why heads the lasso, printed after the tables
            # A sometimes property's `why` is a bound that rules it out; a liveness property's, why it got its status.
            because = "the bounds rule it out: " if row["kind"] == "sometimes" else ""
            console.print(f"{row['name']} {row['status']}: {because}{row['why']}", markup=False, highlight=False)
    cov = Table(title="action coverage")
    for col in ("action", "enabled", "within bounds", "new states"):
        cov.add_column(col, justify="right" if col != "action" else "left")
    for name, c in doc["coverage"].items():
        flag = "" if c["within_bounds"] else "  [yellow](never fired)[/]"
        cov.add_row(name + flag, f"{c['enabled']:,}", f"{c['within_bounds']:,}", f"{c['new_states']:,}")
    console.print(cov)
    if doc["deadlocks"]:
        console.print(f"[bold red]deadlock[/]: {doc['deadlocks']} state(s) with no enabled action, e.g. state {result.deadlocks[0]}")


def _incomplete(doc: dict[str, Any]) -> str:
    if doc["incomplete_because"] == "actions raised":
        return f"incomplete: actions raised in {doc['unexpanded_states']:,} state(s) (not fully expanded)"
    return f"incomplete: {doc['incomplete_because']}"


@click.command()
@click.option("--preset", default="default", show_default=True, help=f"Named configuration: {', '.join(PRESETS)}.")
@click.option("--spec", "spec_ref", default="raft", show_default=True, help="raft, a shipped variant, FILE.py:Class or module:Class.")
@model_options
@click.option("--property", "only", multiple=True, metavar="NAME", help="Check only this property (repeatable; default: every property).")
@click.option("--skip-property", "skip", multiple=True, metavar="NAME", help="Do not check this property (repeatable).")
@click.option("--no-graph", is_flag=True, help="Keep only what shortest counterexamples need (for large runs).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Partition the search over this many worker processes (no graph is kept).")
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
              help="Partition the search over Ray actors (--workers of them; default two): a local Ray instance, or the cluster at ADDRESS. Needs pip install -e '.[distributed]'.")
@click.option("--continue", "keep_going", is_flag=True, help="Do not stop at the first violation; find each property's.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors; the exit code tells.")
@click.option("--dump-graph", type=click.Path(dir_okay=False, path_type=Path), help="Write the state graph (.graphml or .dot).")
@click.option("--dump-traces", type=click.Path(file_okay=False, path_type=Path), help="Write every counterexample and witness as ITF JSON here.")
@click.option("--max-seconds", type=click.FloatRange(min=0, min_open=True), default=None, help="Stop after this many seconds: incomplete, exit 3.")
@click.option("--max-states", type=click.IntRange(min=1), default=None, help="Stop once this many states are stored: incomplete, exit 3.")
@click.option("--max-depth", type=click.IntRange(min=0), default=None, help="Check states within this many steps only: incomplete, exit 3, if any lie beyond.")
@click.option("--progress-every", "progress_every", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True,
              help="Seconds between progress lines when stderr is not a terminal.")
@click.option("--list-specs", is_flag=True, help="List the built-in spec names and exit.")
def check(
    preset: str,
    spec_ref: str,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    no_graph: bool,
    workers: int,
    ray_address: Optional[str],
    keep_going: bool,
    as_json: bool,
    quiet: bool,
    dump_graph: Optional[Path],
    dump_traces: Optional[Path],
    max_seconds: Optional[float],
    max_states: Optional[int],
    max_depth: Optional[int],
    progress_every: float,
    list_specs: bool,
    **model: Any,
) -> None:
    """Explore every reachable state within the bounds and check every property.

    Liveness properties (eventually, leads_to) are checked on the graph under the
    spec's fairness; --no-graph skips them.

    Exit codes: 0 every property holds, 1 a violation (or a deadlock, or a sometimes
    property never witnessed), 2 a usage error, 3 incomplete: a budget stopped the
    search first, or a liveness property is inconclusive at these bounds, 4 a worker of --workers/--ray lost, 130/143 interrupted by SIGINT/SIGTERM
    (what was found is printed).
    """
    overrides = model_overrides(model)
    if list_specs:
        click.echo("\n".join(known_specs()))
        return
    try:
        params = build_params(preset, overrides)
        spec_cls = load_spec_class(spec_ref)
        if dump_graph is not None:
            check_graph_dump(dump_graph, no_graph, workers > 1 or ray_address is not None)
        spec = spec_cls(params)
        properties = select_properties(spec, only, skip)
    except (UsageError, SpecLoadError) as exc:
        fail_usage(str(exc))
    except PropertySelectionError as exc:
        fail_usage(f"--property/--skip-property: {exc}")
    console = Console()
    bar = progress_display(quiet, interval=progress_every)
    budget = Budget(max_seconds=max_seconds, max_states=max_states, max_depth=max_depth)
    with stop_on_signals(budget.request_stop):
        result = _search(spec, properties, bar, budget, keep_graph=not no_graph, stop_on_violation=not keep_going, workers=workers, ray=ray_address)
    # Nothing is written unless asked: the traces are printed below.
    trace_files = write_traces(result, dump_traces) if dump_traces is not None else {}
    if dump_graph is not None:
        try:
            dump_graph_file(result, dump_graph)
        except ExportError as exc:
            fail_usage(str(exc))
    doc = summarise(result, trace_files, budget)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    elif not quiet:
        render(console, result, doc)
        for f in result.violations:
            ft = finding_trace(result, f)
            console.print(f"\n[bold red]{f.property} violated[/] after {ft.steps} steps:")
            if ft.failed is not None:
                console.print(f"  {ft.failed}: {ft.error}", markup=False, highlight=False)
            elif f.error:
                console.print(f"  {f.error}", markup=False, highlight=False)
            console.print(format_finding(ft), markup=False, highlight=False)
            if f.property in trace_files:
                click.echo(f"trace written to {trace_files[f.property]}")
        for o in result.liveness:
            if o.lasso is not None:
                console.print(f"\n[bold red]{o.property.name} {o.status}[/]: {o.why}")
                console.print(format_lasso(o.lasso), markup=False, highlight=False)
                if o.property.name in trace_files:
                    click.echo(f"lasso written to {trace_files[o.property.name]}")
        style = {"holds": "bold green", "incomplete": "bold yellow"}.get(doc["verdict"], "bold red")
        console.print(f"\n[{style}]{doc['verdict_line']}[/]")
    sys.exit(exit_code(doc["verdict"], result, budget))


def exit_code(verdict: str, result: ExploreResult, budget: Budget) -> int:
    """The exit code of a check (see `check`'s help and checker/cli/common.py)."""
    if verdict == "inconclusive":
        return EXIT_INCOMPLETE
    if verdict == "incomplete":
        if result.stopped_by == STOP_REQUESTED and budget.requested in EXIT_SIGNAL:
            return EXIT_SIGNAL[budget.requested]
        return EXIT_INCOMPLETE
    return EXIT_OK if verdict == "holds" else EXIT_VIOLATION


def check_graph_dump(path: Path, no_graph: bool, partitioned: bool) -> None:
    """Raise `UsageError` if `--dump-graph PATH` cannot be honoured with the other options."""
    if no_graph:
        raise UsageError("--dump-graph needs the graph; drop --no-graph")
    if partitioned:
        raise UsageError("--dump-graph needs the graph, which --workers and --ray do not keep; drop them")
    if path.suffix.lower() not in (".graphml", ".dot", ".gv"):
        raise UsageError(f"--dump-graph {path}: unknown extension {path.suffix or '(none)'}; use .graphml, .dot or .gv")


def _search(
    spec: Any, properties: Any, bar: "ProgressBar | ProgressLines", budget: Budget, *, keep_graph: bool, stop_on_violation: bool, workers: int, ray: Optional[str]
) -> ExploreResult:
    """`run_check`, its progress display closed after, a lost worker or an unreachable Ray told on one line."""
    try:
        return run_check(
            spec, properties=properties, keep_graph=keep_graph, stop_on_violation=stop_on_violation, progress=bar, budget=budget,
            workers=max(workers, 2) if ray is not None and workers == 1 else workers, ray=ray,
        )
    except RayUnavailable as exc:
        fail_usage(str(exc))
    except (WorkerLost, ShardFailed) as exc:
        click.echo(f"leaderfollower: error: {str(exc).splitlines()[0]}", err=True)
        sys.exit(EXIT_ERROR)
    finally:
        bar.close()


def dump_graph_file(result: ExploreResult, path: Path) -> None:
    """Write the graph, turning an OS error into a one-line ExportError."""
    try:
        dump_graph(result, path)
    except OSError as exc:
        raise ExportError(f"--dump-graph {path}: {exc.strerror}") from None
