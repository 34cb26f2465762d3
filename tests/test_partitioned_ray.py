"""The partitioned search on a real Ray cluster of two nodes on this machine gives the explorer's results.

The cluster (`ray.cluster_utils.Cluster`: a head node and a worker node, each its
own raylet and object store, started once for this module) runs one shard per
node; the results are compared with the one-worker explorer as in
tests/test_partitioned.py.  Killing a shard's actor process fails the search with
`WorkerLost`, never with a count.  Skipped, saying why, where Ray is not installed
(`pip install -e '.[distributed]'`).
"""
from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Iterator

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[distributed]'")
from ray.cluster_utils import Cluster  # noqa: E402

from leaderfollower.checker.distributed import ray_backend  # noqa: E402
from leaderfollower.checker.distributed.ray_backend import RayBackend  # noqa: E402
from leaderfollower.checker.distributed.run import explore_partitioned  # noqa: E402
from leaderfollower.checker.distributed.search import PartitionedSearch, WorkerLost  # noqa: E402
from leaderfollower.checker.explore.result import Progress  # noqa: E402
from leaderfollower.checker.explore.search import explore  # noqa: E402
from leaderfollower.checker.jobs.specs import load_spec_class  # noqa: E402
from leaderfollower.spec.params import PRESETS, Params  # noqa: E402
from leaderfollower.spec.properties import PROPERTIES  # noqa: E402
from leaderfollower.spec.raft import RaftSpec  # noqa: E402
from leaderfollower.spec.variants import VARIANTS  # noqa: E402
from test_partitioned import SYMMETRIC, assert_same, same_members, stop_in_level, stopped_after  # noqa: E402

NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster(initialize_head=True, head_node_args=dict(NODE, include_dashboard=False))
    c.add_node(**NODE)
    c.wait_for_nodes(timeout=120)
    ray.init(address=c.address, log_to_driver=False, configure_logging=False)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def test_the_cluster_has_two_nodes_and_the_shards_run_in_separate_processes(cluster: Cluster) -> None:
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    spec = RaftSpec(PRESETS["tiny"])
    with RayBackend(spec, PROPERTIES, 2, address=cluster.address) as backend:
        pids = backend.pids()
    assert len(set(pids)) == 2 and os.getpid() not in pids


@pytest.mark.parametrize("params", [PRESETS["tiny"], SYMMETRIC], ids=["tiny", "symmetric"])
def test_ray_gives_the_same_counts_coverage_and_witnesses(cluster: Cluster, params: Params) -> None:
    spec = RaftSpec(params)
    one = explore(spec, keep_graph=False)
    many = explore_partitioned(spec, workers=2, ray=cluster.address)
    assert many.complete and many.ok
    assert_same(one, many)


def test_ray_shards_asked_to_stop_while_they_expand_cut_the_level_where_every_shard_got_to(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    # The actors look every 1,000 states (`STOP_CHECK_EVERY`); level 16 has 29,880 states.
    monkeypatch.setattr(ray_backend, "POLL_SECONDS", 0.005)
    spec = RaftSpec(Params(servers=3, values=1, max_term=2, max_log=0))
    many = explore_partitioned(spec, workers=2, ray=cluster.address, stop_when=stop_in_level(16))
    assert many.stopped_by == "interrupted" and len(many.states_per_depth) == 18 and many.frontier > many.states_per_depth[-1]
    assert_same(stopped_after(spec, many.distinct_states - many.frontier), many)


@pytest.mark.parametrize("name", ["non-majority-quorum", "vote-not-persisted"])
def test_ray_stops_at_the_same_shortest_counterexample_with_the_same_counts(cluster: Cluster, name: str) -> None:
    cls = VARIANTS[name]
    spec = cls(cls.catch_params)
    one = explore(spec, keep_graph=False)
    many = explore_partitioned(spec, workers=2, ray=cluster.address)
    assert many.violations and many.violations[0].property == cls.breaks and many.stopped_by == "violation"
    assert_same(one, many)
    assert_same(same_members(spec) if spec.params.symmetry else one, many)


USER_SPEC = """
from leaderfollower.spec.raft import RaftSpec


class HalfQuorum(RaftSpec):
    \"\"\"A user's broken spec in a file of its own: half of the servers is a quorum.\"\"\"

    local_actions = True

    def is_quorum(self, members):
        return 2 * len(members) >= self.params.servers
"""


def test_a_spec_from_a_file_runs_on_the_actors(cluster: Cluster, tmp_path: Path) -> None:
    # The file's made-up module is importable by no other process: its class must
    # travel by value, or every actor dies unpickling it.
    (tmp_path / "userspec.py").write_text(USER_SPEC)
    cls = load_spec_class(f"{tmp_path / 'userspec.py'}:HalfQuorum")
    spec = cls(VARIANTS["non-majority-quorum"].catch_params)
    one = explore(spec, keep_graph=False)
    many = explore_partitioned(spec, workers=2, ray=cluster.address)
    assert many.violations and many.violations[0].property == "ElectionSafety"
    assert_same(one, many)


def test_a_killed_ray_worker_fails_the_search_with_a_clear_error(cluster: Cluster) -> None:
    spec = RaftSpec(PRESETS["tiny"])
    with RayBackend(spec, PROPERTIES, 2, address=cluster.address) as backend:
        pid = backend.pids()[1]
        search = PartitionedSearch(spec, backend)

        def kill_at_depth_3(p: Progress) -> None:
            if p.depth == 3:
                os.kill(pid, signal.SIGKILL)

        with pytest.raises(WorkerLost, match=r"Ray actor of shard 1 died"):
            search.run(progress=kill_at_depth_3)
