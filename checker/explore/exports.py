"""Writing an explored graph to files: GraphML (for tools) and DOT (for Graphviz)."""
from __future__ import annotations

from pathlib import Path

from leaderfollower.spec.state import LEADER, State

from leaderfollower.checker.explore.result import ExploreResult


def state_summary(s: State) -> str:
    """A short label for a state: each server's role initial, term, log length and commit index."""
    parts = []
    for k, srv in enumerate(s.servers):
        parts.append(f"s{k}:{srv.role[0]}{srv.current_term} log{len(srv.log)} c{srv.commit_index}")
    parts.append(f"msgs:{sum(c for _, c in s.messages)}")
    return " ".join(parts)


class ExportError(Exception):
    """A graph cannot be written where asked; the message says why."""


def dump_graph(result: ExploreResult, path: Path) -> None:
    """Write the state graph as GraphML (.graphml) or DOT (.dot/.gv), by extension."""
    suffix = path.suffix.lower()
    if suffix not in (".graphml", ".dot", ".gv"):
        raise ExportError(f"--dump-graph {path}: unknown extension {suffix or '(none)'}; use .graphml, .dot or .gv")
    # The three edge arrays are kept or dropped together (explore's keep_graph).
    edge_src, edge_dst, edge_label = result.edge_src, result.edge_dst, result.edge_label
    if edge_src is None or edge_dst is None or edge_label is None:
        raise ExportError("--dump-graph needs the graph; do not combine it with --no-graph")
    if suffix == ".graphml":
        import networkx as nx

        g = nx.MultiDiGraph()
        for sid in range(result.distinct_states):
            s = result.state(sid)
            g.add_node(
                sid,
                depth=int(result.depth[sid]),
                summary=state_summary(s),
                leader=any(srv.role == LEADER for srv in s.servers),
            )
        for u, v, lid in zip(edge_src, edge_dst, edge_label):
            g.add_edge(u, v, key=lid, action=str(result.labels[lid]), name=str(result.labels[lid].name))
        nx.write_graphml(g, path)
        return
    with path.open("w") as out:
        out.write("digraph states {\n  node [shape=box, fontsize=9];\n")
        for sid in range(result.distinct_states):
            s = result.state(sid)
            colour = ', style=filled, fillcolor="#ffe8a8"' if any(srv.role == LEADER for srv in s.servers) else ""
            out.write(f'  {sid} [label="{sid}: {state_summary(s)}"{colour}];\n')
        for u, v, lid in zip(edge_src, edge_dst, edge_label):
            label = str(result.labels[lid]).replace('"', "'")
            out.write(f'  {u} -> {v} [label="{label}", fontsize=7];\n')
        out.write("}\n")
