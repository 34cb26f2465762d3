"""`prove`: ElectionSafety is inductive with the shipped lemmas, a dropped lemma shows up as a
counterexample to induction, each ElectionSafety-breaking variant is caught with a
reachable counterexample, and the command line works (BMC: tests/test_bmc.py).
"""
from __future__ import annotations

import json
from functools import lru_cache

import pytest
from click.testing import CliRunner

from leaderfollower.checker.cli.main import main
from leaderfollower.checker.explore.result import ExploreResult
from leaderfollower.checker.explore.search import explore
from leaderfollower.checker.z3.prove import IMPLIED, explorer_reach, prove_inductive
from leaderfollower.checker.z3.results import Cti, Obligation
from leaderfollower.checker.z3.lemmas import COMMITMENT_LEMMAS, DERIVED, LEMMAS, PROOFS, PROPERTY_ENCODINGS
from leaderfollower.spec.params import PRESETS, Params
from leaderfollower.spec.properties import property_by_name
from leaderfollower.spec.actions import ACTION_NAMES, Action
from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import VARIANTS


@lru_cache(maxsize=None)
def explored(params: Params) -> ExploreResult:
    return explore(RaftSpec(params), keep_graph=False, stop_on_violation=False)


# ------------------------------------------------------------- the lemmas


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_every_lemma_holds_on_every_reachable_state(preset: str) -> None:
    params = PRESETS[preset]
    spec = RaftSpec(params)
    result = explored(params)
    for sid in range(result.distinct_states):
        s = result.state(sid)
        for lemma in LEMMAS:
            assert lemma.holds is not None
            assert lemma.holds(spec, s), f"{lemma.name} fails on reachable state {sid}: {s}"


# The commitment lemmas speak about logs several entries long and terms above 2: a
# 2-server graph with 3 terms and 2 entries reaches them cheaply; the default graph
# (3 servers, 322,580 states) is the slow one.
DEEP = Params(servers=2, max_term=3, max_log=2)


@pytest.mark.parametrize("params", [DEEP, pytest.param(PRESETS["default"], marks=pytest.mark.early)], ids=["deep-2", "default"])
def test_the_commitment_lemmas_hold_on_every_reachable_state(params: Params) -> None:
    spec = RaftSpec(params)
    result = explored(params)
    lemmas = [lm for lm in LEMMAS if lm.name in COMMITMENT_LEMMAS]
    assert len(lemmas) == len(COMMITMENT_LEMMAS)
    for sid in range(result.distinct_states):
        s = result.state(sid)
        for lemma in lemmas:
            assert lemma.holds is not None
            assert lemma.holds(spec, s), f"{lemma.name} fails on reachable state {sid}: {s}"


def test_the_commitment_lemmas_reach_committed_entries() -> None:
    """The deep graph is not vacuous for them: some reachable state has a committed entry of term 3."""
    result = explored(DEEP)
    assert any(
        srv.commit_index >= 1 and srv.log[srv.commit_index - 1].term == 3
        for sid in range(result.distinct_states)
        for srv in result.state(sid).servers
    )


def test_the_proof_names_only_known_lemmas() -> None:
    known = {lm.name for lm in LEMMAS} | set(PROPERTY_ENCODINGS)
    for prop, lemmas in PROOFS.items():
        property_by_name(prop)
        assert set(lemmas) <= known


# ------------------------------------------------------------ induction


def test_election_safety_is_inductive_at_three_servers() -> None:
    result = prove_inductive(RaftSpec(Params(servers=3)), "ElectionSafety", timeout_ms=60_000)
    assert result.proved, [(o.lemma, o.action, o.status) for o in result.obligations if o.status != "proved"]
    assert result.seconds < 30  # target 10 s on an idle machine; room for a loaded CI core
    # One obligation per (action, conjunct) plus Init per conjunct.
    conjuncts = 1 + len(PROOFS["ElectionSafety"])
    assert len(result.obligations) == conjuncts * (1 + len(ACTION_NAMES))


@pytest.mark.early
def test_election_safety_is_inductive_at_five_servers() -> None:
    result = prove_inductive(RaftSpec(Params(servers=5)), "ElectionSafety", timeout_ms=120_000)
    assert result.proved


