"""The end-of-run checks on the nodes' data folders: committed logs agree, acknowledged writes are there.

The folders are written with the implementation's own storage (real files, fsync).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from leaderfollower.checker.torture.durability import check_durability, writes_of
from leaderfollower.checker.torture.history import DELETE, OK, PUT, UNKNOWN, Op
from leaderfollower.impl.kv import NOOP, encode_write
from leaderfollower.impl.messages import Entry
from leaderfollower.impl.storage import LOG_FILE, Storage


def _write_log(folder: Path, entries: list[Entry]) -> None:
    s = Storage.open(folder)
    s.load()
    s.save(None, 1, tuple(entries))
    s.close()


def _op(n: int, kind: str, key: str, value: Optional[str] = None, outcome: str = OK) -> Op:
    return Op(n, 0, kind, key, value, n, n + 1, outcome)


LOG = [Entry(1, NOOP), Entry(1, encode_write("put", "k", "a")), Entry(1, encode_write("delete", "k")),
       Entry(2, NOOP), Entry(2, encode_write("put", "k", "b"))]
HISTORY = [_op(0, PUT, "k", "a"), _op(1, DELETE, "k"), _op(2, PUT, "k", "b"), _op(3, PUT, "k", "c", UNKNOWN)]


def _folders(tmp_path: Path, logs: list[list[Entry]]) -> dict[int, Path]:
    folders = {}
    for i, log in enumerate(logs):
        folders[i] = tmp_path / f"node{i}"
        _write_log(folders[i], log)
    return folders


def test_agreeing_logs_with_every_acknowledged_write_hold(tmp_path: Path) -> None:
    folders = _folders(tmp_path, [LOG, LOG, LOG[:3]])
    result = check_durability(HISTORY, folders, {0: 5, 1: 5, 2: 3})
    assert result.holds, result
    assert result.commit_index == {0: 5, 1: 5, 2: 3}


def test_a_lost_acknowledged_put_and_delete_are_reported(tmp_path: Path) -> None:
    log = [e for e in LOG if e.value != encode_write("put", "k", "b")]
    folders = _folders(tmp_path, [log, log, log])
    result = check_durability(HISTORY + [_op(9, DELETE, "k")], folders, {0: 4, 1: 4, 2: 4})
    assert [op.id for op in result.lost] == [2, 9]
    assert not result.holds


def test_an_uncommitted_entry_does_not_count_as_durable(tmp_path: Path) -> None:
    folders = _folders(tmp_path, [LOG, LOG, LOG])
    result = check_durability(HISTORY, folders, {0: 4, 1: 4, 2: 4})  # the put of b is past every commit index
    assert [op.id for op in result.lost] == [2]


def test_committed_logs_that_differ_are_reported(tmp_path: Path) -> None:
    other = LOG[:2] + [Entry(1, encode_write("put", "k", "x"))] + LOG[3:]
    folders = _folders(tmp_path, [LOG, other, LOG])
    result = check_durability(HISTORY, folders, {0: 5, 1: 5, 2: 5})
    assert [(d.a, d.b, d.index) for d in result.disagreements] == [(0, 1, 3), (1, 2, 3)]
    # Beyond the smaller commit index a difference is allowed (not yet committed there).
    result = check_durability(HISTORY, folders, {0: 5, 1: 2, 2: 5})
    assert not result.disagreements


def test_a_commit_index_beyond_the_log_and_a_corrupt_folder_are_problems(tmp_path: Path) -> None:
    folders = _folders(tmp_path, [LOG, LOG, LOG])
    result = check_durability(HISTORY, folders, {0: 9, 1: 5, 2: None})
    assert any("commit index 9" in p for p in result.problems)
    assert any("node 2 did not report" in p for p in result.problems)
    data = bytearray((folders[1] / LOG_FILE).read_bytes())
    data[20] ^= 0xFF
    (folders[1] / LOG_FILE).write_bytes(bytes(data))
    result = check_durability(HISTORY, folders, {0: 5, 1: 5, 2: 5})
    assert 1 in result.unreadable and not result.holds


def test_writes_are_found_inside_a_wrapped_command() -> None:
    """Client sessions may wrap the command; the write is found wherever it sits."""
    wrapped = json.dumps({"client": 7, "seq": 3, "cmd": {"op": "put", "key": "k", "value": "v"}}).encode()
    assert writes_of((Entry(1, wrapped), Entry(1, NOOP), Entry(1, b"\xff not json"))) == [("put", "k", "v")]
