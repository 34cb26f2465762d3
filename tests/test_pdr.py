"""IC3 on the finite-domain encoding (`checker/z3/pdr.py`).

Scenarios:
- on the correct spec every property is proved at every depth, and the invariant
  IC3 found contains every state the explorer reaches (it over-approximates the
  reachable states, as an inductive invariant must);
- the certificate check refuses an invariant that leaves out Init, one that is not
  closed under the relation, and one that does not imply the property;
- the server permutations IC3 uses to copy clauses are symmetries: the relation
  commutes with them (asked of Z3), and on every state of an explored graph the
  literal renaming equals the spec's own permutation of the state;
- each broken variant is violated at the explorer's shortest length (pinned in
  `tests/test_variants.py`), with a path that replays through the Python spec,
  also when the frontier has to be cleared again in strict mode;
- `prove --engine ic3` reports both outcomes, with exit codes 0 and 1.
"""
from __future__ import annotations

import itertools
import json

import pytest
import z3
from click.testing import CliRunner

from leaderfollower.checker.cli.main import main
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.explore.store import permute_state
from leaderfollower.checker.z3.prove import ic3
from leaderfollower.checker.explore.traces import replay
from leaderfollower.checker.z3.bmc import PROPERTIES, BmcModel, BState, property_defs
from leaderfollower.checker.z3.pdr import Certificate, Cube, Pdr, PdrError, run_pdr
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.properties import property_by_name
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import VARIANTS
from support.pinned import PINNED_LENGTH  # the explorer's shortest counterexample lengths, pinned once

SMALL2 = Params(servers=2, values=1, max_term=2, max_log=0, max_copies=1, max_in_flight=1)
"""2 servers, no log: IC3 proves everything here in a few seconds."""


def _cube_of(pdr: Pdr, values: dict) -> Cube:
    return frozenset(pdr._lit(vi, values[key]) for vi, key in enumerate(pdr.keys))


def _proved(spec: RaftSpec) -> tuple[Pdr, list[Cube]]:
    """Run IC3 on every property; return the engine and its invariant (as the cubes it excludes)."""
    z = BmcModel.for_spec(spec)
    pdr = Pdr(z, spec)
    r = pdr.run("all", lambda s: z3.And([d(z, s) for d in PROPERTIES.values()]))
    assert r.proved and not r.violated, r
    assert len(r.invariant) == r.invariant_clauses > 0
    return pdr, r.invariant


@pytest.mark.parametrize("params", [SMALL2, PRESETS["tiny"]], ids=["2-servers-no-log", "tiny"])
def test_the_invariant_found_contains_every_reachable_state(params: Params) -> None:
    spec = RaftSpec(params)
    pdr, inv = _proved(spec)
    result = explore(spec, keep_graph=False, stop_on_violation=False)
    assert result.distinct_states > 100
    for sid in range(result.distinct_states):
        cube = _cube_of(pdr, pdr.z.values_of(result.state(sid)))
        excluded = [c for c in inv if c <= cube]
        assert not excluded, f"reachable state {sid} is excluded by a clause of the invariant"


def test_run_pdr_proves_every_property_of_the_correct_spec() -> None:
    findings, stats = run_pdr(RaftSpec(SMALL2), list(PROPERTIES))
    assert [(f.property, f.violated, f.proved) for f in findings] == [(n, False, True) for n in PROPERTIES]
    assert stats.clauses > 0 and stats.queries > 0


def test_the_certificate_check_refuses_a_wrong_invariant() -> None:
    spec = RaftSpec(SMALL2)
    z = BmcModel.for_spec(spec)
    pdr = Pdr(z, spec)
    prop = PROPERTIES["ElectionSafety"](z, pdr.cur)
    cert = Certificate(z, prop)
    # Nothing excluded: closed, contains Init, but two leaders of one term are in it.
    with pytest.raises(PdrError, match="does not imply the property"):
        cert.check([], pdr)
    with pytest.raises(PdrError, match="Init is not inside"):
        cert.check([pdr.init_cube], pdr)
    # Excluding a successor of Init (and nothing else) is not closed under the relation.
    _, first = next((a, n) for a, n in spec.successors(spec.init()) if n != spec.init())
    with pytest.raises(PdrError, match="not closed"):
        cert.check([_cube_of(pdr, z.values_of(first))], pdr)
    _, inv = _proved(spec)
    cert.check(inv, pdr)  # the one IC3 found passes


