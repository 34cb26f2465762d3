"""`leaderfollower validate LOG...`: check that a recorded run of a real cluster is a behaviour of the spec.

Exit codes as everywhere: 0 the run is a behaviour of the spec, 1 a mismatch (the
first step no spec transition explains, or an invariant violated), 2 an unreadable
log or a bad option, on one line naming the file and line.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from leaderfollower.checker.jobs.specs import SpecLoadError, load_spec_class
from leaderfollower.checker.validate.validator import LogFormatError, Validator, read_events

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2


def _fail_usage(message: str) -> None:
    click.echo(f"leaderfollower: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


@click.command("validate")
@click.argument("logs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--spec", "spec_ref", default="raft", show_default=True,
              help="raft, a shipped variant, FILE.py:Class or module:Class.")
def validate(logs: tuple[Path, ...], spec_ref: str) -> None:
    """Check that the trace logs LOG... (files, or folders of *.jsonl) of a real run are a behaviour of the spec.

    Nodes write these logs with `--trace-log`; every logged step must be an enabled
    spec transition from the state so far, with the successor the node logged.
    """
    try:
        spec_cls = load_spec_class(spec_ref)
        events = read_events(list(logs))
        result = Validator(events, spec_cls).run()
    except (SpecLoadError, LogFormatError) as e:
        _fail_usage(str(e))
        return
    nodes = sorted({e.node for e in events})
    summary = (f"{result.steps} steps from {result.files} file(s), nodes {', '.join(map(str, nodes))},"
               f" {result.restarts} restart(s)")
    if result.undone_batches:
        summary += f", {result.undone_batches} batch(es) undone (killed before persisting)"
    if result.mismatch is not None:
        click.echo(f"MISMATCH at {result.mismatch}")
        click.echo(f"({summary} explained before it)")
        sys.exit(EXIT_MISMATCH)
    click.echo(f"VALID: {summary} are a behaviour of the spec {spec_cls.name}")
    counts = ", ".join(f"{name} {n}" for name, n in sorted(result.actions.items()))
    click.echo(f"actions: {counts}")
    sys.exit(EXIT_OK)
