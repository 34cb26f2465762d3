"""`leaderfollower simulate`: walks instead of a full search, for bugs deeper than the explorer reaches."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import click
from rich.console import Console
from rich.table import Table

from leaderfollower.spec.params import PRESETS

from leaderfollower.checker.cli.common import EXIT_OK, EXIT_VIOLATION, ProgressBar, UsageError, build_params, fail_usage
from leaderfollower.checker.cli.options import model_options, model_overrides
from leaderfollower.checker.explore.traces import format_trace
from leaderfollower.checker.jobs.specs import SpecLoadError, load_spec_class
from leaderfollower.checker.simulate.run import (
    DEFAULT_DEPTH,
    Progress,
    SimulationError,
    SimulationResult,
    default_workers,
    simulate as run_simulation,
    summarise,
    write_traces,
)
from leaderfollower.checker.simulate.strategies import DEFAULT_STRATEGY, STRATEGIES

DEFAULT_SECONDS = 60.0


def render(console: Console, result: SimulationResult, doc: dict[str, Any]) -> None:
    """Print the summary, the property table and the action coverage."""
    summary = Table(title=f"{doc['spec']}: {result.spec.params.describe()}", show_header=False)
    summary.add_row("strategy", f"{doc['strategy']} (seed {doc['seed']}, {doc['workers']} worker{'s' if doc['workers'] != 1 else ''})")
    summary.add_row("walks", f"{doc['walks']:,}")
    summary.add_row("steps", f"{doc['steps']:,}")
    summary.add_row("distinct states", f"{doc['distinct_states']:,}" + ("" if doc["distinct_states_exact"] else " (at least)"))
    summary.add_row("deepest walk", f"{doc['max_depth']} steps")
    if "signatures" in doc:
        summary.add_row("signatures", f"{doc['signatures']:,}")
    summary.add_row("time", f"{doc['seconds']:.2f} s")
    if doc["steps_per_second"]:
        summary.add_row("steps/s", f"{doc['steps_per_second']:,}")
    console.print(summary)
    props = Table(title="properties")
    for col in ("property", "kind", "status", "depth"):
        props.add_column(col)
    styles = {"witnessed": "green", "violated": "bold red", "no-violation-found": "green"}
    for row in doc["properties"]:
        status = row["status"]
        props.add_row(row["name"], row["kind"], f"[{styles.get(status, 'yellow')}]{status}[/]", str(row.get("depth", "")))
    console.print(props)
    cov = Table(title="action coverage")
    for col in ("action", "enabled", "taken"):
        cov.add_column(col, justify="right" if col != "action" else "left")
    for name, c in doc["coverage"].items():
        flag = "" if c["taken"] else "  [yellow](never taken)[/]"
        cov.add_row(name + flag, f"{c['enabled']:,}", f"{c['taken']:,}")
    console.print(cov)


@click.command()
@click.option("--preset", default="default", show_default=True, help=f"Named configuration: {', '.join(PRESETS)}.")
@click.option("--spec", "spec_ref", default="raft", show_default=True, help="raft, a shipped variant, FILE.py:Class or module:Class.")
@model_options
@click.option("--strategy", type=click.Choice(list(STRATEGIES)), default=DEFAULT_STRATEGY, show_default=True,
              help="uniform: random walks (TLC's simulation); swarm: per-walk random action weights; guided: archive of new abstract states.")
@click.option("--seconds", type=float, default=None, help=f"Time budget (default {DEFAULT_SECONDS:.0f} unless --walks is given).")
@click.option("--walks", type=int, default=None, help="Walk budget (with no --seconds the run is reproducible from its seed).")
@click.option("--depth", type=int, default=DEFAULT_DEPTH, show_default=True, help="Longest walk, in steps from the initial state.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed: the same seed and worker count take the same walks.")
@click.option("--workers", type=int, default=0, help="Worker processes (default: one per core).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors; the exit code tells.")
@click.option("--dump-traces", type=click.Path(file_okay=False, path_type=Path), help="Write the counterexample and the witnesses as ITF JSON here.")
def simulate(
    preset: str,
    spec_ref: str,
    strategy: str,
    seconds: Optional[float],
    walks: Optional[int],
    depth: int,
    seed: int,
    workers: int,
    as_json: bool,
    quiet: bool,
    dump_traces: Optional[Path],
    **model: Any,
) -> None:
    """Walk the model at random or guided, check every property on every step, shrink what breaks.

    No walk budget proves anything: with no violation the verdict is "no violation
    found", never "holds".
    """
    overrides = model_overrides(model)
    try:
        params = build_params(preset, overrides)
        spec_cls = load_spec_class(spec_ref)
        if workers < 0:
            raise UsageError(f"--workers: expected 0 (one per core) or more, got {workers}")
        if seconds is None and walks is None:
            seconds = DEFAULT_SECONDS
    except (UsageError, SpecLoadError) as exc:
        fail_usage(str(exc))
    spec = spec_cls(params)
    console = Console()
    bar = ProgressBar(enabled=not (quiet or as_json) and sys.stderr.isatty(), label="simulating")

    def progress(p: Progress) -> None:
        rate = p.steps / p.seconds if p.seconds > 0 else 0
        bar(f"walks {p.walks:,}  steps {p.steps:,}  {rate:,.0f} steps/s")

    try:
        result = run_simulation(
            spec, strategy=strategy, seconds=seconds, walks=walks, depth=depth, seed=seed,
            workers=workers or default_workers(), progress=progress,
        )
    except SimulationError as exc:
        fail_usage(f"--{exc.option}: {exc.detail}" if exc.option else exc.detail)
    finally:
        bar.close()
    trace_dir = dump_traces
    if trace_dir is None and result.violation is not None:
        trace_dir = Path("leaderfollower-traces")
    trace_files = write_traces(result, trace_dir, include_witnesses=dump_traces is not None) if trace_dir else {}
    doc = summarise(result, trace_files)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    elif not quiet:
        render(console, result, doc)
        v = result.violation
        if v is not None:
            console.print(
                f"\n[bold red]{v.property} violated[/] after {len(v.trace) - 1} steps "
                f"(walk {v.walk} of worker {v.worker}, {v.walk_length} steps before shrinking):"
            )
            if v.also:
                console.print(f"  the last step breaks {', '.join(v.also)} too", markup=False, highlight=False)
            if v.detail:
                console.print(f"  {v.detail}", markup=False, highlight=False)
            console.print(format_trace(v.trace), markup=False, highlight=False)
            if v.property in trace_files:
                click.echo(f"trace written to {trace_files[v.property]}")
                click.echo(f"replay it through the implementation: leaderfollower conform --trace {trace_files[v.property]}")
        else:
            missing = [row["name"] for row in doc["properties"] if row["status"] == "not-witnessed"]
            console.print(f"[green]no violation found[/] in {result.walks:,} walks ({result.steps:,} steps, {result.seconds:.1f} s): not a proof")
            if missing:
                console.print(f"[yellow]not witnessed[/] in these walks: {', '.join(missing)}")
    sys.exit(EXIT_OK if result.ok else EXIT_VIOLATION)
