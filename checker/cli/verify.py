"""`leaderfollower verify`: every engine on one model, one property x engine table, one verdict."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import click
from rich.console import Console
from rich.table import Table

from leaderfollower.spec.params import PRESETS, Params

from leaderfollower.checker.cli.common import (
    EXIT_OK,
    EXIT_SIGNAL,
    EXIT_VIOLATION,
    ProgressBar,
    ProgressLines,
    UsageError,
    fail_usage,
    interrupt_on_signals,
    progress_display,
)
from leaderfollower.checker.cli.options import model_options, model_overrides
from leaderfollower.checker.jobs.config import (
    SIMULATE_SECONDS,
    Z3_BOUNDED_DEPTH,
    Z3_ENGINES,
    Z3_IC3_SECONDS,
    ConfigError,
    load_config,
    parse_engines,
    verify_options,
)
from leaderfollower.checker.simulate.strategies import DEFAULT_STRATEGY, STRATEGIES
from leaderfollower.checker.jobs.profiles import PROFILES, ProfileError, get_profile
from leaderfollower.checker.jobs.specs import SpecLoadError, load_spec_class
from leaderfollower.checker.jobs.status import GOOD_STATUSES, Status
from leaderfollower.checker.jobs.verify import available_engines, compare_with_baseline, run_verify, to_junit

@click.command()
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="A TOML run configuration ([model], [verify]).")
@click.option("--preset", default=None, help=f"Named configuration: {', '.join(PRESETS)} (default: default).")
@click.option("--spec", "spec_ref", default=None, help="raft, a shipped variant, FILE.py:Class or module:Class.")
@click.option("--engines", default=None, help="Comma-separated engines to run (default: all).")
@click.option("--profile", "profile_name", default=None, help=f"How deep each engine goes: {', '.join(PROFILES)} (default: default; docs/ci.md).")
@model_options
@click.option("--z3-engine", type=click.Choice(Z3_ENGINES), default=None, help="z3-bounded's engine: ic3 (default; every depth) or bmc.")
@click.option("--z3-depth", type=int, default=None, help=f"bmc's depth (default {Z3_BOUNDED_DEPTH}); ic3 stops once it is cleared.")
@click.option("--z3-seconds", type=float, default=None, help=f"ic3's time budget (default {Z3_IC3_SECONDS:.0f}).")
@click.option("--simulate-seconds", type=float, default=None, help=f"The simulation engine's time budget (default: the profile's; {SIMULATE_SECONDS:.0f} without one).")
@click.option("--simulate-strategy", type=click.Choice(list(STRATEGIES)), default=None, help=f"The simulation engine's strategy (default {DEFAULT_STRATEGY}).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes to use (default: the machine's cores): with 2 or more, the Z3 engines run beside the explorer's chain; 1 runs the engines one after the other.")
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
    profile_name: Optional[str],
    json_file: Optional[Path],
    junit_file: Optional[Path],
    baseline_file: Optional[Path],
    update_baseline: bool,
    quiet: bool,
    z3_engine: Optional[str],
    z3_depth: Optional[int],
    z3_seconds: Optional[float],
    simulate_seconds: Optional[float],
    simulate_strategy: Optional[str],
    workers: Optional[int],
    **model: Any,
) -> None:
    """Run every engine on one model and print one verdict (the main job)."""
    overrides = model_overrides(model)
    try:
        flags = verify_options(
            {"z3_engine": z3_engine, "z3_depth": z3_depth, "z3_seconds": z3_seconds, "simulate_seconds": simulate_seconds, "simulate_strategy": simulate_strategy,
             "workers": workers},
            "verify",
            flags=True,
        )
        profile = get_profile(profile_name)
        preset_name, base, spec_name, engine_names, options = _the_run(config_file, preset, spec_ref, engines)
        params = _with_overrides(base, overrides)
        spec_cls = load_spec_class(spec_name)
        baseline = _read_baseline(baseline_file, update_baseline)
    except (UsageError, SpecLoadError, ConfigError) as exc:
        fail_usage(str(exc))
    except ProfileError as exc:
        fail_usage(f"--profile: {exc}")
    spec = spec_cls(params)
    console = Console()
    bars: list[ProgressBar | ProgressLines] = []

    def progress_for(engine: str) -> Any:
        for done in bars:  # rich allows one live display at a time
            done.close()
        # A bar on a terminal, a plain line every few seconds in a CI log.
        bar = progress_display(quiet, label={"explorer": "exploring"}.get(engine, engine))
        bars.append(bar)
        return bar

    try:
        with interrupt_on_signals():
            doc = run_verify(
                spec, engine_names, preset=preset_name, progress=progress_for, options={**profile.options, **options, **flags}, profile=profile.name
            )
    finally:
        for bar in bars:
            bar.close()
    if json_file is not None:
        json_file.write_text(json.dumps(doc, indent=2) + "\n")
    if junit_file is not None:
        junit_file.write_text(to_junit(doc))
    if not quiet:
        render_verify(console, doc)
    ok = bool(doc["ok"])
    if update_baseline and baseline_file is not None:
        baseline_file.write_text(json.dumps(doc, indent=2) + "\n")
        console.print(f"baseline written to {baseline_file}")
    elif baseline is not None and baseline_file is not None:
        ok = _matches_baseline(console, doc, baseline, baseline_file, quiet) and ok
    if doc.get("interrupted"):
        sys.exit(EXIT_SIGNAL.get(doc["interrupted"], EXIT_SIGNAL["SIGINT"]))
    sys.exit(EXIT_OK if ok else EXIT_VIOLATION)


def _the_run(
    config_file: Optional[Path], preset: Optional[str], spec_ref: Optional[str], engines: Optional[str]
) -> tuple[Optional[str], Params, str, tuple[str, ...], dict[str, Any]]:
    """The preset, base parameters, spec, engines and options: from --config, or the flags."""
    if config_file is not None:
        if preset is not None:
            raise UsageError("--preset and --config both pick the model; use one")
        run = load_config(config_file)
        engine_names = parse_engines(engines) if engines else (run.engines or available_engines())
        return run.preset, run.params, spec_ref or run.spec, engine_names, dict(run.options)
    preset_name = preset or "default"
    if preset_name not in PRESETS:
        raise UsageError(f"unknown preset {preset_name!r}; known: {', '.join(PRESETS)}")
    engine_names = parse_engines(engines) if engines else available_engines()
    return preset_name, PRESETS[preset_name], spec_ref or "raft", engine_names, {}


def _with_overrides(base: Params, overrides: dict[str, Any]) -> Params:
    values = base.to_dict()
    values.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return Params(**values)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _read_baseline(baseline_file: Optional[Path], update_baseline: bool) -> Optional[dict[str, Any]]:
    if update_baseline and baseline_file is None:
        raise UsageError("--update-baseline needs --baseline FILE")
    if baseline_file is None or update_baseline:
        return None
    try:
        doc: dict[str, Any] = json.loads(baseline_file.read_text())
    except OSError as exc:
        raise UsageError(f"--baseline {baseline_file}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--baseline {baseline_file}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    return doc


def _matches_baseline(console: Console, doc: dict[str, Any], baseline: dict[str, Any], baseline_file: Path, quiet: bool) -> bool:
    diffs = compare_with_baseline(doc, baseline)
    if diffs:
        click.echo(f"differences from the baseline {baseline_file}:", err=True)
        for line in diffs:
            click.echo(f"  {line}", err=True)
        return False
    if not quiet:
        console.print(f"[green]matches the baseline[/] {baseline_file}")
    return True


def render_verify(console: Console, doc: dict[str, Any]) -> None:
    """The property x engine table, the engines' figures, and the verdict."""
    engines = list(doc["engines"])
    table = Table(title=f"{doc['spec']['name']}: {' '.join(f'{k}={v}' for k, v in doc['params'].items())}")
    table.add_column("property")
    table.add_column("kind")
    for e in engines:
        table.add_column(e)
    styles = {Status.VIOLATED: "bold red", Status.NEVER_WITNESSED: "bold red", "error": "bold red"}
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
        if "covered" in section:
            facts.append(str(section["covered"]))
        for key in ("distinct_states", "transitions", "diameter", "depth", "frontier", "invariant_clauses", "obligations", "transitions_covered", "steps", "walks", "walk_steps", "states_seen"):
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
            if entry.get("status") == Status.VIOLATED and entry.get("detail"):
                console.print(f"\n[bold red]{row['name']} violated[/] ({e}):")
                console.print(entry["detail"], markup=False, highlight=False)
    console.print(_verdict_line(doc))
    if doc["ok"] and doc.get("bounded"):
        # VERIFIED only for what was checked: say where an engine stopped short of everything.
        console.print("  within these bounds: " + "; ".join(doc["bounded"]), markup=False, highlight=False)


def _verdict_line(doc: dict[str, Any]) -> str:
    verdict = "[bold green]VERIFIED[/]" if doc["ok"] else "[bold red]NOT VERIFIED[/]"
    if doc.get("interrupted"):
        not_run = ", ".join(doc.get("not_run") or []) or "none"
        verdict = f"[bold yellow]INCOMPLETE (interrupted by {doc['interrupted']}; engines not run: {not_run})[/]"
    profile = f"profile {doc['profile']}, " if doc.get("profile") else ""
    return f"{verdict} in {doc['timings']['total_seconds']:.1f} s ({profile}spec {doc['spec']['fingerprint'][:19]})"
