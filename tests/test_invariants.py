"""One definition per invariant: the explorer, the inductive prover and BMC all read `spec.invariants`.

The agreement tests (test_z3_agreement.py, test_bmc.py) compare the engines' truth
values on explored states; these tests check that the engines build their
properties from the one definition, and that an invariant written once, as a user
would, is checked consistently by all three.
"""
from __future__ import annotations

import z3
from hypothesis import given, settings
from hypothesis import strategies as st

from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.z3.bmc import PROPERTIES as BMC_PROPERTIES
from leaderfollower.checker.z3.bmc import BmcModel, run_bmc
from leaderfollower.checker.z3.model import Z3Model
from leaderfollower.checker.z3.views import BmcView, Z3View, invariant_for_bmc
from leaderfollower.spec.expr import StateView, Term, View, agree_below_by_index, agree_by_index
from leaderfollower.spec.invariants import INVARIANTS
from leaderfollower.checker.z3.lemmas import PROPERTY_ENCODINGS
from leaderfollower.spec.params import Params
from leaderfollower.spec.properties import PROPERTIES, Property, property_by_name
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.state import Entry

TINY = Params(servers=2, max_term=2, max_log=1)


def test_every_always_property_but_typeok_has_one_definition() -> None:
    always = {p.name for p in PROPERTIES if p.kind == "always"} - {"TypeOK"}
    assert always == set(INVARIANTS)
    assert set(PROPERTY_ENCODINGS) <= set(INVARIANTS)
    assert set(BMC_PROPERTIES) - {"TypeOK"} == set(INVARIANTS)


def test_the_z3_encodings_are_built_from_the_definitions() -> None:
    """The prover's and BMC's terms are exactly the definitions' terms on their views."""
    z = Z3Model(Params(servers=3))
    s = z.fresh("s")
    for name, encoded in PROPERTY_ENCODINGS.items():
        assert z3.eq(encoded(z, s), INVARIANTS[name](Z3View(z, s))), name
    b = BmcModel(Params(servers=3, max_log=2))
    bs = b.fresh("b")
    for name, inv in INVARIANTS.items():
        assert z3.eq(BMC_PROPERTIES[name](b, bs), inv(BmcView(b, bs))), name


def test_the_explorer_evaluates_the_definitions() -> None:
    spec = RaftSpec(TINY)
    result = explore(spec, keep_graph=False, stop_on_violation=False)
    for k in range(0, result.distinct_states, 7):
        s = result.state(k)
        for name, inv in INVARIANTS.items():
            assert property_by_name(name).holds(spec, s) == inv(StateView(spec, s.servers)), (name, s)  # type: ignore[misc]


logs = st.lists(st.builds(Entry, st.integers(1, 3), st.integers(0, 1)), max_size=6).map(tuple)


@settings(max_examples=300, deadline=None)
@given(logs, logs, st.integers(0, 8))
def test_the_concrete_views_fast_log_readings_mean_what_the_index_by_index_ones_do(la: tuple[Entry, ...], lb: tuple[Entry, ...], top: int) -> None:
    """`StateView.agree`/`agree_below` compare slices (long logs in validation); the definitions are index by index."""
    spec = RaftSpec(Params(servers=2))
    init = spec.init()
    v = StateView(spec, (init.servers[0]._replace(log=la), init.servers[1]._replace(log=lb)))
    assert v.agree(0, 1, top) == agree_by_index(v, 0, 1, top)

    def guard(x: int) -> bool:
        return v.entry_term(0, x) == v.entry_term(1, x)

    bounds = [len(la), len(lb)]
    assert v.agree_below(0, 1, bounds, guard) == agree_below_by_index(v, 0, 1, bounds, guard)


def nothing_commits(v: View) -> Term:
    """A deliberately false invariant, written once: no server ever commits an entry."""
    return v.all(v.not_(v.positive(v.commit(i))) for i in v.servers)


def test_an_invariant_written_once_is_broken_at_the_same_depth_in_every_engine() -> None:
    spec = RaftSpec(TINY)
    prop = Property(
        "NothingCommits", "always", "no server commits", holds=lambda sp, s: bool(nothing_commits(StateView(sp, s.servers)))
    )
    result = explore(spec, [prop])
    [violation] = result.violations
    depth = result.depth[violation.state]
    assert depth > 0

    [bmc] = run_bmc(spec, ["NothingCommits"], depth + 2, extra={"NothingCommits": invariant_for_bmc(nothing_commits)})
    assert bmc.violated and bmc.depth == depth

    # The unbounded encoding: true in Init, false on the explorer's violating state.
    z = Z3Model.for_spec(spec)
    init = z.fresh("i")
    solver = z3.Solver()
    solver.add(z.init(init), z3.Not(nothing_commits(Z3View(z, init))))
    assert solver.check() == z3.unsat
    bad = z.concrete(result.state(violation.state))
    assert z3.is_false(z3.simplify(nothing_commits(Z3View(z, bad))))
