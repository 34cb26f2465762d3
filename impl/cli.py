"""Command-line entry points of the implementation (`cluster`, `node`, `client`), added to `leaderfollower`.

`leaderfollower cluster` starts one `node` process per server on 127.0.0.1 and
writes `cluster.json` (the addresses) into its data folder; `leaderfollower
client ...` reads that file when it exists, and otherwise derives the same
addresses from the same defaults (`--base-port`, `--nodes`), so the two agree
with no options at all.

Every connection is mutual TLS (impl/tls.py, docs/security.md): on first start
the cluster's CA and certificates are made in `<data-dir>/tls/`, nodes use
`node<i>.pem`, the client `client.pem`.  `--insecure` turns it off (plain TCP, no
authentication), on every command of a cluster alike.
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import click

from .storage import StorageError
from .server import Address, NodeServer, ServerConfig, local_addresses, run
from .tls import TLS_DIR, Identity, TlsError, client_context_for, ensure_cluster_certs, node_name

DEFAULT_DATA_DIR = "leaderfollower-data"
DEFAULT_BASE_PORT = 7400
DEFAULT_NODES = 3
CLUSTER_FILE = "cluster.json"


def _common(f: Any) -> Any:
    f = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_DATA_DIR,
                     show_default=True, help="Folder holding one subfolder per node and cluster.json.")(f)
    f = click.option("--base-port", type=click.IntRange(1, 65535), default=DEFAULT_BASE_PORT, show_default=True,
                     help="Node i listens on base-port + i.")(f)
    f = click.option("--nodes", type=click.IntRange(1, 7), default=DEFAULT_NODES, show_default=True,
                     help="Number of nodes.")(f)
    return f


def _addresses(data_dir: Path, base_port: int, nodes: int, explicit: bool) -> tuple[Address, ...]:
    path = data_dir / CLUSTER_FILE
    if not explicit and path.exists():
        doc = json.loads(path.read_text())
        return tuple((a[0], int(a[1])) for a in doc["addresses"])
    return local_addresses(nodes, base_port)


def node_tls(data_dir: Path, nodes: int, node_id: int, insecure: bool) -> Optional[Identity]:
    """Node `node_id`'s TLS identity in the cluster folder `data_dir` (made on first start), or None if `insecure`."""
    if insecure:
        return None
    try:
        ensure_cluster_certs(data_dir, nodes)
    except (OSError, TlsError) as e:
        raise click.ClickException(f"node {node_id}: cannot make the cluster's certificates: {e}") from None
    return Identity.of(data_dir, node_name(node_id))


_INSECURE_HELP = ("Plain TCP, no TLS: anyone who can reach the ports can read and rewrite the cluster."
                  " Every node and client of a cluster must agree.")


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), format="%(asctime)s %(levelname)s %(message)s")


@click.command("node")
@_common
@click.option("--id", "node_id", type=int, required=True, help="This node's id, 0..nodes-1.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Host every node listens on.")
@click.option("--max-entries-per-append", type=click.IntRange(1), default=256, show_default=True,
              help="Entries per AppendEntries (the spec option; 1 is raft.tla's).")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--trace-log", type=click.Path(path_type=Path), default=None,
              help="Append one JSON line per protocol step to this file (or to node<i>.jsonl in this folder),"
                   " for `leaderfollower validate`. Off by default.")
@click.option("--insecure", is_flag=True, help=_INSECURE_HELP)
def node_command(data_dir: Path, base_port: int, nodes: int, node_id: int, host: str, max_entries_per_append: int,
                 log_level: str, trace_log: Optional[Path], insecure: bool) -> None:
    """Run one node of a cluster in this process."""
    _setup_logging(log_level)
    if not 0 <= node_id < nodes:
        raise click.BadParameter(f"--id {node_id} outside 0..{nodes - 1}", param_hint="--id")
    config = ServerConfig(node_id, local_addresses(nodes, base_port, host), data_dir / f"node{node_id}",
                          max_entries_per_append=max_entries_per_append, trace_log=trace_log,
                          tls=node_tls(data_dir, nodes, node_id, insecure))
    serve_node(config)


def serve_node(config: ServerConfig, make_server: Callable[[ServerConfig], NodeServer] = NodeServer) -> None:
    """Run one node until it stops; a ClickException (one line, exit 1) when it cannot start or fails.

    `make_server` builds the server from its configuration (a seam: a test entry point
    passes one that builds the node from other core and storage classes).
    """
    node_id = config.node_id
    # The log is a long-lived list of small tuples: frequent full collections
    # walk all of it and show up as 10-20 ms pauses in commit latency.
    gc.set_threshold(100_000, 50, 1_000)

    async def serve() -> Optional[BaseException]:
        server = make_server(config)
        await server.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: loop.create_task(server.stop()))
        await server.wait_closed()
        return server.failed

    try:
        failed = run(serve())
    except (OSError, StorageError, TlsError) as e:
        raise click.ClickException(f"node {node_id}: cannot start: {e}") from e
    if failed is not None:
        raise click.ClickException(f"node {node_id} stopped: {failed}")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@click.command("cluster")
