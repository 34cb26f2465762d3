"""The partitioned search on a Ray cluster: `check --ray [ADDRESS]`.

How this works: each shard is a Ray actor (a `Shard` with two methods that suit
Ray's calling convention), spread over the cluster's nodes.  A level is two waves
of actor calls: every actor's `expand_split` returns one object per owner (its
batch for that shard) plus its report, as separate objects in Ray's object store;
every owner's `absorb_from` takes the batches addressed to it as arguments, so Ray
moves each batch straight from the node that made it to the node that needs it.
The driver only fetches the reports and the rank lists (8 bytes a state).  An
actor runs two calls at once (`max_concurrency=2`), so that `request_stop` reaches a
shard while it expands (the driver makes no other overlapping calls).

With no address (or "local") a Ray instance is started in this process and shut
down at the end; an address ("auto", "host:port", "ray://host:port") joins a
running cluster, and a process already connected to Ray keeps its connection.  A
shard's actor that dies (its process killed, its node lost) makes the search fail
with `WorkerLost`, naming the shard; Ray does not restart it (a restarted shard
would have lost its states), so a count is never partial.  Ray is an optional
extra: `pip install -e '.[distributed]'`.  The spec travels to the actors by
pickling: a class importable by its module's name on every node (the built-in
spec, the shipped variants, `--spec module:Class` of an installed module) by
reference, and a class from a file no other process can import by name
(`--spec FILE.py:Class`) by value, its module's code included
(`_ship_by_value`).
"""
from __future__ import annotations

import gc
import importlib.machinery
import os
import sys
from typing import Any, Callable, Sequence

from leaderfollower.spec.properties import Property
from leaderfollower.spec.raft import RaftSpec

from leaderfollower.checker.distributed.local import POLL_SECONDS, ShardFailed
from leaderfollower.checker.distributed.search import WorkerLost
from leaderfollower.checker.distributed.shard import LevelReport, PathStep, Shard, ShardTotals


class RayUnavailable(RuntimeError):
    """`--ray` was asked for but Ray is not installed, or the cluster cannot be reached."""


class RayShard(Shard):
    """A `Shard` as a Ray actor: a level's batches as separate return values, batches as arguments."""

    def __init__(self, spec: RaftSpec, properties: Sequence[Property], index: int, workers: int, memoise: bool = True) -> None:
        gc.disable()  # millions of long-lived acyclic objects: see explore/result.py's collector_paused
        self.stopping = False
        super().__init__(spec, properties, index, workers, memoise, stop_asked=lambda: self.stopping)

    def request_stop(self) -> None:
        """Ask the shard to expand no further state (it looks every `STOP_CHECK_EVERY` states)."""
        self.stopping = True

    def expand_split(self, *rank_lists: bytes) -> tuple[object, ...]:
        """`Shard.expand`, its batches and report as one tuple (one Ray object each)."""
        batches, report = self.expand(rank_lists)
        return (*batches, report)

    def absorb_from(self, *batches: bytes) -> tuple[bytes, LevelReport]:
        """`Shard.absorb` of the batches given as arguments (Ray fetches them from where they were made)."""
        return self.absorb(batches)

    def pid(self) -> int:
        """The actor's process id (to say where a shard runs)."""
        return os.getpid()


def _ship_by_value(ray: Any, cls: type) -> None:
    """Have Ray pickle `cls`'s module by value when other processes cannot import it by name.

    A spec loaded from a file (checker/jobs/specs.py) lives in a module made up for
    it; an actor unpickling a reference to that module would fail to import it and
    die before it starts.
    """
    name = cls.__module__
    module = sys.modules.get(name)
    if module is None or name == "__main__":
        return
    # PathFinder looks on sys.path only (importlib.util.find_spec would answer from
    # sys.modules, where the made-up module is); a package's top level stands for it.
    top = name.partition(".")[0]
    if top in sys.builtin_module_names:
        return
    if importlib.machinery.PathFinder.find_spec(top) is None:
        ray.cloudpickle.register_pickle_by_value(module)


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable("--ray needs Ray: pip install -e '.[distributed]'") from exc
    return ray


