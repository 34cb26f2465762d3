"""Storage recovery against damage (issue 15, bug 2), exhaustively on small files.

Every byte of a small log, and of the state file, is flipped in turn (all eight
single-bit flips and the whole byte) on real files; every flip must be either
refused with StorageCorruption or recovered with every acknowledged entry intact.
Every cut of an unacknowledged append (what a crash in mid-write leaves), and a
zero-filled tail, must be recovered with every acknowledged entry.  Files are
patched in place, so all of it takes a few seconds, a 3-entry log and a 40-entry
log written in 16 batches (about 14,000 recoveries).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from leaderfollower.impl.messages import Entry, HardState, PersistentState
from leaderfollower.impl.storage import LOG_FILE, STATE_FILE, Storage, StorageCorruption, encode_record

FLIPS = (0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF)


def written(folder: Path, batches: list[tuple[Entry, ...]], hard: HardState) -> PersistentState:
    """Save `batches` (each one fsync'd Ready, so acknowledged) and the term and vote; what was stored."""
    s = Storage.open(folder)
    s.load()
    log: tuple[Entry, ...] = ()
    for k, batch in enumerate(batches):
        s.save(hard if k == 0 else None, len(log) + 1, batch)
        log += batch
    s.close()
    return PersistentState(hard.current_term, hard.voted_for, log)


def outcome(folder: Path) -> PersistentState | None:
    """What recovery gives, or None if it refuses."""
    try:
        return Storage.open(folder).load()
    except StorageCorruption:
        return None


def flip_every_byte(folder: Path, name: str, acknowledged: PersistentState) -> tuple[int, int]:
    """Flip each byte of `name` in every way; (refused, recovered). Fails on a loss or a wrong entry."""
    path = folder / name
    good = path.read_bytes()
    refused = recovered = 0
    for pos in range(len(good)):
        for mask in FLIPS:
            poke(path, pos, good[pos] ^ mask)
            got = outcome(folder)
            if got is None:
                refused += 1
            else:
                recovered += 1
                assert got == acknowledged, f"{name} byte {pos} ^ {mask:#04x}: recovered {got}, acknowledged {acknowledged}"
            assert path.read_bytes()[:pos] == good[:pos], "recovery changed the file before the flipped byte"
        poke(path, pos, good[pos])
    assert path.read_bytes() == good
    return refused, recovered


def poke(path: Path, pos: int, value: int) -> None:
    """Overwrite one byte in place (rewriting the whole file would make ext4 flush it on every close)."""
    with open(path, "r+b") as f:
        f.seek(pos)
        f.write(bytes((value,)))


SMALL = [(Entry(1, b"a"), Entry(2, b"")), (Entry(2, 7),)]


def test_every_flip_of_a_small_log_is_refused_or_loses_nothing(tmp_path: Path) -> None:
    acknowledged = written(tmp_path, SMALL, HardState(2, 1))
    refused, recovered = flip_every_byte(tmp_path, LOG_FILE, acknowledged)
    # A flip changes a complete record (or the file header): never a torn write, always refused.
    assert refused == len((tmp_path / LOG_FILE).read_bytes()) * len(FLIPS) and recovered == 0


def test_every_flip_of_the_state_file_is_refused(tmp_path: Path) -> None:
    acknowledged = written(tmp_path, SMALL, HardState(5, 2))
    refused, recovered = flip_every_byte(tmp_path, STATE_FILE, acknowledged)
    assert recovered == 0 and refused == len((tmp_path / STATE_FILE).read_bytes()) * len(FLIPS)


def test_a_length_pointing_past_the_end_mid_log_is_refused_not_a_torn_tail(tmp_path: Path) -> None:
    """The campaign's case: record 1's length grown past the end of the file cut every later entry."""
    written(tmp_path, [tuple(Entry(1, bytes([k])) for k in range(20))], HardState(1, None))
    path = tmp_path / LOG_FILE
    data = bytearray(path.read_bytes())
    data[8] = 0x7F  # the high byte of record 1's length: far past the end
    path.write_bytes(bytes(data))
    with pytest.raises(StorageCorruption, match="record 1 at byte 8: header checksum mismatch"):
        Storage.open(tmp_path).load()


def test_every_cut_of_an_unacknowledged_append_recovers_every_acknowledged_entry(tmp_path: Path) -> None:
    acknowledged = written(tmp_path, SMALL, HardState(2, 1))
    path = tmp_path / LOG_FILE
    good = path.read_bytes()
    pending = (Entry(2, b"xyz"), Entry(2, b"w" * 40))  # the append a crash interrupted
    tail = b"".join(encode_record(e) for e in pending)
    for cut in range(len(tail) + 1):
        path.write_bytes(good + tail[:cut])
        got = Storage.open(tmp_path).load()
        whole = sum(1 for k in range(1, len(pending) + 1) if len(b"".join(encode_record(e) for e in pending[:k])) <= cut)
        assert got.log == acknowledged.log + pending[:whole], f"cut at {cut}"
        assert path.read_bytes() == good + tail[: len(b"".join(encode_record(e) for e in pending[:whole]))]
    for zeros in (1, 11, 12, 4096):
        path.write_bytes(good + bytes(zeros))
        assert Storage.open(tmp_path).load() == acknowledged


def test_every_flip_of_a_larger_batched_log(tmp_path: Path) -> None:
    batches = [tuple(Entry(1 + b // 3, f"value-{b}-{k}".encode()) for k in range(1 + b % 4)) for b in range(16)]
    acknowledged = written(tmp_path, batches, HardState(7, 0))
    assert len(acknowledged.log) >= 40
    refused, recovered = flip_every_byte(tmp_path, LOG_FILE, acknowledged)
    assert recovered == 0 and refused > 0