def test_log_matching_is_inductive_at_two_servers() -> None:
    result = prove_inductive(RaftSpec(PRESETS["tiny"]), "LogMatching", timeout_ms=60_000)
    assert result.proved, [(o.lemma, o.action, o.status) for o in result.obligations if o.status != "proved"]


@pytest.mark.early
def test_log_matching_is_inductive_at_three_servers() -> None:
    result = prove_inductive(RaftSpec(Params(servers=3)), "LogMatching", timeout_ms=60_000)
    assert result.proved, [(o.lemma, o.action, o.status) for o in result.obligations if o.status != "proved"]


@pytest.mark.long
def test_log_matching_is_inductive_at_five_servers() -> None:
    """About 8 minutes; two obligations need the query sliced to the servers they involve."""
    result = prove_inductive(RaftSpec(Params(servers=5)), "LogMatching", timeout_ms=60_000)
    assert result.proved, [(o.lemma, o.action, o.status) for o in result.obligations if o.status != "proved"]


@pytest.mark.long
def test_leader_completeness_state_machine_safety_and_commit_within_log_are_inductive_at_three_servers() -> None:
    spec = RaftSpec(Params(servers=3))
    for prop in ("LeaderCompleteness", "StateMachineSafety", "CommitWithinLog"):
        result = prove_inductive(spec, prop, timeout_ms=60_000)
        assert result.proved, [(o.lemma, o.action, o.status) for o in result.obligations if o.status != "proved"]
        assert len(result.obligations) == 1 + len(PROOFS[prop]) * (1 + len(ACTION_NAMES))


@pytest.mark.parametrize(
    "dropped, action, preset",
    [
        ("VotesGrantedDisjoint", "BecomeLeader", "small"),  # with two servers each quorum holds both candidates
        ("GrantedResponsesMeanVotedFor", "HandleRequestVoteResponse", "tiny"),
    ],
)
def test_dropping_a_needed_lemma_gives_an_unreachable_counterexample_to_induction(dropped: str, action: str, preset: str) -> None:
    spec = RaftSpec(PRESETS[preset])
    lemmas = [x for x in PROOFS["ElectionSafety"] if x != dropped]
    result = prove_inductive(spec, "ElectionSafety", lemmas, actions=[action], reach=explorer_reach(spec), timeout_ms=30_000)
    assert not result.proved
    failed = result.failed[0]
    assert failed.action == action and failed.cti is not None
    cti = failed.cti
    assert cti.reachable is False  # a missing lemma, not a bug
    # The counterexample is a real step of the Python spec.
    assert spec.apply(cti.before, cti.action) == cti.after


def test_dropping_a_commitment_lemma_gives_an_unreachable_counterexample_to_induction() -> None:
    """Without NoAppendEntriesForCandidates, a candidate with a successful AppendEntries response of its own
    term (which no run produces) becomes leader with a matchIndex past its log."""
    spec = RaftSpec(PRESETS["small"])
    lemmas = [x for x in PROOFS["LeaderCompleteness"] if x != "NoAppendEntriesForCandidates"]
    oracle = explorer_reach(spec)
    result = prove_inductive(
        spec,
        "LeaderCompleteness",
        lemmas,
        actions=["BecomeLeader"],
        only=["LeaderMessagesMatchLog"],
        reach=lambda s: oracle(s),  # a plain oracle: no search of the graph for another counterexample
        timeout_ms=30_000,
    )
    failed = result.failed
    assert failed and failed[0].lemma == "LeaderMessagesMatchLog" and failed[0].cti is not None
    cti = failed[0].cti
    assert cti.reachable is False
    assert spec.apply(cti.before, cti.action) == cti.after


def test_leader_completeness_follows_from_its_lemmas() -> None:
    """A derived property: one query, the lemmas imply it in every state (the lemmas' own obligations aside)."""
    result = prove_inductive(RaftSpec(Params(servers=3)), "LeaderCompleteness", actions=[], timeout_ms=60_000)
    implied = [o for o in result.obligations if o.action == IMPLIED]
    assert [o.status for o in implied] == ["proved"]
    assert "LeaderCompleteness" not in {o.lemma for o in result.obligations if o.action != IMPLIED}


