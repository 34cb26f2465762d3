"""`leaderfollower conform`: replay explored traces through the real implementation."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import click
from rich.console import Console
from rich.table import Table

from leaderfollower.spec.params import PRESETS, Params

from leaderfollower.checker.cli.common import EXIT_OK, EXIT_VIOLATION, ProgressBar, UsageError, build_params, fail_usage
from leaderfollower.checker.cli.options import model_options, model_overrides
from leaderfollower.checker.jobs.check import run_check
from leaderfollower.checker.jobs.specs import SpecLoadError, load_spec_class

if TYPE_CHECKING:
    from leaderfollower.checker.conform.mutants import Implementation

@click.command()
@click.option("--preset", default="default", show_default=True, help=f"Named configuration: {', '.join(PRESETS)}.")
@click.option("--spec", "spec_ref", default="raft", show_default=True, help="The spec whose graph is replayed.")
@model_options
@click.option("--level", type=click.Choice(["replay", "transition", "random"]), default="replay", show_default=True,
              help="replay: an edge cover as traces from the initial state; transition: every transition from its pre-state; random: seeded random walks.")
@click.option("--workers", type=int, default=0, help="Worker processes (default: one per core).")
@click.option("--walks", type=int, default=20, show_default=True, help="Random mode: number of walks.")
@click.option("--length", type=int, default=200, show_default=True, help="Random mode: steps per walk.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random mode: seed.")
@click.option("--trace", "--replay", "replay_file_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Replay one ITF trace file (a counterexample or witness of check or simulate, or a saved divergence) and stop.")
@click.option("--bug", "bugs", multiple=True, help="Replay through a broken implementation instead (checker/conform/mutants.py, docs/conformance.md), to see the checker catch it.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def conform(
    preset: str,
    spec_ref: str,
    level: str,
    workers: int,
    walks: int,
    length: int,
    seed: int,
    replay_file_path: Optional[Path],
    bugs: tuple[str, ...],
    as_json: bool,
    **model: Any,
) -> None:
    """Replay explored traces through the real implementation and compare after every step."""
    overrides = model_overrides(model)
    from leaderfollower.checker.conform.replay import Divergence
    from leaderfollower.checker.conform.run import random_walks, replay_file, run_trace_replay, run_transition_conformance
    from leaderfollower.checker.formats.itf import TraceFormatError, read_itf

    try:
        params = build_params(preset, overrides)
        spec_cls = load_spec_class(spec_ref)
        impl = bug_options(bugs)
    except (UsageError, SpecLoadError) as exc:
        fail_usage(str(exc))
    console = Console()
    if replay_file_path is not None:
        try:
            meta, trace = read_itf(replay_file_path)
        except TraceFormatError as exc:
            fail_usage(str(exc))
        file_params = meta.get("params")
        if isinstance(file_params, dict):
            try:
                params = Params(**file_params)
            except (TypeError, ValueError) as exc:
                fail_usage(f"{replay_file_path}: #meta.params: {exc}")
        try:
            steps = replay_file(trace, spec_cls(params), impl)
        except Divergence as div:
            console.print(f"[bold red]divergence[/] at step {div.step}: {div.action}", highlight=False)
            for line in div.problems:
                console.print(f"  {line}", markup=False, highlight=False)
            source = meta.get("spec")
            if isinstance(source, str) and source != "raft":
                console.print(
                    f"note: the trace is a behaviour of the spec {source!r}; the implementation follows raft.tla, "
                    "so it parts from the trace where that spec differs",
                    markup=False,
                    highlight=False,
                )
            sys.exit(EXIT_VIOLATION)
        console.print(f"[green]replayed {steps} steps[/]: the implementation matches the spec at every step")
        sys.exit(EXIT_OK)
    spec = spec_cls(params)
    if level == "random":
        outcome = random_walks(spec, walks=walks, length=length, seed=seed, impl=impl)
    else:
        bar = ProgressBar(enabled=not as_json and sys.stderr.isatty())
        try:
            result = run_check(spec, keep_graph=True, stop_on_violation=False, progress=bar)
        finally:
            bar.close()
        if level == "replay":
            outcome = run_trace_replay(result, workers=workers, impl=impl)
        else:
            outcome = run_transition_conformance(result, workers=workers, impl=impl)
    doc = outcome.to_dict()
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    else:
        table = Table(title=f"conformance ({doc['level']}): {spec.params.describe()}", show_header=False)
        if doc["transitions"]:
            table.add_row("transitions covered", f"{doc['transitions_covered']:,} / {doc['transitions']:,}")
        table.add_row("actions covered", f"{doc['actions_covered']} / {doc['actions_total']}")
        if doc["walks"]:
            table.add_row("walks (resets)", f"{doc['walks']:,} ({doc['resets']:,})")
        table.add_row("steps replayed", f"{doc['steps']:,}")
        table.add_row("time", f"{doc['seconds']:.1f} s ({doc['steps_per_second'] or 0:,} steps/s)")
        console.print(table)
        for d in doc["divergences"]:
            console.print(f"[bold red]divergence[/] at step {d['step']}: {d['action']}", highlight=False)
            for line in d["problems"]:
                console.print(f"  {line}", markup=False, highlight=False)
            if d["file"]:
                console.print(f"  reproduce: leaderfollower conform --replay {d['file']}" + "".join(f" --bug {b}" for b in bugs), highlight=False)
        console.print("[bold green]CONFORMS[/]" if outcome.ok else "[bold red]DIVERGES[/]")
    sys.exit(EXIT_OK if outcome.ok else EXIT_VIOLATION)


def bug_options(bugs: tuple[str, ...]) -> "Implementation":
    """The implementation with the named seeded bugs (checker/conform/mutants.py); UsageError for an unknown name."""
    from leaderfollower.checker.conform.mutants import UnknownMutant, implementation

    try:
        return implementation(bugs)
    except UnknownMutant as e:
        raise UsageError(str(e)) from None
