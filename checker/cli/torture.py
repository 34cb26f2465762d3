"""`leaderfollower torture`: the command line of the torture job (a thin layer over `job.run_torture`).

Exit codes as everywhere: 0 every check holds, 1 a check fails (or could not be
decided, or the cluster could not be run), 2 a usage or input error, on one line.
`--check HISTORY` checks a recorded history file alone, without a cluster.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn, Optional

import click

from leaderfollower.checker.torture.history import HistoryError, by_key, load_history
from leaderfollower.checker.torture.job import VALID, TortureConfig, TortureError, run_torture
from leaderfollower.checker.torture.linearizability import LINEARIZABLE, check_history
from leaderfollower.checker.torture.nemesis import FAULTS, NemesisConfig
from leaderfollower.checker.torture.netns import NamespaceError
from leaderfollower.checker.torture.shrink import shrink
from leaderfollower.checker.torture.workload import WorkloadConfig

from leaderfollower.checker.cli.common import EXIT_OK, EXIT_USAGE, fail_usage

EXIT_FAILED = 1


def _usage(message: str) -> NoReturn:
    fail_usage(f"torture: {message}")


def _faults(text: str) -> tuple[str, ...]:
    names = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in names if f not in FAULTS]
    if unknown:
        _usage(f"--faults: unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    return names


def _check_file(path: Path) -> NoReturn:
    try:
        history = load_history(path)
    except HistoryError as e:
        _usage(str(e))
    verdict = check_history(history)
    click.echo(f"{len(history)} operations on {len(verdict.keys)} keys ({verdict.dropped} dropped): "
               f"{verdict.status.upper()} ({verdict.seconds:.1f} s)")
    groups = by_key(history)
    for k in verdict.keys:
        if k.result.status != LINEARIZABLE:
            click.echo(f"  key {k.key}: {k.result.status} {k.result.reason}".rstrip())
    for k in verdict.failing[:3]:
        witness = shrink(groups[k.key])
        click.echo(f"{'minimal' if witness.minimal else 'shrunk (out of time, not minimal)'} non-linearizable"
                   f" sub-history of key {k.key}:")
        for op in witness.ops:
            end = "..." if op.outcome == "unknown" else str(op.complete)
            click.echo(f"  [{op.invoke}, {end}] client {op.client}: {op.describe()}")
    sys.exit(EXIT_OK if verdict.status == LINEARIZABLE else EXIT_FAILED)


@click.command("torture")
@click.option("--time", "seconds", type=click.FloatRange(1.0), default=180.0, show_default=True,
              help="Seconds of clients and faults.")
@click.option("--nodes", type=click.IntRange(3, 7), default=3, show_default=True, help="Cluster size.")
@click.option("--clients", type=click.IntRange(1, 64), default=8, show_default=True, help="Concurrent clients.")
@click.option("--keys", type=click.IntRange(1), default=8, show_default=True, help="Keys the clients share.")
@click.option("--faults", default=",".join(FAULTS), show_default=True,
              help="Comma-separated faults the nemesis picks from (empty: none).")
@click.option("--rate", type=click.FloatRange(0.1), default=None, help="Operations per second per client at most.")
@click.option("--op-timeout", type=click.FloatRange(0.1), default=5.0, show_default=True,
              help="Seconds a client keeps trying one operation before its outcome counts as unknown.")
@click.option("--seed", type=int, default=None, help="Seed of the nemesis and the clients (default: random, printed).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("torture-out"),
              show_default=True, help="Folder for history.jsonl, result.json, torture.html and the node data.")
@click.option("--no-partitions", is_flag=True, help="Do not create a network namespace; no partitions.")
@click.option("--insecure", is_flag=True, help="Plain TCP between nodes and from clients, no TLS (default: mutual TLS"
              " with certificates made in OUT/data/tls, as `leaderfollower cluster` does).")
@click.option("--check", "check_path", type=click.Path(path_type=Path), default=None,
              help="Only check this recorded history file (JSON Lines) for linearizability; start no cluster.")
def torture(seconds: float, nodes: int, clients: int, keys: int, faults: str, rate: Optional[float],
            op_timeout: float, seed: Optional[int], out: Path, no_partitions: bool, insecure: bool,
            check_path: Optional[Path]) -> None:
    """Run a real cluster under faults (kill -9, pauses, partitions) with concurrent clients, then check the history.

    Checks: linearizability of every key's history, durability of every
    acknowledged write, and agreement of the nodes' committed logs.  Writes
    OUT/torture.html (charts with the faults shaded, the minimal non-linearizable
    sub-history if any), OUT/history.jsonl and OUT/result.json.
    """
    if check_path is not None:
        _check_file(check_path)
    if out.exists() and any(out.iterdir()):
        _usage(f"--out {out}: the folder is not empty; give a new or empty one")
    config = TortureConfig(
        seconds=seconds, nodes=nodes, seed=seed, partitions=not no_partitions, tls=not insecure,
        workload=WorkloadConfig(clients=clients, keys=keys, rate=rate, op_timeout=op_timeout),
        nemesis=NemesisConfig(faults=_faults(faults)),
    )
    try:
        result = run_torture(config, out, echo=click.echo)
    except (TortureError, NamespaceError) as e:
        click.echo(f"leaderfollower: torture: the run could not be carried out: {e}", err=True)
        sys.exit(EXIT_FAILED)
    s = result.summary()
    click.echo(f"{s['operations']} operations ({s['by_outcome']['ok']} ok, {s['by_outcome']['unknown']} unknown"
               f" writes, {s['by_outcome']['fail']} failed reads); faults: "
               + (", ".join(f"{k} x{v}" for k, v in s["faults"].items()) or "none"))
    click.echo(f"linearizability: {result.linearizability.status}; lost writes: {len(result.durability.lost)};"
               f" logs agree: {'yes' if not result.durability.disagreements else 'NO'};"
               f" crashed nodes: {len(result.crashed)}")
    for key, witness in result.witnesses.items():
        click.echo(f"{'minimal' if witness.minimal else 'shrunk (out of time, not minimal)'} non-linearizable"
                   f" sub-history of key {key}:")
        for op in witness.ops:
            click.echo(f"  client {op.client}: {op.describe()}")
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo(f"verdict: {result.verdict.upper()} (seed {result.seed}); page: {out / 'torture.html'}")
    sys.exit(EXIT_OK if result.verdict == VALID else EXIT_FAILED)
