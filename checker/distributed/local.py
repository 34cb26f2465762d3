"""The partitioned search on local worker processes: `check --workers N`.

How this works: one process per shard, each running a `Shard` behind a pipe that
carries small commands and reports.  Batches between shards do not go through the
driver: a shard writes each outgoing batch to a file in a shared folder (tmpfs,
/dev/shm, where there is one) and the owner reads and deletes it, so the driver
only moves rank lists (8 bytes a state) and reports.  A stop asked in the middle of
a level reaches the shards through one byte of shared memory, which they read every
few thousand states (`Shard.stop_asked`).  Workers are forked where the
platform allows it, so a spec class defined anywhere (a user's file) needs no
pickling.  A worker that dies makes the search fail with `WorkerLost`, naming the
worker and its exit code; an exception inside a shard fails it with the shard's
message.  Never a partial count.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import shutil
import tempfile
import traceback
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, cast

from leaderfollower.spec.properties import Property
from leaderfollower.spec.raft import RaftSpec

from leaderfollower.checker.distributed.search import WorkerLost
from leaderfollower.checker.distributed.shard import LevelReport, PathStep, Shard, ShardTotals


POLL_SECONDS = 0.25
"""How often the driver asks whether to stop while the shards expand."""


class ShardFailed(RuntimeError):
    """A shard raised: the message names the shard and the error."""


def _serve(
    conn: Connection, spec: RaftSpec, properties: Sequence[Property], index: int, workers: int, memoise: bool, folder: str, stop: Any
) -> None:
    """A worker's loop: run the commands the driver sends on the shard, until told to stop."""
    gc.disable()  # millions of long-lived acyclic objects: see explore/result.py's collector_paused
    shard = Shard(spec, properties, index, workers, memoise, stop_asked=lambda: stop.value != 0)
    level = 0
    while True:
        command, arg = conn.recv()
        try:
            if command == "stop":
                return
            if command == "start":
                reply: Any = shard.start()
            elif command == "expand":
                batches, report = shard.expand(arg)
                level += 1
                paths = []
                for owner, batch in enumerate(batches):
                    path = os.path.join(folder, f"{level}-{index}-{owner}")
                    with open(path, "wb") as f:
                        f.write(batch)
                    paths.append(path)
                reply = (paths, report)
            elif command == "absorb":
                batches = []
                for path in arg:
                    batches.append(Path(path).read_bytes())
                    os.unlink(path)
                reply = shard.absorb(batches)
            elif command == "cut":
                reply = shard.cut(arg)
            elif command == "path_step":
                reply = shard.path_step(arg)
            elif command == "totals":
                reply = shard.totals()
            else:
                raise ValueError(f"unknown command {command!r}")
        except Exception as exc:  # sent to the driver, which fails the search with it
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
            continue
        conn.send(("ok", reply))


class LocalBackend:
    """`workers` shards in local processes (see the module comment); use as a context manager."""

    def __init__(self, spec: RaftSpec, properties: Sequence[Property], workers: int, *, memoise: bool = True) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.workers = workers
        shm = "/dev/shm"
        self.folder = tempfile.mkdtemp(prefix="leaderfollower-shards-", dir=shm if os.access(shm, os.W_OK) else None)
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork") if "fork" in methods else multiprocessing.get_context("spawn")
        self.stop = ctx.RawValue("b", 0)
        """Set to 1 to ask every shard to stop expanding (never cleared: the search then ends)."""
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for index in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_serve,
                args=(child, spec, tuple(properties), index, workers, memoise, self.folder, self.stop),
                name=f"leaderfollower-shard-{index}",
                daemon=True,
            )
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def __enter__(self) -> "LocalBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ calls

    def _send(self, index: int, command: str, arg: Any = None) -> None:
        try:
            self.conns[index].send((command, arg))
        except (BrokenPipeError, ConnectionResetError, EOFError) as exc:
            raise self._lost(index) from exc

    def _receive(self, index: int) -> Any:
        try:
            status, reply = self.conns[index].recv()
        except (EOFError, ConnectionResetError, OSError) as exc:
            raise self._lost(index) from exc
        if status == "error":
            raise ShardFailed(f"shard {index}: {reply}")
        return reply

    def _lost(self, index: int) -> WorkerLost:
        proc = self.procs[index]
        proc.join(timeout=1)
        return WorkerLost(f"worker {index} (pid {proc.pid}) stopped (exit code {proc.exitcode}); the search has no result")

    def _all(self, command: str, args: Optional[Sequence[Any]] = None, stop_now: Optional[Callable[[], bool]] = None) -> list[Any]:
        for index in range(self.workers):
            self._send(index, command, None if args is None else args[index])
        if stop_now is None:
            return [self._receive(index) for index in range(self.workers)]
        replies: dict[int, Any] = {}
        waiting = {conn: index for index, conn in enumerate(self.conns)}
        while waiting:
            asking = not self.stop.value
            for conn in wait(list(waiting), timeout=POLL_SECONDS if asking else None):
                index = waiting.pop(cast(Connection, conn))
                replies[index] = self._receive(index)
            if asking and waiting and stop_now():
                self.stop.value = 1
        return [replies[index] for index in range(self.workers)]

    # ------------------------------------------------------------ Backend

    def start(self) -> list[tuple[bytes, LevelReport]]:
        """Every shard's `Shard.start`."""
        return self._all("start")

    def level(self, rank_lists: list[bytes], stop_now: Callable[[], bool]) -> tuple[list[LevelReport], list[tuple[bytes, LevelReport]]]:
        """One level: every shard expands (asked to stop once `stop_now` says so), writes its batches, and every owner absorbs its own."""
        expanded = self._all("expand", [rank_lists] * self.workers, stop_now)
        inboxes = [[paths[owner] for paths, _ in expanded] for owner in range(self.workers)]
        absorbed = self._all("absorb", inboxes)
        return [report for _, report in expanded], absorbed

    def cut(self, culprit: int) -> list[LevelReport]:
        """Every shard's `Shard.cut`."""
        return self._all("cut", [culprit] * self.workers)

    def path_step(self, shard: int, sid: int) -> PathStep:
        """`Shard.path_step` of one shard."""
        self._send(shard, "path_step", sid)
        reply: PathStep = self._receive(shard)
        return reply

    def totals(self) -> list[ShardTotals]:
        """Every shard's `Shard.totals`."""
        return self._all("totals")

    def close(self) -> None:
        """Stop the workers and remove the batch folder."""
        for index, conn in enumerate(self.conns):
            try:
                conn.send(("stop", None))
            except OSError:
                pass  # already gone: nothing to stop
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in self.conns:
            conn.close()
        shutil.rmtree(self.folder, ignore_errors=True)
