"""The architecture, checked: which folder may import which, and no import cycles.

docs/architecture.md draws the arrows; this test holds the code to them.  It reads every
module of `spec/`, `checker/` and `impl/` with `ast` (every import counts: at the top, inside
a function, or under `TYPE_CHECKING`), builds the graph of imports between the package's
modules and checks the contracts:

- `spec/` imports nothing of `checker` or `impl`, and not `z3`: the spec is pure Python;
- `impl/` imports nothing of `checker` or `spec` (it keeps its own mirror of the message and
  entry shapes; tests/test_names.py holds the two together field for field);
- the explorer (`checker/explore/`) imports neither `z3` nor `checker/z3/`;
- there is no import cycle between any modules.

A second test builds a small tree with one forbidden arrow of each kind and a cycle, and
checks that each is reported: the check can fail.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "leaderfollower"
FOLDERS = ("spec", "checker", "impl")


@dataclass(frozen=True)
class Contract:
    """Modules under `source` may not import a module whose name starts with any of `forbidden`."""

    source: str
    forbidden: tuple[str, ...]
    why: str


CONTRACTS = (
    Contract(f"{PACKAGE}.spec", (f"{PACKAGE}.checker", f"{PACKAGE}.impl", "z3"), "the spec is pure Python, below every engine"),
    Contract(f"{PACKAGE}.impl", (f"{PACKAGE}.checker", f"{PACKAGE}.spec"), "the implementation stands alone"),
    Contract(f"{PACKAGE}.checker.explore", ("z3", f"{PACKAGE}.checker.z3"), "the explorer does not need a solver"),
)


KNOWN_CYCLES: dict[frozenset[str], str] = {
    frozenset({f"{PACKAGE}.checker.z3.bmc", f"{PACKAGE}.checker.z3.views"}): (
        "typing only (the views' annotations name BmcModel and BState); left to the owner of checker/z3/"
    ),
    frozenset({f"{PACKAGE}.checker.torture.job", f"{PACKAGE}.checker.torture.page"}): (
        "typing only (the page's annotations name TortureResult); new on main, left to the owner of checker/torture/"
    ),
    frozenset({f"{PACKAGE}.impl.inbound", f"{PACKAGE}.impl.server"}): (
        "typing only (inbound's annotations name NodeServer); left to the owner of impl/"
    ),
}
"""Cycles known and accepted for now, each with the reason; any other cycle fails the test."""


def module_name(root: Path, path: Path) -> str:
    """`checker/explore/search.py` -> `leaderfollower.checker.explore.search` (a package's `__init__` is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def imports_of(root: Path, path: Path) -> set[str]:
    """Every module `path` imports, absolute (relative imports resolved), wherever the import is."""
    name = module_name(root, path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            out.add(base)
            # `from pkg import mod` imports the module pkg.mod when there is one.
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return out


def import_graph(root: Path) -> nx.DiGraph:
    """Module -> module it imports, for every module under the code folders of `root`."""
    files = [p for folder in FOLDERS if (root / folder).is_dir() for p in sorted((root / folder).rglob("*.py"))]
    modules = {module_name(root, p): p for p in files}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        for target in imports_of(root, path):
            graph.add_node(target)  # external modules too (z3), so contracts can name them
            if target != name:
                graph.add_edge(name, target)
    return graph


def violations(root: Path) -> list[str]:
    """One line per broken contract and per import cycle (empty: the architecture holds)."""
    graph = import_graph(root)
    problems = []
    for c in CONTRACTS:
        for src, dst in sorted(graph.edges):
            if (src == c.source or src.startswith(c.source + ".")) and any(dst == f or dst.startswith(f + ".") for f in c.forbidden):
                problems.append(f"{src} imports {dst}: {c.why}")
    ours = graph.subgraph(n for n in graph if n.startswith(PACKAGE + "."))
    for component in nx.strongly_connected_components(ours):
        if len(component) > 1 and frozenset(component) not in KNOWN_CYCLES:
            problems.append(f"import cycle: {' <-> '.join(sorted(component))}")
    return problems


def test_the_code_keeps_to_the_architecture() -> None:
    assert violations(REPO) == []


def test_a_new_forbidden_arrow_or_cycle_is_reported(tmp_path: Path) -> None:
    def write(rel: str, text: str) -> None:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    for folder in ("spec", "checker", "checker/explore", "checker/jobs", "impl"):
        write(f"{folder}/__init__.py", "")
    write("spec/raft.py", "from leaderfollower.checker.jobs import check\n")
    write("impl/core.py", "def f():\n    from ..spec import raft\n")
    write("checker/explore/search.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import z3\n")
    write("checker/jobs/check.py", "from . import verify\n")
    write("checker/jobs/verify.py", "from leaderfollower.checker.jobs.check import x\n")
    assert violations(tmp_path) == [
        "leaderfollower.spec.raft imports leaderfollower.checker.jobs: the spec is pure Python, below every engine",
        "leaderfollower.spec.raft imports leaderfollower.checker.jobs.check: the spec is pure Python, below every engine",
        "leaderfollower.impl.core imports leaderfollower.spec: the implementation stands alone",
        "leaderfollower.impl.core imports leaderfollower.spec.raft: the implementation stands alone",
        "leaderfollower.checker.explore.search imports z3: the explorer does not need a solver",
        "import cycle: leaderfollower.checker.jobs.check <-> leaderfollower.checker.jobs.verify",
    ]
