"""The `leaderfollower` command line: one group, one subcommand per job.

Exit codes everywhere: 0 all properties hold, 1 a property is violated (or a
sometimes property never held, or a deadlock), 2 a usage or input error, reported
on one line.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, NoReturn, Optional

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leaderfollower.impl import cli as impl_cli
from leaderfollower.spec.params import PRESETS, Params

from .check import finding_trace, run_check, summarise, write_traces
from .config import Z3_BOUNDED_DEPTH, Z3_ENGINES, Z3_IC3_SECONDS, ConfigError, load_config, parse_engines, verify_options
from .options import model_options, model_overrides
from .explorer import ExploreResult
from .exports import ExportError, dump_graph
from .specs import SpecLoadError, known_specs, load_spec_class
from .traces import format_trace
from .verify import GOOD_STATUSES, available_engines, compare_with_baseline, run_verify, to_junit

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A one-line error about the command line or an input file."""


def fail_usage(message: str) -> NoReturn:
    """Print a one-line error and exit with the usage code."""
    click.echo(f"leaderfollower: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


class _OneLineErrors(click.Group):
    """A click group whose usage errors are one line (`leaderfollower: error: ...`), exit 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.UsageError as exc:
            where = f"{exc.ctx.command_path}: " if exc.ctx is not None else ""
            click.echo(f"leaderfollower: error: {where}{exc.format_message()}", err=True)
            sys.exit(EXIT_USAGE)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("leaderfollower: interrupted", err=True)
            sys.exit(130)


@click.group(cls=_OneLineErrors)
@click.version_option(package_name="leaderfollower")
def main() -> None:
    """leaderfollower: a model-checked leader/follower (Raft) replication pattern."""


def build_params(preset: str, overrides: dict[str, Any]) -> Params:
    """The preset's parameters with the command line's overrides applied."""
    if preset not in PRESETS:
        raise UsageError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    values = PRESETS[preset].to_dict()
    for key, value in overrides.items():
        if value is not None:
            values[key] = value
    try:
        return Params(**values)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


class _ProgressBar:
    """A rich progress display on stderr that appears once a run has taken a second."""

    def __init__(self, enabled: bool, label: str = "exploring") -> None:
        self.enabled = enabled
        self.label = label
        self.progress: Optional[Progress] = None
        self.task: Any = None
        self.start = time.perf_counter()

    def __call__(self, p: Any) -> None:
        """Show the explorer's `Progress`, or a line of text (another engine's)."""
        if not self.enabled:
            return
        if self.progress is None:
            if time.perf_counter() - self.start < 1.0:
                return
            self.progress = Progress(
                TextColumn(f"[bold]{self.label}[/]"),
                BarColumn(bar_width=None, pulse_style="cyan"),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("explore", total=None, info="")
        if isinstance(p, str):
            info = p
        else:
            rate = p.states / p.seconds if p.seconds > 0 else 0
            info = f"states {p.states:,}  depth {p.depth}  queue {p.queue:,}  {rate:,.0f} states/s"
        self.progress.update(self.task, info=info)

    def close(self) -> None:
        """Stop the display for good (another engine's may follow)."""
        self.enabled = False
        if self.progress is not None:
            self.progress.stop()


def render(console: Console, result: ExploreResult, doc: dict[str, Any]) -> None:
    """Print the summary, the property table and the action coverage."""
    summary = Table(title=f"{doc['spec']}: {result.spec.params.describe()}", show_header=False)
    summary.add_row("distinct states", f"{doc['distinct_states']:,}")
    summary.add_row("transitions", f"{doc['transitions']:,}")
    summary.add_row("diameter", str(doc["diameter"]))
    summary.add_row("time", f"{doc['seconds']:.2f} s")
    if doc["states_per_second"]:
        summary.add_row("states/s", f"{doc['states_per_second']:,}")
    summary.add_row("search", "complete" if doc["complete"] else "stopped early")
    console.print(summary)
    props = Table(title="properties")
    for col in ("property", "kind", "status", "depth"):
        props.add_column(col)
    styles = {"holds": "green", "witnessed": "green", "violated": "bold red", "never-witnessed": "bold red"}
    for row in doc["properties"]:
        status = row["status"]
        style = styles.get(status, "yellow")
        props.add_row(row["name"], row["kind"], f"[{style}]{status}[/]", str(row.get("depth", "")))
    console.print(props)
    cov = Table(title="action coverage")
    for col in ("action", "enabled", "within bounds", "new states"):
        cov.add_column(col, justify="right" if col != "action" else "left")
    for name, c in doc["coverage"].items():
        flag = "" if c["within_bounds"] else "  [yellow](never fired)[/]"
        cov.add_row(name + flag, f"{c['enabled']:,}", f"{c['within_bounds']:,}", f"{c['new_states']:,}")
    console.print(cov)
    if doc["deadlocks"]:
        console.print(f"[bold red]deadlock[/]: {doc['deadlocks']} state(s) with no enabled action, e.g. state {result.deadlocks[0]}")


@main.command()
@click.option("--preset", default="default", show_default=True, help=f"Named configuration: {', '.join(PRESETS)}.")
@click.option("--spec", "spec_ref", default="raft", show_default=True, help="raft, a shipped variant, FILE.py:Class or module:Class.")
@model_options
@click.option("--no-graph", is_flag=True, help="Keep only what shortest counterexamples need (for large runs).")
@click.option("--continue", "keep_going", is_flag=True, help="Do not stop at the first violation; find each property's.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors; the exit code tells.")
@click.option("--dump-graph", type=click.Path(dir_okay=False, path_type=Path), help="Write the state graph (.graphml or .dot).")
@click.option("--dump-traces", type=click.Path(file_okay=False, path_type=Path), help="Write every counterexample and witness as ITF JSON here.")
@click.option("--list-specs", is_flag=True, help="List the built-in spec names and exit.")
def check(
    preset: str,
    spec_ref: str,
    no_graph: bool,
    keep_going: bool,
    as_json: bool,
    quiet: bool,
    dump_graph: Optional[Path],
    dump_traces: Optional[Path],
    list_specs: bool,
    **model: Any,
) -> None:
    """Explore every reachable state within the bounds and check every property."""
    overrides = model_overrides(model)
    if list_specs:
        click.echo("\n".join(known_specs()))
        return
    try:
        params = build_params(preset, overrides)
        spec_cls = load_spec_class(spec_ref)
        if dump_graph is not None and no_graph:
            raise UsageError("--dump-graph needs the graph; drop --no-graph")
        if dump_graph is not None and dump_graph.suffix.lower() not in (".graphml", ".dot", ".gv"):
            raise UsageError(f"--dump-graph {dump_graph}: unknown extension {dump_graph.suffix or '(none)'}; use .graphml, .dot or .gv")
    except (UsageError, SpecLoadError) as exc:
        fail_usage(str(exc))
    spec = spec_cls(params)
    console = Console()
    bar = _ProgressBar(enabled=not (quiet or as_json) and sys.stderr.isatty())
    try:
        result = run_check(spec, keep_graph=not no_graph, stop_on_violation=not keep_going, progress=bar)
    finally:
        bar.close()
    trace_dir = dump_traces
    if trace_dir is None and result.violations:
        trace_dir = Path("leaderfollower-traces")
    trace_files = write_traces(result, trace_dir, include_witnesses=dump_traces is not None) if trace_dir else {}
    if dump_graph is not None:
        try:
            dump_graph_file(result, dump_graph)
        except ExportError as exc:
            fail_usage(str(exc))
    doc = summarise(result, trace_files)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
    elif not quiet:
        render(console, result, doc)
        for f in result.violations:
            console.print(f"\n[bold red]{f.property} violated[/] after {len(finding_trace(result, f)) - 1} steps:")
            if f.error:
                console.print(f"  {f.action}: {f.error}" if f.kind == "error" else f"  {f.error}")
            console.print(format_trace(finding_trace(result, f)), markup=False, highlight=False)
            if f.property in trace_files:
                click.echo(f"trace written to {trace_files[f.property]}")
    sys.exit(EXIT_OK if result.ok else EXIT_VIOLATION)


def dump_graph_file(result: ExploreResult, path: Path) -> None:
    """Write the graph, turning an OS error into a one-line ExportError."""
    try:
        dump_graph(result, path)
    except OSError as exc:
        raise ExportError(f"--dump-graph {path}: {exc.strerror}") from None



@main.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="A TOML run configuration ([model], [verify]).")
@click.option("--preset", default=None, help=f"Named configuration: {', '.join(PRESETS)} (default: default).")
@click.option("--spec", "spec_ref", default=None, help="raft, a shipped variant, FILE.py:Class or module:Class.")
@click.option("--engines", default=None, help="Comma-separated engines to run (default: all).")
@model_options
@click.option("--z3-engine", type=click.Choice(Z3_ENGINES), default=None, help="z3-bounded's engine: ic3 (default; every depth) or bmc.")
@click.option("--z3-depth", type=int, default=None, help=f"bmc's depth (default {Z3_BOUNDED_DEPTH}); ic3 stops once it is cleared.")
@click.option("--z3-seconds", type=float, default=None, help=f"ic3's time budget (default {Z3_IC3_SECONDS:.0f}).")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the result document here.")
@click.option("--junit", "junit_file", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML here.")
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False, path_type=Path), help="Fail on any unexpected difference from this result document.")
@click.option("--update-baseline", is_flag=True, help="Write this run's result document to the --baseline file.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors and the baseline diff.")
def verify(
    config_file: Optional[Path],
    preset: Optional[str],
    spec_ref: Optional[str],
    engines: Optional[str],
    json_file: Optional[Path],
    junit_file: Optional[Path],
    baseline_file: Optional[Path],
    update_baseline: bool,
    quiet: bool,
    z3_engine: Optional[str],
    z3_depth: Optional[int],
    z3_seconds: Optional[float],
    **model: Any,
) -> None:
    """Run every engine on one model and print one verdict (the main job)."""
    overrides = model_overrides(model)
    try:
        flags = verify_options({"z3_engine": z3_engine, "z3_depth": z3_depth, "z3_seconds": z3_seconds}, "verify", flags=True)
        options: dict[str, Any] = {}
        if config_file is not None:
            run = load_config(config_file)
            options = dict(run.options)
            base = run.params
            spec_name = spec_ref or run.spec
            engine_names = parse_engines(engines) if engines else (run.engines or available_engines())
            preset_name = run.preset
            if preset is not None:
                raise UsageError("--preset and --config both pick the model; use one")
        else:
            preset_name = preset or "default"
            if preset_name not in PRESETS:
                raise UsageError(f"unknown preset {preset_name!r}; known: {', '.join(PRESETS)}")
            base = PRESETS[preset_name]
            spec_name = spec_ref or "raft"
            engine_names = parse_engines(engines) if engines else available_engines()
        values = base.to_dict()
        for key, value in overrides.items():
            if value is not None:
                values[key] = value
        try:
            params = Params(**values)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        spec_cls = load_spec_class(spec_name)
        if update_baseline and baseline_file is None:
            raise UsageError("--update-baseline needs --baseline FILE")
        baseline = None
        if baseline_file is not None and not update_baseline:
            try:
                baseline = json.loads(baseline_file.read_text())
            except OSError as exc:
                raise UsageError(f"--baseline {baseline_file}: cannot read: {exc.strerror}") from None
            except json.JSONDecodeError as exc:
                raise UsageError(f"--baseline {baseline_file}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except (UsageError, SpecLoadError, ConfigError) as exc:
        fail_usage(str(exc))
    spec = spec_cls(params)
    console = Console()
    show = not quiet and sys.stderr.isatty()
    bars: list[_ProgressBar] = []

    def progress_for(engine: str) -> Any:
        for done in bars:  # rich allows one live display at a time
            done.close()
        bar = _ProgressBar(enabled=show, label={"explorer": "exploring"}.get(engine, engine))
        bars.append(bar)
        return bar

    try:
        doc = run_verify(spec, engine_names, preset=preset_name, progress=progress_for, options={**options, **flags})
    finally:
        for bar in bars:
            bar.close()
    if json_file is not None:
        json_file.write_text(json.dumps(doc, indent=2) + "\n")
    if junit_file is not None:
        junit_file.write_text(to_junit(doc))
    if not quiet:
        render_verify(console, doc)
    exit_code = EXIT_OK if doc["ok"] else EXIT_VIOLATION
    if update_baseline and baseline_file is not None:
        baseline_file.write_text(json.dumps(doc, indent=2) + "\n")
        console.print(f"baseline written to {baseline_file}")
    elif baseline is not None:
        diffs = compare_with_baseline(doc, baseline)
        if diffs:
            click.echo(f"differences from the baseline {baseline_file}:", err=True)
            for line in diffs:
                click.echo(f"  {line}", err=True)
            exit_code = EXIT_VIOLATION
        elif not quiet:
            console.print(f"[green]matches the baseline[/] {baseline_file}")
    sys.exit(exit_code)


def render_verify(console: Console, doc: dict[str, Any]) -> None:
    """The property x engine table, the engines' figures, and the verdict."""
    engines = list(doc["engines"])
    table = Table(title=f"{doc['spec']['name']}: {' '.join(f'{k}={v}' for k, v in doc['params'].items())}")
    table.add_column("property")
    table.add_column("kind")
    for e in engines:
        table.add_column(e)
    styles = {"violated": "bold red", "never-witnessed": "bold red", "error": "bold red"}
    for row in doc["properties"]:
        cells = []
        for e in engines:
            status = row["results"].get(e, "-")
            style = "green" if status in GOOD_STATUSES else styles.get(status, "yellow")
            cells.append(f"[{style}]{status}[/]" if status != "-" else "-")
        table.add_row(row["name"], row["kind"], *cells)
    console.print(table)
    figures = Table(title="engines", show_header=True)
    figures.add_column("engine")
    figures.add_column("result")
    figures.add_column("figures")
    figures.add_column("time", justify="right")
    for e, section in doc["engines"].items():
        facts = []
        if "engine" in section:
            facts.append(str(section["engine"]).upper())
        for key in ("distinct_states", "transitions", "diameter", "depth", "frontier", "invariant_clauses", "obligations", "transitions_covered", "steps"):
            if key in section:
                value = section[key]
                facts.append(f"{key.replace('_', ' ')} {value:,}" if isinstance(value, int) else f"{key.replace('_', ' ')} {value}")
        if section.get("error"):
            facts.append(f"error: {section['error']}")
        verdict = "[green]ok[/]" if section["ok"] else "[bold red]FAILED[/]"
        figures.add_row(e, verdict, ", ".join(facts), f"{section['seconds']:.1f} s")
    console.print(figures)
    for row in doc["properties"]:
        for e in engines:
            entry = doc["engines"][e]["properties"].get(row["name"], {})
            if entry.get("status") == "violated" and entry.get("detail"):
                console.print(f"\n[bold red]{row['name']} violated[/] ({e}):")
                console.print(entry["detail"], markup=False, highlight=False)
    verdict = "[bold green]VERIFIED[/]" if doc["ok"] else "[bold red]NOT VERIFIED[/]"
    console.print(f"{verdict} in {doc['timings']['total_seconds']:.1f} s (spec {doc['spec']['fingerprint'][:19]})")



@main.command()
@click.option("--preset", default="default", show_default=True, help=f"Named configuration: {', '.join(PRESETS)}.")
@click.option("--spec", "spec_ref", default="raft", show_default=True, help="The spec whose graph is replayed.")
@model_options
@click.option("--level", type=click.Choice(["replay", "transition", "random"]), default="replay", show_default=True,
              help="replay: an edge cover as traces from the initial state; transition: every transition from its pre-state; random: seeded random walks.")
@click.option("--workers", type=int, default=0, help="Worker processes (default: one per core).")
@click.option("--walks", type=int, default=20, show_default=True, help="Random mode: number of walks.")
@click.option("--length", type=int, default=200, show_default=True, help="Random mode: steps per walk.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random mode: seed.")
@click.option("--replay", "replay_file_path", type=click.Path(dir_okay=False, path_type=Path), help="Replay one ITF trace file (e.g. a saved divergence) and stop.")
@click.option("--bug", "bugs", multiple=True, help="Test only: turn on a seeded implementation bug (see docs/conformance.md).")
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
    from .conform import Divergence
    from .conform_run import random_walks, replay_file, run_trace_replay, run_transition_conformance
    from .itf import TraceFormatError, read_itf

    try:
        params = build_params(preset, overrides)
        spec_cls = load_spec_class(spec_ref)
        core_options = bug_options(bugs)
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
            steps = replay_file(trace, spec_cls(params), core_options)
        except Divergence as div:
            console.print(f"[bold red]divergence[/] at step {div.step}: {div.action}", highlight=False)
            for line in div.problems:
                console.print(f"  {line}", markup=False, highlight=False)
            sys.exit(EXIT_VIOLATION)
        console.print(f"[green]replayed {steps} steps[/]: the implementation matches the spec at every step")
        sys.exit(EXIT_OK)
    spec = spec_cls(params)
    if level == "random":
        outcome = random_walks(spec, walks=walks, length=length, seed=seed, core_options=core_options)
    else:
        bar = _ProgressBar(enabled=not as_json and sys.stderr.isatty())
        try:
            result = run_check(spec, keep_graph=True, stop_on_violation=False, progress=bar)
        finally:
            bar.close()
        if level == "replay":
            outcome = run_trace_replay(result, workers=workers, core_options=core_options)
        else:
            outcome = run_transition_conformance(result, workers=workers, core_options=core_options)
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


def bug_options(bugs: tuple[str, ...]) -> dict[str, Any]:
    """The core options that turn on seeded bugs; UsageError for an unknown bug name."""
    if not bugs:
        return {}
    from leaderfollower.impl.core import SEEDED_BUGS

    for b in bugs:
        if b not in SEEDED_BUGS:
            raise UsageError(f"unknown seeded bug {b!r}; known: {', '.join(sorted(SEEDED_BUGS))}")
    return {"bugs": frozenset(bugs)}


for _command in impl_cli.commands:
    main.add_command(_command)
from .report_cli import report
main.add_command(report)
from .validate_cli import validate
main.add_command(validate)

from .prove_cli import prove  # noqa: E402  (registered last: prove_cli imports from this module)

main.add_command(prove)