def _permuted(z: BmcModel, s: BState, pi: tuple[int, ...], rename_votes: bool = True) -> BState:
    """The state s with its servers renamed by pi, as terms (an absent slot's fields stay as they are)."""
    inv = {pi[i]: i for i in range(z.n)}

    def server_value(e: z3.ExprRef, offset: int) -> z3.ExprRef:
        out = e
        for v in range(z.n):
            out = z3.If(e == v + offset, z3.BitVecVal(pi[v] + offset, e.size()), out)
        return out

    out = {}
    for key in z.keys:
        kind = key[0]
        if kind in ("vr", "vg", "next", "match"):
            src_key = (kind, inv[key[1]], inv[key[2]])
        elif kind in ("term", "role", "voted_for", "len", "commit", "log_term", "log_value"):
            src_key = (kind, inv[key[1]], *key[2:])
        else:
            src_key = key
        e = s[src_key]
        if kind == "voted_for" and rename_votes:
            e = server_value(e, 1)
        elif kind in ("src", "dst"):
            e = z3.If(s[("present", key[1])], server_value(e, 0), e)
        out[key] = e
    return BState(z.dom, out)


def _unmatched_step(z: BmcModel, pi: tuple[int, ...], rename_votes: bool = True) -> z3.CheckSatResult:
    """Is there a step a -> b whose renaming pi(a) -> pi(b) no instance of the relation allows?"""
    a, b = z.fresh("a"), z.fresh("b")
    step = z.step(a, b, "_sym")
    pa, pb = _permuted(z, a, pi, rename_votes), _permuted(z, b, pi, rename_votes)
    image = z.step(z.fresh("pa"), z.fresh("pb"), "_img")
    width = image.choice.size()
    some_choice = z3.Or([z3.substitute(image.relation, (image.choice, z3.BitVecVal(c, width))) for c in range(len(image.instances))])
    s = z3.SolverFor("QF_FD")
    s.add(step.relation, *[image.pre[k] == pa[k] for k in z.keys], *[image.post[k] == pb[k] for k in z.keys], z3.Not(some_choice))
    return s.check()


@pytest.mark.parametrize("preset", ["tiny", "default"])
def test_the_relation_commutes_with_every_server_permutation(preset: str) -> None:
    z = BmcModel.for_spec(RaftSpec(PRESETS[preset]))
    a = z.fresh("a")
    for pi in itertools.permutations(range(z.n)):
        assert _unmatched_step(z, pi) == z3.unsat, f"the relation is not symmetric under {pi}"
        for name, d in PROPERTIES.items():
            s = z3.SolverFor("QF_FD")
            s.add(d(z, a) != d(z, _permuted(z, a, pi)))
            assert s.check() == z3.unsat, f"{name} is not symmetric under {pi}"


def test_a_renaming_that_forgets_the_votes_is_not_a_symmetry() -> None:
    """The symmetry check can fail: votes left unrenamed break the relation's commuting."""
    z = BmcModel.for_spec(RaftSpec(PRESETS["tiny"]))
    assert _unmatched_step(z, (1, 0), rename_votes=False) == z3.sat


def test_the_literal_renaming_is_the_specs_permutation_on_every_state_of_the_tiny_graph() -> None:
    spec = RaftSpec(PRESETS["tiny"])
    z = BmcModel.for_spec(spec)
    pdr = Pdr(z, spec)
    result = explore(spec, keep_graph=False, stop_on_violation=False)
    perms = [pi for pi in itertools.permutations(range(z.n)) if list(pi) != list(range(z.n))]
    for sid in range(result.distinct_states):
        s = result.state(sid)
        cube = _cube_of(pdr, z.values_of(s))
        expected = {cube} | {_cube_of(pdr, z.values_of(permute_state(s, pi))) for pi in perms}
        assert pdr._orbit(cube) == expected, s


