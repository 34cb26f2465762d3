"""Key-value histories for the linearizability checker's tests: one operation by hand, or small random histories."""
from __future__ import annotations

from typing import Optional

from hypothesis import strategies as st

from leaderfollower.checker.torture.history import DELETE, FAIL, GET, OK, PUT, UNKNOWN, Op


def op(n: int, client: int, kind: str, value: Optional[str], invoke: int, complete: int, outcome: str = OK,
       existed: Optional[bool] = None, key: str = "x") -> Op:
    return Op(n, client, kind, key, value, invoke, complete, outcome, existed)


_times = st.integers(min_value=0, max_value=30)


@st.composite
def small_histories(draw: st.DrawFn) -> list[Op]:
    """Up to 7 operations on one key, values from a small set (repeats allowed), any outcome."""
    ops = []
    for n in range(draw(st.integers(min_value=1, max_value=7))):
        kind = draw(st.sampled_from([PUT, GET, DELETE]))
        invoke = draw(_times)
        complete = invoke + draw(st.integers(min_value=0, max_value=15))
        outcome = draw(st.sampled_from([OK, OK, OK, UNKNOWN, FAIL]))
        value = draw(st.sampled_from(["a", "b", "c"])) if kind == PUT else (
            draw(st.sampled_from([None, "a", "b"])) if kind == GET else None)
        existed = draw(st.sampled_from([None, True, False])) if kind == DELETE and outcome == OK else None
        ops.append(Op(n, n, kind, "x", value, invoke, complete, outcome, existed))
    return ops
