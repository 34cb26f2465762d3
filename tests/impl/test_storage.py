"""Storage: round trips, group commit, crash loss of unsynced writes, torn tails, corruption."""
from __future__ import annotations

from pathlib import Path

import pytest

from leaderfollower.impl.core import CoreConfig, RaftCore, VolatileState
from leaderfollower.impl.messages import LEADER, Entry, HardState, PersistentState
from leaderfollower.checker.conform.crashfiles import CrashFileLayer
from leaderfollower.impl.storage import (
    LOG_FILE,
    Storage,
    StorageCorruption,
    encode_record,
)


def fresh(files: CrashFileLayer | None = None) -> Storage:
    s = Storage(files or CrashFileLayer())
    s.load()
    return s


def test_fresh_storage_is_raft_tla_init(tmp_path: Path) -> None:
    assert Storage.open(tmp_path).load() == PersistentState(1, None, ())


def test_round_trip_real_files_with_truncation(tmp_path: Path) -> None:
    s = Storage.open(tmp_path)
    s.load()
    s.save(HardState(3, 2), 1, (Entry(1, b"a"), Entry(2, b""), Entry(3, 7)))
    s.save(None, 3, (Entry(3, b"c"), Entry(3, b"d")))  # replace the last entry, add one
    s.close()
    assert Storage.open(tmp_path).load() == PersistentState(3, 2, (Entry(1, b"a"), Entry(2, b""), Entry(3, b"c"), Entry(3, b"d")))


def test_one_fsync_per_batch_of_entries() -> None:
    files = CrashFileLayer()
    s = fresh(files)
    before = files.fsyncs
    s.save(None, 1, tuple(Entry(1, bytes([k])) for k in range(100)))
    assert files.fsyncs == before + 1


def test_crash_loses_exactly_the_unsynced_writes() -> None:
    files = CrashFileLayer()
    s = fresh(files)
    s.save(HardState(2, 1), 1, (Entry(2, b"a"),))
    files.append(LOG_FILE, encode_record(Entry(2, b"lost")))  # written, never fsync'd
    files.crash()
    assert fresh(files).load() == PersistentState(2, 1, (Entry(2, b"a"),))


def test_missing_fsync_is_visible_after_a_crash() -> None:
    """What the conformance harness relies on: a storage bug shows as a different recovered state."""

    class NoFsync(Storage):
        def save(self, hard_state, log_from, entries):  # type: ignore[no-untyped-def]
            real = self.files.fsync
            self.files.fsync = lambda name: None  # type: ignore[method-assign]
            try:
                super().save(hard_state, log_from, entries)
            finally:
                self.files.fsync = real  # type: ignore[method-assign]

    files = CrashFileLayer()
    s = NoFsync(files)
    s.load()
    core = RaftCore.recover(0, CoreConfig(3), s.load(), VolatileState(role=LEADER, next_index=(1, 1, 1), match_index=(0, 0, 0)))
    core.client_request(b"x")
    rd = core.ready()
    s.save(rd.hard_state, rd.log_from, rd.entries)
    files.crash()
    assert Storage(files).load().log != core.persistent_state().log


def test_torn_tail_is_truncated_on_real_files(tmp_path: Path) -> None:
    s = Storage.open(tmp_path)
    s.load()
    s.save(None, 1, (Entry(1, b"a"), Entry(1, b"b")))
    s.close()
    path = tmp_path / LOG_FILE
    good = path.read_bytes()
    path.write_bytes(good + encode_record(Entry(1, b"torn"))[:-3])
    again = Storage.open(tmp_path)
    assert again.load().log == (Entry(1, b"a"), Entry(1, b"b"))
    assert again.recovery.torn_bytes > 0
    assert path.read_bytes() == good  # truncated for good
    again.save(None, 3, (Entry(1, b"c"),))
    assert Storage.open(tmp_path).load().log[-1] == Entry(1, b"c")


def test_bad_checksum_on_a_complete_last_record_is_damage_not_a_torn_tail(tmp_path: Path) -> None:
    """A crash cuts the last record short; it does not change a complete one, which was acknowledged."""
    s = Storage.open(tmp_path)
    s.load()
    s.save(None, 1, (Entry(1, b"a"), Entry(1, b"bbbb")))
    s.close()
    path = tmp_path / LOG_FILE
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StorageCorruption, match=r"record 2 at byte \d+: checksum mismatch. This is damage, not a torn write"):
        Storage.open(tmp_path).load()


def test_zero_filled_tail_is_a_torn_tail(tmp_path: Path) -> None:
    s = Storage.open(tmp_path)
    s.load()
    s.save(None, 1, (Entry(1, b"a"),))
    s.close()
    path = tmp_path / LOG_FILE
    path.write_bytes(path.read_bytes() + bytes(4096))
    assert Storage.open(tmp_path).load().log == (Entry(1, b"a"),)


def test_corruption_in_the_middle_refuses_to_start(tmp_path: Path) -> None:
    s = Storage.open(tmp_path)
    s.load()
    s.save(None, 1, (Entry(1, b"first"), Entry(1, b"second"), Entry(1, b"third")))
    s.close()
    path = tmp_path / LOG_FILE
    data = bytearray(path.read_bytes())
    data[8 + 12 + 10] ^= 0xFF  # inside the first record's payload
    path.write_bytes(bytes(data))
    with pytest.raises(StorageCorruption, match=r"log: record 1 at byte 8: checksum mismatch. This is damage"):
        Storage.open(tmp_path).load()


def test_corrupt_state_file_refuses_to_start(tmp_path: Path) -> None:
    s = Storage.open(tmp_path)
    s.load()
    s.save(HardState(5, 1), None, ())
    (tmp_path / "state").write_bytes(b"garbage")
    with pytest.raises(StorageCorruption, match="state: 7 bytes"):
        Storage.open(tmp_path).load()


def test_hard_state_needs_the_directory_fsync() -> None:
    files = CrashFileLayer()
    s = fresh(files)
    s.save(HardState(4, 2), None, ())
    files.crash()
    assert fresh(files).load().current_term == 4


def test_torn_crash_layer_keeps_a_prefix() -> None:
    files = CrashFileLayer()
    s = fresh(files)
    s.save(None, 1, (Entry(1, b"a"),))
    files.append(LOG_FILE, encode_record(Entry(1, b"bbbbbbbb")))
    files.crash(torn={LOG_FILE: 5})
    again = Storage(files)
    assert again.load().log == (Entry(1, b"a"),)
    assert again.recovery.torn_bytes == 5


def test_volatile_hook_on_top_of_real_storage(tmp_path: Path) -> None:
    s = Storage.open(tmp_path)
    s.load()
    s.write_persistent(PersistentState(3, 0, (Entry(2, b"a"), Entry(3, b"b"))))
    core = RaftCore.recover(0, CoreConfig(3), Storage.open(tmp_path).load(),
                            VolatileState(role=LEADER, commit_index=1, next_index=(3, 2, 3), match_index=(0, 1, 2)))
    p = core.project()
    assert (p.current_term, p.role, p.commit_index, p.next_index, p.match_index) == (3, LEADER, 1, (3, 2, 3), (0, 1, 2))
