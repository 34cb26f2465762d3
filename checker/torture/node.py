"""One node of a torture cluster, run as its own process: `python -m leaderfollower.checker.torture.node`.

`leaderfollower node` gives every node the same host; here every node has an
address of its own (127.0.0.11, 127.0.0.12, ... inside the job's network
namespace) and dials its peers from it, so that the nemesis's packet rules can
tell the nodes apart.  Everything else is the implementation's own server, with
mutual TLS from the cluster's certificates as `leaderfollower node` has.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

import click

from leaderfollower.impl.cli import serve_node
from leaderfollower.impl.server import Address, ServerConfig
from leaderfollower.impl.tls import Identity, node_name


def parse_addresses(text: str) -> tuple[Address, ...]:
    """`host:port,host:port,...` as a tuple of addresses; ValueError naming the bad one."""
    addresses = []
    for part in text.split(","):
        host, sep, port = part.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"address {part!r}: expected host:port")
        addresses.append((host, int(port)))
    return tuple(addresses)


def format_addresses(addresses: Sequence[Address]) -> str:
    """The inverse of `parse_addresses`."""
    return ",".join(f"{host}:{port}" for host, port in addresses)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run node `--id` of the cluster `--addresses` with its data in `--data-dir`; the exit code says how it ended."""
    parser = argparse.ArgumentParser(prog="leaderfollower.checker.torture.node", description=__doc__)
    parser.add_argument("--id", type=int, required=True)
    parser.add_argument("--addresses", required=True, help="host:port of every node, comma-separated, by id")
    parser.add_argument("--data-dir", type=Path, required=True, help="this node's own folder")
    parser.add_argument("--tls-from", type=Path, default=None,
                        help="the cluster folder holding tls/ (its certificates); absent: plain TCP")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    try:
        addresses = parse_addresses(args.addresses)
    except ValueError as e:
        parser.error(str(e))
    if not 0 <= args.id < len(addresses):
        parser.error(f"--id {args.id} outside 0..{len(addresses) - 1}")
    tls = None if args.tls_from is None else Identity.of(args.tls_from, node_name(args.id))
    config = ServerConfig(args.id, addresses, args.data_dir, source_host=addresses[args.id][0], tls=tls)
    try:
        serve_node(config)
    except click.ClickException as e:
        print(e.format_message(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
