"""`leaderfollower report OUT.html`: the design-review page and its Markdown summary.

How this works: the options pick the model the way `check` and `verify` do
(`--preset`, `--config`, `--spec` and the parameter options); `--from-json` adds
the other engines' results from a `verify` result document, which must be about
the same spec (fingerprint) and parameters.  `build_report` does the work;
`write_report` writes OUT.html and OUT.md.  Exit codes as everywhere: 0 the spec
passes and no broken variant is missed by a complete search, 1 otherwise (the report is written
either way), 2 a usage or input error on one line.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn, Optional

import click

from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import VARIANTS

from leaderfollower.checker.jobs.config import ConfigError, load_config, params_from_table
from leaderfollower.checker.cli.common import ProgressLines
from leaderfollower.checker.jobs.fingerprint import spec_fingerprint
from leaderfollower.checker.cli.options import model_options, model_overrides
from leaderfollower.checker.report.page import GRAPH_PARAMS, VARIANT_MAX_STATES, VARIANT_SIMULATE_SECONDS, build_report, engines_from_document, write_report
from leaderfollower.checker.jobs.profiles import PROFILES, Profile, ProfileError, get_profile
from leaderfollower.checker.jobs.specs import SpecLoadError, load_spec_class

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class ReportUsageError(Exception):
    """A one-line error about the command line or an input file."""


def _fail(message: str) -> NoReturn:
    click.echo(f"leaderfollower: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def parse_variants(text: str) -> list[str]:
    """`all` or a comma-separated list of shipped variant names."""
    if text.strip() == "all":
        return list(VARIANTS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    for n in names:
        if n not in VARIANTS:
            raise ReportUsageError(f"--variants: unknown variant {n!r}; expected 'all' or names from {', '.join(VARIANTS)}")
    return names


def parse_graph(text: str) -> Optional[Params]:
    """`none`, or KEY=VALUE pairs (comma-separated) applied to the default graph configuration."""
    if text.strip() == "none":
        return None
    table: dict[str, Any] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, eq, value = part.partition("=")
        if not eq:
            raise ReportUsageError(f"--graph: {part!r} is not KEY=VALUE (e.g. servers=2,max_term=2,max_log=0)")
        v = value.strip().lower()
        table[key.strip()] = True if v == "true" else False if v == "false" else int(v) if v.lstrip("-").isdigit() else v
    try:
        return params_from_table(table, "--graph", GRAPH_PARAMS)
    except ConfigError as exc:
        raise ReportUsageError(str(exc)) from None


def _describe(params: object) -> str:
    if isinstance(params, dict):
        return " ".join(f"{k}={v}" for k, v in params.items())
    return repr(params)


def read_result_document(path: Path) -> dict[str, Any]:
    """A `verify` result document, checked to be one."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportUsageError(f"--from-json {path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ReportUsageError(f"--from-json {path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(doc, dict) or doc.get("format") != "leaderfollower-result":
        raise ReportUsageError(f"--from-json {path}: not a leaderfollower result document (write one with 'leaderfollower verify --json FILE')")
    return doc


def _variant_settings(profile_name: Optional[str], max_states: Optional[int], simulate_seconds: Optional[float]) -> tuple[Profile, int, float]:
    """The profile, and the variants' state budget and simulation time box: the options' if given, else the profile's."""
    profile = get_profile(profile_name)
    if max_states is None:
        max_states = profile.variant_max_states if profile.variant_max_states is not None else VARIANT_MAX_STATES
    if simulate_seconds is None:
        simulate_seconds = profile.variant_simulate_seconds if profile.variant_simulate_seconds is not None else VARIANT_SIMULATE_SECONDS
    if simulate_seconds < 0:
        raise ReportUsageError(f"--variant-simulate-seconds: expected 0 (none) or a positive number, got {simulate_seconds}")
    if max_states < 0:
        raise ReportUsageError(f"--variant-max-states: expected 0 (no limit) or a positive number, got {max_states}")
    return profile, max_states, simulate_seconds


def _progress_lines(what: str) -> ProgressLines:
    """Explorer progress as a line on stderr every 15 s: readable in a terminal and in CI logs."""
    return ProgressLines(f"  {what}", interval=15.0)


def _the_model(
    config_file: Optional[Path], preset: Optional[str], spec_ref: Optional[str], overrides: dict[str, Any], doc: Optional[dict[str, Any]]
) -> tuple[Params, Optional[str], Optional[str]]:
    """The parameters, preset and spec to report on: from --config, from the document (when no
    option chose the model: the report checks what the document checked), or the flags."""
    from leaderfollower.checker.cli.common import build_params

    if config_file is not None:
        if preset is not None:
            raise ReportUsageError("give either --config or --preset, not both")
        cfg = load_config(config_file)
        params = build_params("default", {**cfg.params.to_dict(), **{k: v for k, v in overrides.items() if v is not None}})
        return params, cfg.preset, spec_ref or cfg.spec
    if doc is not None:
        return build_params("default", dict(doc.get("params", {}))), doc.get("preset"), spec_ref or str(doc.get("spec", {}).get("name", "raft"))
    preset_name = preset or "default"
    return build_params(preset_name, overrides), preset_name, spec_ref


def _check_document(doc: dict[str, Any], from_json: Optional[Path], spec_cls: type[RaftSpec], params: Params) -> None:
    """The --from-json document must be about this spec and these parameters."""
    fingerprint = spec_fingerprint(spec_cls)
    if doc.get("spec", {}).get("fingerprint") != fingerprint:
        raise ReportUsageError(
            f"--from-json {from_json}: the document is about spec {doc.get('spec', {}).get('name')!r} "
            f"({str(doc.get('spec', {}).get('fingerprint'))[:19]}...), not this {spec_cls.name!r} ({fingerprint[:19]}...); "
            "run verify again on this spec or drop --from-json"
        )
    if doc.get("params") != params.to_dict():
        raise ReportUsageError(
            f"--from-json {from_json}: the document checked other parameters ({_describe(doc.get('params'))}); "
            f"this report checks {params.describe()}; give the same options or drop them to use the document's"
        )


@click.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--preset", default=None, help=f"Named configuration: {', '.join(PRESETS)} (default: default).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help="A TOML run configuration ([model], [verify]).")
@click.option("--spec", "spec_ref", default=None, help="raft, a shipped variant, FILE.py:Class or module:Class.")
@model_options
@click.option("--variants", "variants_text", default="all", show_default=True, help="Broken variants to explore for the 'bugs this checker catches' section: 'all' or NAME,NAME.")
@click.option("--no-variants", is_flag=True, help="Leave out the broken variants (they take minutes on their catch parameters).")
@click.option("--profile", "profile_name", default=None, help=f"How deep the broken variants are searched: {', '.join(PROFILES)} (default: default: small parameters that still catch them).")
@click.option("--variant-max-states", type=int, default=None, help=f"State budget of each variant's search; 0: no limit (default: the profile's, or {VARIANT_MAX_STATES:,}).")
@click.option("--variant-simulate-seconds", type=float, default=None,
              help=f"Simulation (guided, all cores) that takes over from a variant's search stopped at its state budget (or not run in the profile); 0: none (default: the profile's, or {VARIANT_SIMULATE_SECONDS:.0f}).")
@click.option("--graph", "graph_text", default=None, help=f"The tiny configuration to draw as a state graph, KEY=VALUE,... over '{GRAPH_PARAMS.describe()}'; 'none' to leave it out.")
@click.option("--from-json", "from_json", type=click.Path(dir_okay=False, path_type=Path), help="A 'verify --json' result document: add its Z3 and conformance results.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors; the exit code tells.")
def report(
    out: Path,
    preset: Optional[str],
    config_file: Optional[Path],
    spec_ref: Optional[str],
    variants_text: str,
    no_variants: bool,
    profile_name: Optional[str],
    variant_max_states: Optional[int],
    variant_simulate_seconds: Optional[float],
    graph_text: Optional[str],
    from_json: Optional[Path],
    quiet: bool,
    **model: Any,
) -> None:
    """Write a self-contained HTML design-review report to OUT (and a Markdown summary beside it)."""
    # Imported here: cli.py imports this module at its end to register the command.
    from leaderfollower.checker.cli.common import UsageError, build_params

    overrides = model_overrides(model)
    try:
        if not out.resolve().parent.is_dir():
            raise ReportUsageError(f"{out}: cannot write the report: folder {out.parent} does not exist")
        doc = read_result_document(from_json) if from_json is not None else None
        profile, variant_max_states, variant_simulate_seconds = _variant_settings(profile_name, variant_max_states, variant_simulate_seconds)
        chosen = parse_variants(variants_text)
        variants = [] if no_variants else chosen
        graph_params = parse_graph(graph_text) if graph_text is not None else GRAPH_PARAMS
        chosen_by_options = preset is not None or config_file is not None or any(v is not None for v in overrides.values())
        params, preset_name, spec_ref = _the_model(config_file, preset, spec_ref, overrides, None if chosen_by_options else doc)
        spec_cls = load_spec_class(spec_ref or "raft")
        extra: dict[str, dict[str, dict[str, Any]]] = {}
        notes: dict[str, str] = {}
        conformance: Optional[dict[str, Any]] = None
        if doc is not None:
            _check_document(doc, from_json, spec_cls, params)
            extra, notes, conformance = engines_from_document(doc)
    except (UsageError, ReportUsageError, SpecLoadError, ConfigError, TypeError) as exc:
        _fail(str(exc))
    except ProfileError as exc:
        _fail(f"--profile: {exc}")
    say = None if quiet else (lambda line: click.echo(line, err=True))
    data = build_report(
        spec_cls,
        params,
        preset=preset_name,
        variants=variants,
        graph_params=graph_params,
        extra_engines=extra,
        engine_notes=notes,
        conformance=conformance,
        note=say,
        progress=None if quiet else _progress_lines,
        variant_max_states=variant_max_states or None,
        variant_params=profile.variant_params,
        variant_simulate_seconds=variant_simulate_seconds,
    )
    try:
        html_path, md_path = write_report(data, out)
    except OSError as exc:
        _fail(f"{out}: cannot write the report: {exc.strerror}")
    if not quiet:
        verdict = "PASS" if data.ok else "FAIL"
        click.echo(f"{verdict}: wrote {html_path} and {md_path} in {data.seconds:.1f} s")
    sys.exit(EXIT_OK if data.ok else EXIT_FAILED)
