"""No function in `spec/` or `checker/` is above cyclomatic complexity 25.

The measure is radon's; `python tests/support/complexity.py` prints the largest few (CI does,
so that drift is visible in its log).
"""
from __future__ import annotations

from support.complexity import measure, over_limit, report


def test_no_function_is_above_the_complexity_limit() -> None:
    found = measure()
    assert found, "no function measured: the folders moved?"
    over = over_limit(found)
    assert not over, report(over, top=len(over))