@pytest.mark.parametrize("prop", ["StateMachineSafety", "CommitWithinLog"])
def test_the_other_log_properties_follow_from_the_same_lemmas(prop: str) -> None:
    assert PROOFS[prop] == PROOFS["LeaderCompleteness"] and prop in DERIVED
    result = prove_inductive(RaftSpec(Params(servers=3)), prop, actions=[], timeout_ms=60_000)
    assert [o.status for o in result.obligations if o.action == IMPLIED] == ["proved"]


def test_a_commit_index_keeps_or_moves_its_witness() -> None:
    """The existential lemmas: a step that changes commitIndex gets its witness from the hints (the leader's
    new commit index, or the request's witness), other steps keep the pre-state's."""
    spec = RaftSpec(Params(servers=3))
    result = prove_inductive(
        spec, "LeaderCompleteness", actions=["AdvanceCommitIndex", "Restart"], only=["CommitIsSafe", "AppendEntriesCommitIsSafe"]
    )
    assert result.proved, [(o.lemma, o.action, o.status) for o in result.obligations if o.status != "proved"]


def test_support_names_a_minimal_lemma_set() -> None:
    spec = RaftSpec(Params(servers=3))
    result = prove_inductive(spec, "ElectionSafety", actions=["BecomeLeader"], support=True)
    assert result.proved
    es = next(o for o in result.obligations if o.lemma == "ElectionSafety" and o.action == "BecomeLeader")
    assert es.support is not None and "VotesGrantedDisjoint" in es.support and "LeaderHasQuorum" in es.support
    # Minimal: without any one of them the obligation fails.
    for name in es.support:
        if name == "ElectionSafety":
            continue
        rest = [x for x in es.support if x not in (name, "ElectionSafety")]
        again = prove_inductive(spec, "ElectionSafety", rest, actions=["BecomeLeader"])
        assert not next(o for o in again.obligations if o.lemma == "ElectionSafety" and o.action == "BecomeLeader").status == "proved"


# -------------------------------------------------------------- variants

ELECTION_VARIANTS = {
    # variant: the action whose obligation fails from a reachable state
    "non-majority-quorum": "BecomeLeader",
    "vote-not-persisted": "Restart",
    "stale-vote-counted": "DropStaleResponse",
}


@pytest.mark.parametrize("name", sorted(ELECTION_VARIANTS))
def test_each_election_safety_variant_is_caught_by_a_reachable_counterexample(name: str) -> None:
    cls = VARIANTS[name]
    assert cls.breaks == "ElectionSafety"
    spec = cls(cls.catch_params)
    action = ELECTION_VARIANTS[name]
    # A short timeout: an obligation left unknown does not matter once another fails reachably.
    result = prove_inductive(spec, "ElectionSafety", actions=[action], reach=explorer_reach(spec), timeout_ms=8_000)
    assert result.failed, f"{name}: induction unexpectedly holds"
    ctis = [o.cti for o in result.failed if o.cti is not None]
    assert any(c.reachable for c in ctis), f"{name}: no reachable counterexample"
    for c in ctis:
        if c.reachable:
            assert spec.apply(c.before, c.action) == c.after


def test_commit_previous_term_is_caught_by_a_reachable_counterexample_on_its_scripted_run() -> None:
    # Figure 8 needs five terms, which the explorer cannot finish; the variant's scripted
    # run is a path from Init, so a pre-state on it is reachable.  Z3 gives up on the
    # symbolic query (10 s here), and the concrete state from the run is confirmed by Z3.
    cls = VARIANTS["commit-previous-term"]
    spec = cls(cls.catch_params)
    oracle = explorer_reach(spec)
    result = prove_inductive(spec, "LeaderCompleteness", actions=["AdvanceCommitIndex"], only=["CommitIsSafe"], reach=oracle, timeout_ms=10_000)
    (failed,) = result.failed
    assert failed.lemma == "CommitIsSafe" and failed.cti is not None and failed.cti.reachable
    assert "scripted run" in (failed.cti.note or "")
    # Failed, and the reason says why (Z3 alone either gave up or found an unreached state).
    assert failed.reason.startswith("a counterexample from a reachable state"), failed.reason
    assert failed.cti.before in oracle.scripted().states  # type: ignore[attr-defined]
    assert spec.apply(failed.cti.before, failed.cti.action) == failed.cti.after
    # The old-term entry it commits is not the newest term's: figure 8 exactly.
    leader = failed.cti.after.servers[failed.cti.action.args[0]]  # type: ignore[index]
    assert leader.log[leader.commit_index - 1].term < leader.current_term