def test_a_cube_that_leaves_a_slot_open_is_split_on_its_presence() -> None:
    spec = RaftSpec(PRESETS["tiny"])
    z = BmcModel.for_spec(spec)
    pdr = Pdr(z, spec)
    index = {key: vi for vi, key in enumerate(pdr.keys)}
    src1 = pdr._lit(index[("src", 0)], 1)
    orbit = pdr._orbit(frozenset({src1}))
    yes, no = pdr.present_lits[0]
    # src = 1 when present renames to src = 0; when absent it stays src = 1 (a state no path reaches, still excluded).
    assert orbit == {frozenset({src1}), frozenset({pdr._lit(index[("src", 0)], 0), yes}), frozenset({src1, no})}


def _variant_marks(name: str) -> list[pytest.MarkDecorator]:
    if name in ("vote-without-log-check", "accept-stale-term"):
        # IC3 cleared 21 of vote-without-log-check's 25 steps in 3000 s (docs/z3.md): hours, if it ends.
        return [pytest.mark.early, pytest.mark.long(reason="3 servers, 3 terms, over an hour")]
    if name == "stale-vote-counted":  # two message slots: about 8 minutes
        return [pytest.mark.early, pytest.mark.long(reason="about 8 minutes")]
    if name == "vote-not-persisted":
        return [pytest.mark.early]
    return []


@pytest.mark.parametrize("name", [pytest.param(n, marks=_variant_marks(n)) for n in sorted(PINNED_LENGTH)])
def test_ic3_finds_each_variant_at_the_explorers_shortest_length(name: str) -> None:
    cls = VARIANTS[name]
    spec = cls(cls.catch_params)
    (out,) = ic3(spec, [cls.breaks])
    assert out.violated and out.depth == PINNED_LENGTH[name], (out.depth, PINNED_LENGTH[name])
    assert out.trace is not None and len(out.trace) == out.depth + 1
    again = replay(spec, [step.action for step in out.trace[1:] if step.action is not None])
    assert [step.state for step in again] == [step.state for step in out.trace]
    holds = property_by_name(cls.breaks).holds
    assert holds is not None and not holds(spec, again[-1].state)
    assert all(holds(spec, step.state) for step in again[:-1])


def test_a_budget_reports_the_depth_cleared() -> None:
    (out,) = ic3(RaftSpec(PRESETS["tiny"]), ["ElectionSafety"], max_depth=3)
    assert not out.violated and not out.proved and out.depth == 3


def test_prove_engine_ic3_exit_codes() -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["prove", "--engine", "ic3", "--preset", "tiny", "--max-log", "0", "--no-induction", "--json"])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.stdout)
    assert {b["status"] for b in doc["bmc"]} == {"holds-every-depth"} and all(b["engine"] == "ic3" for b in doc["bmc"])
    bad = runner.invoke(main, ["prove", "--engine", "ic3", "--spec", "non-majority-quorum", "--servers", "2", "--max-log", "0", "--no-induction"])
    assert bad.exit_code == 1, bad.output
    assert "violated at depth 10" in bad.output and "(IC3)" in bad.output


def test_the_deadline_is_looked_at_before_every_query() -> None:
    import time

    spec = RaftSpec(PRESETS["tiny"])
    z = BmcModel.for_spec(spec)
    pdr = Pdr(z, spec)
    defs = property_defs(["ElectionSafety"])
    # A deadline already past: the initial-state check is made, and no query after it.
    out = pdr.run("ElectionSafety", lambda sym: defs["ElectionSafety"](z, sym), deadline=time.perf_counter())
    assert not out.violated and not out.proved and out.depth == 0
    assert pdr.stats.queries == 1
