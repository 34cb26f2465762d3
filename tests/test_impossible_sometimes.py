"""A sometimes property the bounds rule out says why, and `--skip-property` silences it.

With `--max-log 0` no value can commit: the run still fails (never witnessed), but
names the reason ("no log entry can exist within the bounds") instead of a bare
"never witnessed".  Each reason a property gives must be sound: on the bounds it
names, the explorer never witnesses the property; and on the bounds where it gives
none, the explorer does witness it (so a reason is not silently missing).
"""
from __future__ import annotations

import json

import pytest

from support.cli import check

from leaderfollower.checker.explore.search import explore
from leaderfollower.spec.params import Params
from leaderfollower.spec.properties import PROPERTIES
from leaderfollower.spec.raft import RaftSpec

SMALL = dict(servers=2, values=1, max_term=2, max_log=1, max_copies=1, max_in_flight=1)
SOMETIMES = [p for p in PROPERTIES if p.kind == "sometimes"]

pytestmark = pytest.mark.usefixtures("in_tmp")


@pytest.mark.parametrize("change", [{}, {"max_log": 0}, {"max_term": 1}, {"max_in_flight": 0}, {"servers": 1}])
def test_a_reason_is_given_exactly_where_the_explorer_never_witnesses(change: dict[str, int]) -> None:
    params = Params(**{**SMALL, **change})
    result = explore(RaftSpec(params), keep_graph=False, stop_on_violation=False)
    assert result.complete
    for prop in SOMETIMES:
        assert prop.impossible_when is not None
        why = prop.impossible_when(params)
        assert (why is None) == (prop.name in result.witnesses), (prop.name, change, why)


def test_max_log_0_says_no_entry_can_exist_and_still_fails() -> None:
    result = check("--preset", "tiny", "--max-log", "0", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    rows = {row["name"]: row for row in doc["properties"]}
    assert rows["ValueCommitted"]["status"] == "never-witnessed"
    assert rows["ValueCommitted"]["why"] == "no log entry can exist within the bounds (max_log=0)"
    assert "why" not in rows["LeaderElected"]
    assert doc["verdict"] == "never-witnessed" and "--skip-property" in doc["verdict_line"]
    text = " ".join(check("--preset", "tiny", "--max-log", "0").stdout.split())
    assert "ValueCommitted never-witnessed: the bounds rule it out: no log entry can exist within the bounds (max_log=0)" in text


def test_skip_property_silences_what_the_bounds_rule_out() -> None:
    result = check("--preset", "tiny", "--max-log", "0", "--skip-property", "ValueCommitted", "--skip-property", "StaleFollowerRead", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "holds" and {row["name"] for row in doc["properties"]}.isdisjoint({"ValueCommitted", "StaleFollowerRead"})


def test_a_liveness_reason_is_not_called_a_bound() -> None:
    # Only a sometimes property's reason is a bound; a liveness property skipped on an incomplete search says why alone.
    text = " ".join(check("--preset", "tiny", "--max-states", "50").stdout.split())
    assert "EntryCommitsOrLeaderStepsDown skipped: the search is incomplete" in text
    assert "the bounds rule it out" not in text
    # Once: it was printed under the property table and again after the coverage table.
    assert text.count("EntryCommitsOrLeaderStepsDown skipped:") == 1
