"""After the run: do the nodes' logs agree on what they committed, and is every acknowledged write in it?

How this works: the nodes are stopped, and each data folder is read with the
implementation's own storage reader.  The commit index is not stored on disk, so
it is the one each node reported just before it was stopped.  Agreement: for every
two nodes, the entries up to the smaller of their commit indexes are identical.
Durability: in the committed prefix of the node that committed most, every
acknowledged put appears (values are unique, so each is found by key and value),
and every key has at least as many deletes as were acknowledged.  Log values are
read as JSON objects with `op` and `key` (and `value`), wherever they sit in the
command, so a change of the envelope (client sessions add fields) does not matter.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

from leaderfollower.impl.messages import Log, Value
from leaderfollower.impl.storage import Storage, StorageError

from .history import DELETE, OK, PUT, Op


@dataclass(frozen=True)
class LogDisagreement:
    """Two nodes whose committed entries differ at one index."""

    a: int
    b: int
    index: int
    """1-based log index."""
    detail: str


@dataclass(frozen=True)
class DurabilityResult:
    """What the logs showed."""

    commit_index: dict[int, int]
    log_length: dict[int, int]
    disagreements: list[LogDisagreement] = field(default_factory=list)
    lost: list[Op] = field(default_factory=list)
    """Acknowledged writes missing from the committed log."""
    unreadable: dict[int, str] = field(default_factory=dict)
    """Nodes whose data folder could not be read, and why."""
    problems: list[str] = field(default_factory=list)
    """Anything else wrong (a commit index beyond a node's log, a node that reported none)."""

    @property
    def holds(self) -> bool:
        """Whether logs agree, nothing acknowledged is lost, and every folder was readable."""
        return not (self.disagreements or self.lost or self.unreadable or self.problems)


def read_logs(folders: Mapping[int, Path]) -> tuple[dict[int, Log], dict[int, str]]:
    """Each node's log from its data folder, and the reasons for those that cannot be read."""
    logs: dict[int, Log] = {}
    errors: dict[int, str] = {}
    for i, folder in sorted(folders.items()):
        storage = Storage.open(folder)
        try:
            logs[i] = storage.load().log
        except (StorageError, OSError, ValueError) as e:
            errors[i] = str(e)
        finally:
            storage.close()
    return logs, errors


def _writes_in(doc: Any) -> Iterator[tuple[str, str, Optional[str]]]:
    """Every (op, key, value) write found in a decoded command, however it is wrapped."""
    if isinstance(doc, dict):
        if doc.get("op") in (PUT, DELETE) and isinstance(doc.get("key"), str):
            value = doc.get("value")
            yield doc["op"], doc["key"], value if isinstance(value, str) else None
            return
        for v in doc.values():
            yield from _writes_in(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _writes_in(v)


def writes_of(log: Log) -> list[tuple[str, str, Optional[str]]]:
    """The writes in a log, in order (no-ops and non-JSON commands contribute none)."""
    found: list[tuple[str, str, Optional[str]]] = []
    for entry in log:
        if isinstance(entry.value, bytes) and entry.value:
            try:
                doc = json.loads(entry.value)
            except ValueError:
                continue
            found.extend(_writes_in(doc))
    return found


def _short(value: Value) -> str:
    return repr(value[:60] if isinstance(value, bytes) else value)


def check_durability(history: Sequence[Op], folders: Mapping[int, Path],
                     commit_index: Mapping[int, Optional[int]]) -> DurabilityResult:
    """Compare the nodes' logs with each other and with the acknowledged writes of `history`."""
    logs, unreadable = read_logs(folders)
    problems = []
    commits: dict[int, int] = {}
    for i in sorted(logs):
        c = commit_index.get(i)
        if c is None:
            problems.append(f"node {i} did not report a commit index at the end; its log is compared up to 0")
            c = 0
        if c > len(logs[i]):
            problems.append(f"node {i} reported commit index {c} but its log holds {len(logs[i])} entries")
            c = len(logs[i])
        commits[i] = c
    disagreements = []
    nodes = sorted(logs)
    for x, a in enumerate(nodes):
        for b in nodes[x + 1:]:
            upto = min(commits[a], commits[b])
            for k in range(upto):
                if logs[a][k] != logs[b][k]:
                    ea, eb = logs[a][k], logs[b][k]
                    disagreements.append(LogDisagreement(
                        a, b, k + 1, f"node {a} has term {ea.term} {_short(ea.value)},"
                                     f" node {b} term {eb.term} {_short(eb.value)}"))
                    break
    lost: list[Op] = []
    if commits:
        best = max(commits, key=lambda i: (commits[i], -i))
        committed = writes_of(logs[best][: commits[best]])
        puts = {(key, value) for op, key, value in committed if op == PUT}
        deletes = Counter(key for op, key, _ in committed if op == DELETE)
        acked_deletes: dict[str, list[Op]] = {}
        for op in history:
            if op.outcome != OK:
                continue
            if op.kind == PUT and (op.key, op.value) not in puts:
                lost.append(op)
            elif op.kind == DELETE:
                acked_deletes.setdefault(op.key, []).append(op)
        for key, ops in sorted(acked_deletes.items()):
            if len(ops) > deletes[key]:
                lost.extend(ops[deletes[key]:])
    return DurabilityResult(commits, {i: len(log) for i, log in logs.items()}, disagreements, lost,
                            unreadable, problems)
