"""`explore_partitioned`: the partitioned search on local processes or on Ray, as one call.

How this works: it picks the backend (`LocalBackend` for `workers`, `RayBackend`
when `ray` is given), runs a `PartitionedSearch` on it and always stops the
workers, whatever happened.
"""
from __future__ import annotations

from typing import Optional, Sequence

from leaderfollower.spec.properties import PROPERTIES, Property
from leaderfollower.spec.raft import RaftSpec

from leaderfollower.checker.distributed.search import Backend, PartitionedSearch
from leaderfollower.checker.explore.result import ExploreResult, ProgressFn
from leaderfollower.checker.explore.search import StopCondition


def explore_partitioned(
    spec: RaftSpec,
    properties: Optional[Sequence[Property]] = None,
    *,
    workers: int = 2,
    ray: Optional[str] = None,
    stop_on_violation: bool = True,
    progress: Optional[ProgressFn] = None,
    max_states: Optional[int] = None,
    max_depth: Optional[int] = None,
    stop_when: Optional[StopCondition] = None,
    memoise: bool = True,
) -> ExploreResult:
    """The explorer's search split over `workers` shards, with the one-worker search's results.

    `ray` is None for local processes, or a Ray address ("" or "local" for a Ray
    instance started here, "auto" for the running cluster, "ray://host:port" or
    "host:port").  The result keeps no graph (see checker/distributed/search.py).
    """
    props = tuple(properties if properties is not None else getattr(spec, "properties", PROPERTIES))
    backend: Backend
    if ray is None:
        from leaderfollower.checker.distributed.local import LocalBackend

        backend = LocalBackend(spec, props, workers, memoise=memoise)
    else:
        from leaderfollower.checker.distributed.ray_backend import RayBackend

        backend = RayBackend(spec, props, workers, address=ray, memoise=memoise)
    try:
        search = PartitionedSearch(spec, backend, props, stop_on_violation=stop_on_violation)
        return search.run(progress=progress, max_states=max_states, max_depth=max_depth, stop_when=stop_when)
    finally:
        backend.close()
