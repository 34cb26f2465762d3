"""Test entry point: run one node built from a conformance mutant (checker/conform/mutants.py).

    python tests/support/mutant_node.py --mutant NAME [--election-ticks MIN MAX] NODE-OPTIONS...

NODE-OPTIONS are those of `leaderfollower node` (`--id`, `--nodes`, `--base-port`,
`--data-dir`, `--trace-log`).  The node is the product's own `NodeServer`, given the
mutant's core and storage classes through its documented seam
(`NodeServer(config, core_class, storage_class)`): the product has no switch that
turns a bug on.  `--election-ticks` sets the election timeout range, to make a
scenario deterministic (a voter that never times out by itself).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import click

from leaderfollower.checker.conform.mutants import MUTANTS
from leaderfollower.impl.cli import node_tls, serve_node
from leaderfollower.impl.node import NodeConfig
from leaderfollower.impl.server import NodeServer, ServerConfig, local_addresses


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutant", choices=sorted(MUTANTS), default=None, help="the broken implementation to run (none: the real one)")
    parser.add_argument("--election-ticks", nargs=2, type=int, default=None, metavar=("MIN", "MAX"))
    parser.add_argument("--id", type=int, required=True)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--base-port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--trace-log", type=Path, default=None)
    parser.add_argument("--insecure", action="store_true", help="plain TCP, as `leaderfollower node --insecure`")
    args = parser.parse_args(argv)
    node = NodeConfig() if args.election_ticks is None else NodeConfig(*args.election_ticks)
    config = ServerConfig(args.id, local_addresses(args.nodes, args.base_port), args.data_dir / f"node{args.id}",
                          node=node, trace_log=args.trace_log,
                          tls=node_tls(args.data_dir, args.nodes, args.id, args.insecure))
    impl = MUTANTS[args.mutant].impl if args.mutant else None

    def make_server(cfg: ServerConfig) -> NodeServer:
        return NodeServer(cfg) if impl is None else NodeServer(cfg, impl.core, impl.storage)

    try:
        serve_node(config, make_server)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main(sys.argv[1:])
