"""What every command shares: exit codes, one-line usage errors, the model's parameters, progress.

Exit codes everywhere: 0 all properties hold, 1 a property is violated (or a
sometimes property never held, or a deadlock), 2 a usage or input error, reported
on one line.  `check` adds: 3 the search stopped at a budget (`--max-seconds`,
`--max-states`, `--max-depth`) with no violation found: incomplete, never "holds";
4 a run that could not finish (a worker of a partitioned search lost), one line;
130 (SIGINT, Ctrl-C) and 143 (SIGTERM) an interrupted run, after printing what it
found so far.  A violation found before either is still exit 1.
"""
from __future__ import annotations

import signal
import sys
import time
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Callable, Iterator, NoReturn, Optional

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from leaderfollower.spec.params import PRESETS, Params

from leaderfollower.checker.distributed.search import ShardProgress

EXIT_OK, EXIT_VIOLATION, EXIT_USAGE, EXIT_INCOMPLETE, EXIT_ERROR = 0, 1, 2, 3, 4
EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}
"""An interrupted run's exit code by signal: 128 plus the signal's number, as shells report it."""


class UsageError(Exception):
    """A one-line error about the command line or an input file."""


def fail_usage(message: str) -> NoReturn:
    """Print a one-line error and exit with the usage code."""
    click.echo(f"leaderfollower: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


class OneLineErrors(click.Group):
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


class ProgressBar:
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
        info = p if isinstance(p, str) else progress_text(p, "  ")
        self.progress.update(self.task, info=info)

    def close(self) -> None:
        """Stop the display for good (another engine's may follow)."""
        self.enabled = False
        if self.progress is not None:
            self.progress.stop()



def progress_text(p: Any, sep: str) -> str:
    """A search's `Progress` as text: states, depth, queue, rate, and each shard's memory for a partitioned search."""
    rate = p.states / p.seconds if p.seconds > 0 else 0
    info = sep.join((f"states {p.states:,}", f"depth {p.depth}", f"queue {p.queue:,}", f"{rate:,.0f} states/s"))
    if isinstance(p, ShardProgress) and p.shard_memory:
        info += f"{sep}shards " + " ".join(f"{m / 2**20:,.0f}" for m in p.shard_memory) + " MB"
    return info


class ProgressLines:
    """Progress as a plain line on stderr every `interval` seconds: for CI logs, `nohup` and `--json` runs.

    Takes the explorer's `Progress` or a line of text (another engine's), as `ProgressBar`.
    """

    def __init__(self, label: str = "exploring", interval: float = 5.0) -> None:
        self.label = label
        self.interval = interval
        self.start = time.perf_counter()
        self.last = self.start

    def __call__(self, p: Any) -> None:
        """Print the snapshot if `interval` seconds have passed since the last line."""
        now = time.perf_counter()
        if now - self.last < self.interval:
            return
        self.last = now
        info = p if isinstance(p, str) else progress_text(p, ", ")
        click.echo(f"{self.label}: {info}, {now - self.start:.0f} s", err=True)

    def close(self) -> None:
        """Nothing to stop (the same interface as `ProgressBar`)."""


def progress_display(quiet: bool, label: str = "exploring", interval: float = 5.0) -> "ProgressBar | ProgressLines":
    """A rich bar when stderr is a terminal, plain lines when it is not, nothing when quiet."""
    if not quiet and not sys.stderr.isatty():
        return ProgressLines(label, interval)
    return ProgressBar(enabled=not quiet, label=label)


def stop_on_signals(request_stop: Callable[[str], None]) -> AbstractContextManager[None]:
    """While inside, SIGINT and SIGTERM call `request_stop` with the signal's name instead of
    ending the process, so a long job can stop where it is and print what it has.  A second
    signal ends the process at once (the previous handlers are back after the first)."""
    return _on_signals(request_stop)


@contextmanager
def _on_signals(action: Callable[[str], None]) -> Iterator[None]:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)
        action(signal.Signals(signum).name)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

class SignalInterrupt(KeyboardInterrupt):
    """A SIGINT or SIGTERM raised as a `KeyboardInterrupt` that names its signal (`signal_name`)."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


def interrupt_on_signals() -> AbstractContextManager[None]:
    """While inside, SIGINT and SIGTERM raise `SignalInterrupt`, so a job made of steps (verify's
    engines) can stop, keep what the steps before found, and name the signal.  A second signal
    ends the process at once (the previous handlers are back after the first)."""
    return _on_signals(_raise_interrupt)


def _raise_interrupt(signal_name: str) -> None:
    raise SignalInterrupt(signal_name)