def test_an_obligation_refuted_after_z3_gave_up_does_not_keep_z3s_reason_as_its_own() -> None:
    # Seen on a parametric run: "failed (resource limit of 20,000,000 units reached)".
    spec = RaftSpec(PRESETS["tiny"])
    s = spec.init()
    found = Cti(s, Action("Timeout", (0,)), s)
    gave_up = Obligation("CommitIsSafe", "AdvanceCommitIndex", status="unknown", reason="timeout")
    gave_up.refute(found)
    assert (gave_up.status, gave_up.cti) == ("failed", found)
    assert gave_up.reason == "a counterexample from a reachable state; Z3 alone answered unknown (timeout)"
    unreached = Obligation("CommitIsSafe", "AdvanceCommitIndex", status="failed", cti=Cti(s, Action("Restart", (1,)), s))
    unreached.refute(found)
    assert (unreached.status, unreached.cti, unreached.reason) == ("failed", found, "a counterexample from a reachable state")


def test_the_correct_spec_has_no_failing_obligation_for_those_actions() -> None:
    spec = RaftSpec(Params(servers=3))
    result = prove_inductive(spec, "ElectionSafety", actions=sorted(set(ELECTION_VARIANTS.values())))
    assert result.proved


# ------------------------------------------------------------------- CLI


def test_cli_json_and_exit_codes() -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["prove", "--preset", "tiny", "--depth", "2", "--property", "ElectionSafety", "--json", "--no-reach"])
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.stdout)
    assert doc["ok"] and doc["induction"][0]["status"] == "proved-inductive"
    assert doc["bmc"][0]["status"] == "holds-to-depth"
    bad = runner.invoke(
        main,
        ["prove", "--spec", "non-majority-quorum", "--preset", "tiny", "--max-log", "0", "--depth", "0", "--property", "ElectionSafety", "--json"],
    )
    assert bad.exit_code == 1, bad.output
    doc = json.loads(bad.stdout)
    cti = doc["induction"][0]["obligations"]
    assert any(o["status"] == "failed" and o.get("cti", {}).get("reachable") for o in cti)
    # With --json the progress goes to stderr, one line per obligation that is not proved at least.
    assert "prove:" in bad.stderr and "failed" in bad.stderr


def test_cli_proves_election_safety_for_any_number_of_servers() -> None:
    res = CliRunner().invoke(main, ["prove", "--servers", "any", "--property", "ElectionSafety", "--depth", "0", "--workers", "0", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["servers"] == "any"
    [ind] = doc["induction"]
    assert ind["servers"] == "any" and ind["status"] == "proved-inductive"
    text = CliRunner().invoke(main, ["prove", "--servers", "any", "--property", "ElectionSafety", "--depth", "0", "--workers", "0"])
    assert text.exit_code == 0 and "prove (any number of servers)" in text.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--property", "Nope"], "no Z3 encoding"),
        (["--lemmas", "Nope"], "unknown lemma"),
        (["--depth", "-1"], "--depth"),
        (["--spec", "nope"], "unknown spec"),
        (["--max-entries-per-append", "2"], "No such option"),
        (["--servers", "many"], "expected a number or 'any'"),
        (["--servers", "any", "--property", "NoUncommittedRead"], "no proof for every number of servers"),
        (["--workers", "-1"], "--workers"),
        (["--rlimit", "1000"], "use it with --servers any"),
        (["--servers", "any", "--rlimit", "0"], "--rlimit: expected a positive"),
        (["--timeout", "0"], "--timeout: expected a positive"),
    ],
)
def test_cli_usage_errors_are_one_line(args: list[str], message: str) -> None:
    res = CliRunner().invoke(main, ["prove", "--preset", "tiny", *args])
    assert res.exit_code == 2
    assert message in res.output