@_common
@click.option("--max-entries-per-append", type=click.IntRange(1), default=256, show_default=True,
              help="Entries per AppendEntries (the spec option; 1 is raft.tla's).")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--trace-log", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for one trace file per node (node<i>.jsonl), for `leaderfollower validate`. Off by default.")
@click.option("--insecure", is_flag=True, help=_INSECURE_HELP)
def cluster_command(data_dir: Path, base_port: int, nodes: int, max_entries_per_append: int, log_level: str,
                    trace_log: Optional[Path], insecure: bool) -> None:
    """Start a local cluster on 127.0.0.1, one process per node; Ctrl-C stops it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if not insecure:
        node_tls(data_dir, nodes, 0, insecure)  # the CA and every certificate, before any node starts
    if trace_log is not None:
        trace_log.mkdir(parents=True, exist_ok=True)
    addresses = local_addresses(nodes, base_port)
    (data_dir / CLUSTER_FILE).write_text(json.dumps({"addresses": addresses}) + "\n")
    click.echo(f"cluster of {nodes} nodes on 127.0.0.1 ports {base_port}..{base_port + nodes - 1}, data in {data_dir.resolve()}")
    # SIGTERM (a service manager, a test's terminate()) must stop the nodes too, as Ctrl-C does:
    # without this the default action ends this process at once and leaves the nodes running.
    signal.signal(signal.SIGTERM, _interrupt)
    procs = []
    for i in range(nodes):
        cmd = [sys.executable, "-m", "leaderfollower.impl.cli", "node", "--id", str(i), "--nodes", str(nodes),
               "--base-port", str(base_port), "--data-dir", str(data_dir),
               "--max-entries-per-append", str(max_entries_per_append), "--log-level", log_level]
        if trace_log is not None:
            cmd += ["--trace-log", str(trace_log)]
        if insecure:
            cmd.append("--insecure")
        procs.append(subprocess.Popen(cmd))
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.2)
        dead = [i for i, p in enumerate(procs) if p.poll() is not None]
        click.echo(f"node(s) {dead} exited; stopping the cluster", err=True)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


@click.group("client")
@_common
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds to keep trying.")
@click.option("--insecure", is_flag=True, help=_INSECURE_HELP)
@click.pass_context
def client_command(ctx: click.Context, data_dir: Path, base_port: int, nodes: int, timeout: float, insecure: bool) -> None:
    """Talk to a cluster: put, get, delete, status."""
    explicit = any(ctx.get_parameter_source(p) == click.core.ParameterSource.COMMANDLINE for p in ("base_port", "nodes"))
    tls = None
    if not insecure:
        try:
            tls = client_context_for(data_dir)
        except TlsError as e:
            raise click.ClickException(str(e)) from None
        if tls is None:
            raise click.ClickException(f"no client certificate in {data_dir / TLS_DIR} (the cluster makes it on first"
                                       " start); pass --data-dir of the cluster, or --insecure for a cluster without TLS")
    ctx.obj = (_addresses(data_dir, base_port, nodes, explicit), timeout, tls)


def _run_client(ctx: click.Context, op: str, *args: Any, **kwargs: Any) -> None:
    from .client import Client, ClientError, RequestTooLarge

    addresses, timeout, tls = ctx.obj

    async def go() -> dict[str, Any]:
        async with Client(addresses, timeout=timeout, tls=tls) as c:
            return await getattr(c, op)(*args, **kwargs)  # type: ignore[no-any-return]

    try:
        reply = run(go())
    except ClientError as e:
        raise click.ClickException(str(e)) from e
    except RequestTooLarge as e:
        raise click.UsageError(str(e)) from e
    reply.pop("id", None)
    click.echo(json.dumps(reply))
    if not reply.get("ok"):
        sys.exit(1)


@client_command.command("put")
@click.argument("key")
@click.argument("value")
@click.pass_context
def client_put(ctx: click.Context, key: str, value: str) -> None:
    """Set KEY to VALUE."""
    _run_client(ctx, "put", key, value)


@client_command.command("get")
@click.argument("key")
@click.option("--stale", is_flag=True, help="Read from whichever node answers; may be out of date.")
@click.pass_context
def client_get(ctx: click.Context, key: str, stale: bool) -> None:
    """Read KEY (linearizable unless --stale)."""
    _run_client(ctx, "get", key, stale=stale)


@client_command.command("delete")
@click.argument("key")
@click.pass_context
def client_delete(ctx: click.Context, key: str) -> None:
    """Remove KEY."""
    _run_client(ctx, "delete", key)


@client_command.command("status")
@click.argument("node", type=int)
@click.pass_context
def client_status(ctx: click.Context, node: int) -> None:
    """Show NODE's role, term, leader and indexes."""
    _run_client(ctx, "status", node)


commands: list[click.Command] = [cluster_command, node_command, client_command]
"""The click commands this package contributes to the `leaderfollower` group."""


@click.group()
def _standalone() -> None:
    """The implementation's commands alone (used by `cluster` to start node processes)."""


for _c in commands:
    _standalone.add_command(_c)

if __name__ == "__main__":
    _standalone()
