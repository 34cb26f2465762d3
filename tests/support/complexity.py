"""Cyclomatic complexity of every function in `spec/` and `checker/`, measured with radon.

Run as a script (`python tests/support/complexity.py`, as .ci/run does) it prints the largest
few, so that drift shows in CI's log; `tests/test_complexity.py` fails when any function is
above `LIMIT`.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from radon.complexity import cc_visit
from radon.visitors import Class, Function

REPO = Path(__file__).resolve().parents[2]
FOLDERS = ("spec", "checker")
EXCLUDED: tuple[str, ...] = ()
LIMIT = 25
"""No function may be more complex than this (radon's cyclomatic complexity)."""
KNOWN_OVER_LIMIT: dict[str, str] = {}
"""Functions over the limit, known and accepted for now, each with the reason (`path:name`)."""


@dataclass(frozen=True)
class Measure:
    """One function's complexity and where it is."""

    complexity: int
    where: str
    name: str


def measure(root: Path = REPO) -> list[Measure]:
    """Every function and method, most complex first."""
    out: set[Measure] = set()  # radon lists a method both alone and in its class
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel.startswith(EXCLUDED):
                continue
            for block in cc_visit(path.read_text()):
                items = [block, *block.methods] if isinstance(block, Class) else [block]
                for item in items:
                    if isinstance(item, Function):
                        name = f"{item.classname}.{item.name}" if item.classname else item.name
                        out.add(Measure(item.complexity, f"{rel}:{item.lineno}", name))
    return sorted(out, key=lambda m: (-m.complexity, m.where))


def over_limit(measures: list[Measure]) -> list[Measure]:
    """The functions above the limit that are not known exceptions."""
    return [m for m in measures if m.complexity > LIMIT and f"{m.where.split(':')[0]}:{m.name}" not in KNOWN_OVER_LIMIT]


def report(measures: list[Measure], top: int = 8) -> str:
    """The `top` most complex functions, one line each."""
    lines = [f"cyclomatic complexity (radon), limit {LIMIT}, largest {top} in spec/ and checker/:"]
    lines += [f"  {m.complexity:>3}  {m.name}  ({m.where})" for m in measures[:top]]
    return "\n".join(lines)


if __name__ == "__main__":
    found = measure()
    print(report(found))
    sys.exit(1 if over_limit(found) else 0)