# ------------------------------------------------- slicing the hypotheses


def test_the_server_index_names_the_servers_a_term_reads() -> None:
    import z3

    from leaderfollower.checker.z3.model import Z3Model
    from leaderfollower.checker.z3.obligations import ServerIndex

    model = Z3Model(Params(servers=5))
    pre = model.fresh("pre")
    servers_of = ServerIndex(pre)
    assert servers_of(pre.term(2) > 0) == {2}
    assert servers_of(z3.And(pre.vg(1, 3), pre.len(4) >= 0)) == {1, 3, 4}
    assert servers_of(PROPERTY_ENCODINGS["ElectionSafety"](model, pre)) == {0, 1, 2, 3, 4}
    x = z3.Int("x")
    assert servers_of(z3.ForAll([x], pre.log_term(0)[x] >= pre.log_term(3)[x])) == {0, 3}
    assert servers_of(z3.BoolVal(True)) == frozenset()


def test_a_sliced_query_keeps_the_facts_about_its_servers_and_drops_the_others() -> None:
    """Slicing proves from the facts about the step's and the goal's servers only; a fact that also
    names a bystander is dropped, so what needs it is not proved by the sliced query."""
    import z3

    from leaderfollower.checker.z3.model import Z3Model
    from leaderfollower.checker.z3.obligations import ServerIndex, canonical_instances
    from leaderfollower.checker.z3.solving import sliced_check

    model = Z3Model(Params(servers=5))
    pre = model.fresh("pre")
    [inst] = canonical_instances(model, "Timeout")  # server 0 times out: its term goes up by one
    eff, post = model.post_state(pre, inst)
    goal = post.term(0) >= 2
    own = pre.term(0) >= 1
    via_bystander = z3.And(pre.term(0) >= pre.term(3), pre.term(3) >= 1)
    res, _ = sliced_check(ServerIndex(pre), [z3.And(own, pre.term(4) >= 7)], eff, goal, inst, 10_000)
    assert res == z3.unsat
    res, _ = sliced_check(ServerIndex(pre), [via_bystander, pre.term(4) >= 7], eff, goal, inst, 10_000)
    assert res != z3.unsat
    # Nothing to drop: no query, the caller's fresh check follows.
    res, _ = sliced_check(ServerIndex(pre), [own], eff, goal, inst, 10_000)
    assert res == z3.unknown


def test_support_of_an_existential_lemma_is_minimised_by_deletion() -> None:
    """CommitIsSafe's proofs go through witnesses, which unsat cores cannot see: each proved
    obligation still reports its support, and the support is needed (without the lemma named
    besides CommitIsSafe itself, AdvanceCommitIndex's obligation is not proved)."""
    from leaderfollower.checker.z3.obligations import invariant_names

    spec = RaftSpec(Params(servers=2))
    actions = ["Restart", "AdvanceCommitIndex"]
    r = prove_inductive(spec, "LeaderCompleteness", only=["CommitIsSafe"], actions=actions, support=True, timeout_ms=30_000)
    steps = {o.action: o for o in r.obligations if o.lemma == "CommitIsSafe" and o.action in actions}
    assert set(steps) == set(actions)
    for o in steps.values():
        assert o.status == "proved" and o.support is not None and "CommitIsSafe" in o.support, o
    needed = [n for n in steps["AdvanceCommitIndex"].support or () if n != "CommitIsSafe"]
    assert needed, steps["AdvanceCommitIndex"]
    fewer = [n for n in invariant_names("LeaderCompleteness", None)[1:] if n != needed[0]]
    r = prove_inductive(spec, "LeaderCompleteness", fewer, only=["CommitIsSafe"], actions=["AdvanceCommitIndex"], timeout_ms=30_000)
    [o] = [o for o in r.obligations if o.lemma == "CommitIsSafe" and o.action == "AdvanceCommitIndex"]
    assert o.status != "proved"
