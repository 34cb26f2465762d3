"""Conformance: drive the real implementation through spec steps and compare after each.

How this works: a `ReplayCluster` holds one real protocol core per server, each
with its real `Storage` in its own folder (through `CrashableDirectory`, so a
restart is a crash that loses unsynced writes), and plays the environment: the
network is a bag of messages the harness holds, time is "fire this node's timer",
and a crash is "drop the node object and recover a new one from its files".  The
harness translates each spec action into the one core call of the same name
(`Timeout(i)` -> `cores[i].timeout()`, `HandleAppendEntriesRequest(m)` ->
`cores[m.mdest].receive(m)`, which must report that it ran that same handler), then
carries out what the core asked for in the core's order: persist (fsync) first,
then put the messages in the bag, then apply committed entries.  It makes no
protocol decision of its own: whether an action is enabled, what the successor is,
which handler runs, and whether a message is consumed are all the core's answers.

After every step `compare` checks, for every server, the core's projection (term,
role, vote, log, commit index, votes, next/match index), the state machine it has
applied (it must equal the spec's `read(server)`: nothing applied before it is
committed), and the bag of messages in flight, against the spec state.  A
mismatch raises `Divergence` with the step, the action and a field-by-field diff.
"""
from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, cast

from leaderfollower.impl import messages as impl_messages
from leaderfollower.impl.core import CoreConfig, RaftCore, VolatileState
from leaderfollower.impl.messages import HardState
from leaderfollower.impl.storage import Storage
from leaderfollower.spec.properties import read
from leaderfollower.spec.actions import Action, ActionName, Actor, Arg, action_def, format_message
from leaderfollower.spec.state import Message, ServerState, State

from leaderfollower.checker.conform.crashfiles import CrashableDirectory
from leaderfollower.checker.conform.mutants import REAL, Implementation


class Divergence(Exception):
    """The implementation's state differs from the spec's after a step (or refused a step)."""

    def __init__(self, step: int, action: Optional[Action], problems: list[str]) -> None:
        self.step = step
        self.action = action
        self.problems = problems
        where = f"step {step} ({action})" if action is not None else f"step {step} (initial state)"
        super().__init__(f"{where}: " + "; ".join(problems))


@dataclass(frozen=True)
class ClusterSnapshot:
    """A saved cluster state (see `ReplayCluster.snapshot`)."""

    nodes: tuple[Any, ...]
    bag: Counter[Any]


@dataclass
class _Node:
    files: CrashableDirectory
    storage: Storage
    core: RaftCore
    applied: list[Any]


