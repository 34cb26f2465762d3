"""Command-line options shared by the jobs: the model's parameters."""
from __future__ import annotations

from typing import Any

import click

MODEL_OPTIONS: tuple[tuple[str, str, Any, str], ...] = (
    ("--servers", "servers", int, "Number of servers."),
    ("--values", "values", int, "Number of client values."),
    ("--max-term", "max_term", int, "Bound on every current_term."),
    ("--max-log", "max_log", int, "Bound on every log's length."),
    ("--max-copies", "max_copies", int, "Bound on copies of one message in the bag."),
    ("--max-in-flight", "max_in_flight", int, "Bound on distinct messages in the bag."),
    ("--max-entries-per-append", "max_entries_per_append", int, "Option: entries per AppendEntries (raft.tla: 1)."),
)
"""The model parameters every job takes as options (they override the preset's)."""


def model_options(fn: Any) -> Any:
    """Add one option per model parameter (and --symmetry/--no-symmetry) to a command."""
    fn = click.option("--symmetry/--no-symmetry", "symmetry", default=None, help="Reduce by permutations of server identities.")(fn)
    for flag, name, kind, text in reversed(MODEL_OPTIONS):
        fn = click.option(flag, name, type=kind, default=None, help=text)(fn)
    return fn


def model_overrides(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the model options out of a command's keyword arguments."""
    names = [name for _, name, _, _ in MODEL_OPTIONS] + ["symmetry"]
    return {name: kwargs.pop(name) for name in names}