class RayBackend:
    """`workers` shards as Ray actors (see the module comment); use as a context manager."""

    def __init__(self, spec: RaftSpec, properties: Sequence[Property], workers: int, *, address: str = "", memoise: bool = True) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        ray = self.ray = _ray()
        self.workers = workers
        self.started_here = False
        if not ray.is_initialized():
            try:
                if address in ("", "local"):
                    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
                else:
                    ray.init(address=address, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise RayUnavailable(f"--ray {address or 'local'}: cannot start or reach Ray: {first}") from exc
            self.started_here = True
        _ship_by_value(ray, type(spec))
        # No CPU reservation: a shard is one busy process wherever it runs; SPREAD puts
        # the shards on as many nodes as there are, and no restart (see the module comment).
        actor = ray.remote(num_cpus=0, max_restarts=0, scheduling_strategy="SPREAD", max_concurrency=2)(RayShard)
        self.actors = [actor.remote(spec, tuple(properties), index, workers, memoise) for index in range(workers)]
        self.stop_sent = False
        """Whether the shards were asked to stop expanding (never undone: the search then ends)."""

    def __enter__(self) -> "RayBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, refs: list[Any], shards: Sequence[int]) -> list[Any]:
        errors = self.ray.exceptions
        values = []
        for shard, ref in zip(shards, refs):
            try:
                values.append(self.ray.get(ref))
            except errors.RayActorError as exc:
                raise WorkerLost(f"Ray actor of shard {shard} died ({type(exc).__name__}); the search has no result") from exc
            except errors.RayTaskError as exc:
                raise ShardFailed(f"shard {shard}: {exc}") from exc
        return values

    def pids(self) -> list[int]:
        """Each shard's actor process id."""
        return self._get([a.pid.remote() for a in self.actors], range(self.workers))

    # ------------------------------------------------------------ Backend

    def start(self) -> list[tuple[bytes, LevelReport]]:
        """Every shard's `Shard.start`."""
        return self._get([a.start.remote() for a in self.actors], range(self.workers))

    def level(self, rank_lists: list[bytes], stop_now: Callable[[], bool]) -> tuple[list[LevelReport], list[tuple[bytes, LevelReport]]]:
        """One level: every actor expands (asked to stop once `stop_now` says so), every owner absorbs the batches addressed to it."""
        w = self.workers
        ranks = [self.ray.put(r) for r in rank_lists]
        outs = [a.expand_split.options(num_returns=w + 1).remote(*ranks) for a in self.actors]
        absorbed = [self.actors[o].absorb_from.remote(*[outs[s][o] for s in range(w)]) for o in range(w)]
        waiting = [outs[s][w] for s in range(w)]
        while not self.stop_sent:
            _, waiting = self.ray.wait(waiting, num_returns=len(waiting), timeout=POLL_SECONDS)
            if not waiting:
                break
            if stop_now():
                for a in self.actors:
                    a.request_stop.remote()
                self.stop_sent = True
        reports = self._get([outs[s][w] for s in range(w)], range(w))
        return reports, self._get(absorbed, range(w))

    def cut(self, culprit: int) -> list[LevelReport]:
        """Every shard's `Shard.cut`."""
        return self._get([a.cut.remote(culprit) for a in self.actors], range(self.workers))

    def path_step(self, shard: int, sid: int) -> PathStep:
        """`Shard.path_step` of one shard."""
        step: PathStep = self._get([self.actors[shard].path_step.remote(sid)], [shard])[0]
        return step

    def totals(self) -> list[ShardTotals]:
        """Every shard's `Shard.totals`."""
        return self._get([a.totals.remote() for a in self.actors], range(self.workers))

    def close(self) -> None:
        """Stop the actors, and Ray itself if it was started here."""
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []
        if self.started_here:
            self.ray.shutdown()