class ReplayCluster:
    """Real cores with real storage, and a network the harness controls.

    `impl` names the core and storage classes nodes are built from: the real ones,
    or a mutant of checker/conform/mutants.py (to show that replay catches it).
    """

    def __init__(
        self,
        servers: int,
        workdir: Path,
        *,
        max_entries_per_append: int = 1,
        impl: Implementation = REAL,
    ) -> None:
        self.n = servers
        self.workdir = workdir
        self.impl = impl
        self.config = CoreConfig(servers=servers, max_entries_per_append=max_entries_per_append)
        self.bag: Counter[Any] = Counter()
        self.nodes: list[_Node] = []
        # Per node, the snapshot part that equals its current state (None: changed since).
        self._parts: list[Optional[tuple[Any, ...]]] = [None] * servers
        for i in range(servers):
            files = CrashableDirectory(workdir / f"s{i}")
            storage = impl.storage(files, name=f"s{i}")
            core = impl.core.recover(i, self.config, storage.load())
            self.nodes.append(_Node(files, storage, core, []))

    def reset(self) -> None:
        """Back to the initial state: empty folders, fresh nodes recovered from them, no messages."""
        self.bag.clear()
        self._parts = [None] * self.n
        for i, node in enumerate(self.nodes):
            node.files.wipe()
            storage = self.impl.storage(node.files, name=f"s{i}")
            self.nodes[i] = _Node(node.files, storage, self.impl.core.recover(i, self.config, storage.load()), [])

    @classmethod
    def at_state(cls, state: State, workdir: Path, *, max_entries_per_append: int = 1, impl: Implementation = REAL) -> "ReplayCluster":
        """A cluster put in a given spec state: persistent state written by the real storage code,
        volatile state through the core's documented test hook, messages in the bag."""
        cluster = cls(len(state.servers), workdir, max_entries_per_append=max_entries_per_append, impl=impl)
        for i, srv in enumerate(state.servers):
            node = cluster.nodes[i]
            log = tuple(impl_messages.Entry(e.term, e.value) for e in srv.log)
            node.storage.save(HardState(srv.current_term, srv.voted_for), 1, log)
            node.files.crash()  # only what the storage code made durable is there
            node.storage = impl.storage(node.files, name=f"s{i}")
            volatile = VolatileState(
                role=srv.role,
                commit_index=srv.commit_index,
                votes_responded=srv.votes_responded,
                votes_granted=srv.votes_granted,
                next_index=srv.next_index,
                match_index=srv.match_index,
            )
            node.core = impl.core.recover(i, cluster.config, node.storage.load(), volatile=volatile)
            node.applied = []
            cluster._flush(i)
        for m, count in state.messages:
            cluster.bag[m] = count
        return cluster

    def snapshot(self) -> "ClusterSnapshot":
        """Everything the cluster is now: files (and what of them is durable), cores, storage, bag.

        Restoring it puts the real nodes back in a state the real code reached, so a
        walk can start where an earlier one passed instead of replaying the way there.
        A node untouched since the last snapshot shares that snapshot's (immutable) part.
        """
        for i, node in enumerate(self.nodes):
            if self._parts[i] is None:
                storage_state = _copy_fields(vars(node.storage), skip="files")
                self._parts[i] = (node.files.snapshot(), storage_state, _copy_fields(vars(node.core)), tuple(node.applied))
        return ClusterSnapshot(tuple(self._parts), Counter(self.bag))

    def restore(self, snap: "ClusterSnapshot") -> None:
        """Put every node and the network back as they were at `snapshot`.

        Only nodes that changed since are rewritten: a node whose current state is the
        very part the snapshot holds is already as it was.
        """
        for i, part in enumerate(snap.nodes):
            if self._parts[i] is part:
                continue
            model, storage_state, core, applied = part
            node = self.nodes[i]
            node.files.restore(model)
            storage = self.impl.storage.__new__(self.impl.storage)
            vars(storage).update(_copy_fields(storage_state))
            storage.files = node.files
            new_core = self.impl.core.__new__(self.impl.core)
            vars(new_core).update(_copy_fields(core))
            self.nodes[i] = _Node(node.files, storage, new_core, list(applied))
            self._parts[i] = part
        self.bag = Counter(snap.bag)

    def close(self) -> None:
        """Close every node's files."""
        for node in self.nodes:
            node.files.close()

    # --------------------------------------------------------------- effects

    def _flush(self, i: int) -> None:
        """Carry out node i's Ready: persist and fsync first, then send, then apply."""
        node = self.nodes[i]
        self._parts[i] = None
        ready = node.core.ready()
        if ready.hard_state is not None or ready.log_from is not None:
            node.storage.save(ready.hard_state, ready.log_from, ready.entries)
        for m in ready.messages:
            self.bag[m] += 1
        for _, entry in ready.committed:
            node.applied.append(entry.value)

    # ----------------------------------------------------------------- steps

    def step(self, number: int, action: Action) -> None:
        """Carry out one spec action on the real nodes; Divergence if a node refuses it.

        The action table (`spec/actions.py`) says what each action is: the network's own
        actions change the harness's bag, `Restart` is a crash and recovery, a server
        action calls the core method of the same name with the arguments after the
        acting server, and a handler delivers the message to its recipient's core.
        """
        name, args = action
        row = action_def(name)
        if row.actor is Actor.NETWORK:
            (arg,) = args
            m = _message_arg(action, arg)
            if self.bag[m] <= 0:
                raise Divergence(number, action, [f"message not in flight: {format_message(m)}"])
            if name == ActionName.DuplicateMessage:
                self.bag[m] += 1
            else:
                self.bag[m] -= 1
                if self.bag[m] == 0:
                    del self.bag[m]
            return
        if name == ActionName.Restart:
            (arg,) = args
            self.restart(_int_arg(action, arg))
            return
        # The node is about to change (even a refused or wrong step may touch it):
        # its snapshot part no longer describes it.
        self._parts[m_dest(action)] = None
        if row.actor is Actor.SERVER:
            i = _int_arg(action, args[0])
            ok = getattr(self.nodes[i].core, row.method)(*(_int_arg(action, a) for a in args[1:]))
        else:
            (arg,) = args
            m = _message_arg(action, arg)
            i = m.mdest
            if self.bag[m] <= 0:
                raise Divergence(number, action, [f"message not in flight: {format_message(m)}"])
            got = self.nodes[i].core.receive(_as_core_message(m))
            if got is None:
                raise Divergence(number, action, [f"server {i} ran no handler for {format_message(m)}; the spec runs {name}"])
            if got.action != name:
                raise Divergence(number, action, [f"server {i} ran {got.action} for {format_message(m)}; the spec runs {name}"])
            if got.consumed:
                self.bag[m] -= 1
                if self.bag[m] == 0:
                    del self.bag[m]
            self._flush(i)
            return
        if not ok:
            raise Divergence(number, action, [f"server {i} refused {name}, which the spec enables"])
        self._flush(i)

    def restart(self, i: int) -> None:
        """Crash node i (unsynced writes are lost) and recover a new core from its files."""
        node = self.nodes[i]
        self._parts[i] = None
        node.files.crash()
        storage = self.impl.storage(node.files, name=f"s{i}")
        core = self.impl.core.recover(i, self.config, storage.load())
        self.nodes[i] = _Node(node.files, storage, core, [])

    # ------------------------------------------------------------- compare

    def compare(self, number: int, action: Optional[Action], expected: State) -> None:
        """Raise Divergence unless every node and the network equal the spec state."""
        # Fast path: tuples compare field by field (an impl Entry(term, command) equals
        # the spec's Entry(term, value) when command == value); only on a mismatch is
        # the field-by-field diff built.
        same = len(self.bag) == len(expected.messages) and all(self.bag.get(m) == c for m, c in expected.messages)
        if same:
            for node, srv in zip(self.nodes, expected.servers):
                if tuple(node.core.project()) != tuple(srv) or node.applied != list(read(srv)):
                    same = False
                    break
        if same:
            return
        problems: list[str] = []
        for i, (node, srv) in enumerate(zip(self.nodes, expected.servers)):
            actual = node.core.project()
            for name, want_field, got_field in zip(ServerState._fields, srv, actual):
                want: object = want_field
                got: object = got_field
                if name == "log":
                    got = tuple((e[0], e[1]) for e in actual.log)
                    want = tuple((e[0], e[1]) for e in srv.log)
                if want != got:
                    problems.append(f"s{i}.{name}: spec {_short(want)}, impl {_short(got)}")
            want_read = list(read(srv))
            if node.applied != want_read:
                problems.append(f"s{i} state machine: spec applied {want_read}, impl applied {node.applied}")
        want_bag = Counter({m: c for m, c in expected.messages})
        got_bag = +self.bag
        if want_bag != got_bag:
            for m in sorted(set(want_bag) | set(got_bag), key=repr):
                if want_bag[m] != got_bag[m]:
                    problems.append(f"network: {format_message(m)}: spec x{want_bag[m]}, impl x{got_bag[m]}")
        if problems:
            raise Divergence(number, action, problems)


def m_dest(action: Action) -> int:
    """The server a (non-network) action runs on: its first server argument, or the message's recipient."""
    arg = action.args[0]
    return arg.mdest if isinstance(arg, tuple) else arg


def _int_arg(action: Action, arg: Arg) -> int:
    """A server or value argument of `action`; a message in its place is a malformed action."""
    if isinstance(arg, tuple):  # only a message is refused: the spec's types say the rest is an int
        raise TypeError(f"{action.name} takes a server id or value here, not the message {arg!r}")
    return arg


def _message_arg(action: Action, arg: Arg) -> Message:
    """The message argument of a network action; an integer in its place is a malformed action."""
    if not isinstance(arg, tuple):
        raise TypeError(f"{action.name} takes a message, not {arg!r}")
    return arg


def _as_core_message(m: Message) -> impl_messages.Message:
    """The spec's message, handed to the core as it is.

    The core dispatches on `mtype` and reads fields by name, and the spec's tuples
    equal its own field for field; only the class differs, so no copy is made (a
    copy would change nothing the core can see, and would cost one per step).
    """
    return cast(impl_messages.Message, m)


def _copy_fields(fields: dict[str, Any], skip: str = "") -> dict[str, Any]:
    # The cores' and storages' mutable fields are lists of immutable values (entries,
    # indexes, offsets); everything else is immutable.  A dict or set would need more.
    out: dict[str, Any] = {}
    for k, v in fields.items():
        if k == skip:
            continue
        if isinstance(v, (dict, set, bytearray)):
            raise TypeError(f"snapshot: field {k} is a {type(v).__name__}; copy it properly")
        out[k] = list(v) if isinstance(v, list) else v
    return out


def _short(value: Any) -> str:
    if isinstance(value, frozenset):
        return "{" + ", ".join(str(x) for x in sorted(value)) + "}"
    if value is None:
        return "Nil"
    return str(value)


def fast_tmp_root() -> Optional[str]:
    """A tmpfs folder for replay storage if this machine has one (fsync is cheap there)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and shutil.disk_usage(shm).free > 256 * 1024 * 1024 else None


def replay_trace(
    states: Sequence[State],
    actions: Sequence[Optional[Action]],
    *,
    max_entries_per_append: int = 1,
    impl: Implementation = REAL,
    workdir: Optional[Path] = None,
    cluster: Optional[ReplayCluster] = None,
) -> int:
    """Replay a concrete trace (states[k] reached by actions[k]; actions[0] is None) through real nodes.

    Pass `cluster` to reuse one (it is reset first); otherwise a fresh one is made in
    `workdir` or a temporary folder.  Returns the number of steps replayed; raises
    Divergence at the first mismatch.
    """
    own_dir = cluster is None and workdir is None
    root = Path(tempfile.mkdtemp(prefix="lf-replay-", dir=fast_tmp_root())) if own_dir else workdir
    own_cluster = cluster is None
    if cluster is None:
        assert root is not None
        cluster = ReplayCluster(len(states[0].servers), root, max_entries_per_append=max_entries_per_append, impl=impl)
    else:
        cluster.reset()
    try:
        cluster.compare(0, None, states[0])
        for k in range(1, len(states)):
            action = actions[k]
            assert action is not None
            cluster.step(k, action)
            cluster.compare(k, action, states[k])
        return len(states) - 1
    finally:
        if own_cluster:
            cluster.close()
        if own_dir and root is not None:
            shutil.rmtree(root, ignore_errors=True)
