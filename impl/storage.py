"""Durable storage: an append-only log of checksummed records, and the term and vote.

How this works: `Storage` keeps two files in a folder, written through a small
`FileLayer` interface: `RealFileLayer` here, or any other implementation of the
protocol (the conformance engine's crash-faithful layer, checker/conform/crashfiles.py,
forgets on a simulated crash every byte and rename not yet fsync'd, which turns a
missing fsync into a visible divergence).

- `log`: an 8-byte header (`LFLOG`, version 2) then one record per entry:
  `u32 payload length | u32 CRC-32 of payload | u32 CRC-32 of the 8 bytes before
  it | payload`, the payload being
  `u64 term | u8 kind | body` (kind 0: a bytes value, body = the bytes; kind 1:
  an int value, body = i64).  Big-endian.  The i-th record is log index i.
  Entries change only at the end (append, or truncate a suffix), so the file is
  append-only apart from truncation.
- `state`: the term and vote, `LFHS | u8 version | u64 term | i64 vote (-1: none)
  | u32 CRC-32 of what precedes`; replaced atomically (write a temporary file,
  fsync it, rename it over, fsync the folder).

`save` persists one Ready (term and vote, then log truncation and appends, each
batch with one fsync: group commit) and returns only when it is durable, so the
caller may then send.

`load` recovers from a crash and refuses anything else.  A crash in the middle of
an append leaves, after the last complete record, a prefix of what was being
written (possibly extended with zeros, if the file's size reached the disk before
its data).  So a tail is torn, and cut away, only if it is shorter than a record
header, or all zeros, or a record whose header checks out (its own CRC: the length
is trustworthy) and which the end of the file cuts short.  A crash cannot change
the bytes of a complete record, nor make a length point past the end of the file
in a header whose CRC holds: every other bad byte, the last record included, is
damage, and `load` refuses with `StorageCorruption` naming the file, record and
byte offset (it never cuts acknowledged entries to make the log readable).  The
header CRC is what tells a torn tail from a damaged length field: without it, a
flipped length pointing past the end of the file looks exactly like a torn last
record and would cut every entry after it.
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import NamedTuple, Optional, Protocol

from .messages import Entry, HardState, Log, PersistentState, INITIAL_PERSISTENT_STATE, Value

LOG_FILE = "log"
STATE_FILE = "state"
STATE_TMP = "state.tmp"
"""The temporary file a new term and vote is written to before it is renamed over `STATE_FILE`."""
LOG_HEADER = b"LFLOG\x00\x02\x00"
"""Magic and format version (2) at the start of the log file."""
_STATE_MAGIC = b"LFHS"
_STATE_VERSION = 1
_REC_HEADER = struct.Struct(">III")  # payload length, payload CRC, CRC of the 8 bytes before it
_TERM = struct.Struct(">Q")
_INT = struct.Struct(">q")
_STATE = struct.Struct(">4sBQq")
_CRC = struct.Struct(">I")
_LEN_CRC = struct.Struct(">II")
MAX_RECORD = 64 * 1024 * 1024
"""A record longer than this is not a record (a corrupt or torn length field)."""
_KIND_BYTES, _KIND_INT = 0, 1


class StorageError(Exception):
    """Storage cannot be used; the node must stop serving (never swallowed)."""


class StorageCorruption(StorageError):
    """The files on disk are damaged in a way recovery must not paper over."""


class FileLayer(Protocol):
    """The file operations storage needs, by file name within one folder: the storage seam.

    Durability is POSIX's and no more: a file's content is durable once `fsync`
    returns, and the folder's names (creations, renames) once `fsync_dir` returns.
    An implementation may keep anything else only until a crash.
    """

    def exists(self, name: str) -> bool:
        """Whether the file exists."""

    def read(self, name: str) -> bytes:
        """The whole content of the file."""

    def create(self, name: str, data: bytes) -> None:
        """Create or replace the file with `data` (not durable until fsync)."""

    def append(self, name: str, data: bytes) -> None:
        """Append `data` to the file (not durable until fsync)."""

    def truncate(self, name: str, size: int) -> None:
        """Cut the file to `size` bytes (not durable until fsync)."""

    def fsync(self, name: str) -> None:
        """Make the file's content durable."""

    def rename(self, src: str, dst: str) -> None:
        """Rename atomically (not durable until fsync_dir)."""

    def fsync_dir(self) -> None:
        """Make the folder's entries (creations, renames) durable."""

    def close(self) -> None:
        """Release what the layer holds open (descriptors); it may be used again afterwards."""


class RealFileLayer:
    """Real files in a folder; appends go through a kept-open descriptor."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._dir = str(self.directory)
        self._fds: dict[str, int] = {}

    def _path(self, name: str) -> str:
        # os.path.join, not pathlib: this runs for every file operation.
        return os.path.join(self._dir, name)

    def _fd(self, name: str) -> int:
        fd = self._fds.get(name)
        if fd is None:
            fd = os.open(self._path(name), os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            self._fds[name] = fd
        return fd

    def _forget(self, name: str) -> None:
        fd = self._fds.pop(name, None)
        if fd is not None:
            os.close(fd)

    def check_writable(self) -> None:
        """Raise StorageError unless a file can be created, written, fsync'd and removed in the folder.

        A read-only folder would otherwise show only at the first write, after the
        node had started serving.
        """
        probe = self._path(".write-probe")
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, b"probe")
                os.fsync(fd)
            finally:
                os.close(fd)
            os.unlink(probe)
        except OSError as e:
            raise StorageError(f"{self.directory}: the data folder is not writable ({e.strerror})") from None

    def exists(self, name: str) -> bool:
        """Whether the file exists."""
        return os.path.exists(self._path(name))

    def read(self, name: str) -> bytes:
        """The whole content of the file."""
        with open(self._path(name), "rb") as f:
            return f.read()

    def create(self, name: str, data: bytes) -> None:
        """Create or replace the file with `data`."""
        self._forget(name)
        with open(self._path(name), "wb") as f:
            f.write(data)

    def append(self, name: str, data: bytes) -> None:
        """Append `data` to the file."""
        fd = self._fd(name)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def truncate(self, name: str, size: int) -> None:
        """Cut the file to `size` bytes."""
        os.truncate(self._fd(name), size)

    def fsync(self, name: str) -> None:
        """fdatasync the file (its size is data for this purpose, so appends are covered)."""
        fd = self._fds.get(name)
        if fd is not None:
            os.fdatasync(fd)
            return
        fd = os.open(self._path(name), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def rename(self, src: str, dst: str) -> None:
        """Rename atomically."""
        self._forget(src)
        self._forget(dst)
        os.replace(self._path(src), self._path(dst))

    def fsync_dir(self) -> None:
        """fsync the folder so that creations and renames survive a crash."""
        fd = os.open(str(self.directory), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Close the kept-open descriptors."""
        for name in list(self._fds):
            self._forget(name)


class Recovery(NamedTuple):
    """What `load` found besides the state itself (for the node's log)."""

    torn_bytes: int
    """Bytes of a torn tail record that recovery cut off (0: none)."""
    entries: int


def encode_record(entry: Entry) -> bytes:
    """One log record for `entry` (header and payload)."""
    term, value = entry
    if isinstance(value, bool) or not isinstance(value, (bytes, int)):
        raise StorageError(f"cannot store a value of type {type(value).__name__}; expected bytes or int")
    if isinstance(value, int):
        payload = _TERM.pack(term) + bytes((_KIND_INT,)) + _INT.pack(value)
    else:
        payload = _TERM.pack(term) + bytes((_KIND_BYTES,)) + value
    head = _LEN_CRC.pack(len(payload), zlib.crc32(payload))
    return head + _CRC.pack(zlib.crc32(head)) + payload


def encode_hard_state(hard: HardState) -> bytes:
    """The content of the state file for a term and vote."""
    vote = -1 if hard.voted_for is None else hard.voted_for
    body = _STATE.pack(_STATE_MAGIC, _STATE_VERSION, hard.current_term, vote)
    return body + _CRC.pack(zlib.crc32(body))


def _decode_payload(payload: bytes) -> Entry:
    (term,) = _TERM.unpack_from(payload, 0)
    kind = payload[8]
    body = payload[9:]
    value: Value
    if kind == _KIND_BYTES:
        value = bytes(body)
    elif kind == _KIND_INT and len(body) == _INT.size:
        (value,) = _INT.unpack(body)
    else:
        raise ValueError(f"unknown value kind {kind}")
    return Entry(term, value)


class Storage:
    """One server's durable term, vote and log (see the module comment)."""

    def __init__(self, files: FileLayer, name: str = "storage") -> None:
        self.files = files
        self.name = name
        """How errors name this storage (the folder, for real files)."""
        self._offsets: list[int] = []  # byte offset of each record
        self._end = len(LOG_HEADER)
        self._hard_state = HardState(INITIAL_PERSISTENT_STATE.current_term, INITIAL_PERSISTENT_STATE.voted_for)
        self._loaded = False
        self.recovery = Recovery(0, 0)

    @classmethod
    def open(cls, directory: Path | str) -> "Storage":
        """Storage in real files under `directory` (created if absent); call `load()` next."""
        return cls(RealFileLayer(directory), name=str(directory))

    # ---------------------------------------------------------------- recovery

    def load(self) -> PersistentState:
        """Recover the term, vote and log; cut a torn tail; refuse on corruption."""
        hard = self._load_hard_state()
        log = self._load_log()
        self._hard_state = hard
        self._loaded = True
        return PersistentState(hard.current_term, hard.voted_for, log)

    def _load_hard_state(self) -> HardState:
        if not self.files.exists(STATE_FILE):
            return HardState(INITIAL_PERSISTENT_STATE.current_term, INITIAL_PERSISTENT_STATE.voted_for)
        data = self.files.read(STATE_FILE)
        where = f"{self.name}/{STATE_FILE}"
        if len(data) != _STATE.size + _CRC.size:
            raise StorageCorruption(f"{where}: {len(data)} bytes, expected {_STATE.size + _CRC.size}; the term and vote are unreadable")
        (crc,) = _CRC.unpack_from(data, _STATE.size)
        if zlib.crc32(data[: _STATE.size]) != crc:
            raise StorageCorruption(f"{where}: checksum mismatch; the term and vote are unreadable")
        magic, version, term, vote = _STATE.unpack_from(data, 0)
        if magic != _STATE_MAGIC or version != _STATE_VERSION:
            raise StorageCorruption(f"{where}: not a version-{_STATE_VERSION} state file (magic {magic!r}, version {version})")
        return HardState(term, None if vote < 0 else vote)

    def _load_log(self) -> Log:
        where = f"{self.name}/{LOG_FILE}"
        if not self.files.exists(LOG_FILE) or len(self.files.read(LOG_FILE)) < len(LOG_HEADER):
            # Absent, or its creation was torn before the header was durable: start empty.
            self.files.create(LOG_FILE, LOG_HEADER)
            self.files.fsync(LOG_FILE)
            self.files.fsync_dir()
            self._offsets, self._end = [], len(LOG_HEADER)
            self.recovery = Recovery(0, 0)
            return ()
        data = self.files.read(LOG_FILE)
        if data[: len(LOG_HEADER)] != LOG_HEADER:
            raise StorageCorruption(f"{where}: bad header {data[:8]!r}, expected {LOG_HEADER!r} (not a version-2 log)")
        entries: list[Entry] = []
        offsets: list[int] = []
        pos = len(LOG_HEADER)
        size = len(data)
        # Where the zero-filled tail (if any) begins, found once: testing `any(data[pos:])`
        # at every record made recovery quadratic (a 33,000-entry log took 8 s to load).
        content_end = len(data.rstrip(b"\0"))
        while pos < size:
            torn = self._torn_tail(data, pos, content_end)
            if torn:
                # A crash cut the last write short: drop the tail for good.
                self.files.truncate(LOG_FILE, pos)
                self.files.fsync(LOG_FILE)
                self.recovery = Recovery(size - pos, len(entries))
                break
            problem = self._check_record(data, pos)
            if problem is not None:
                raise StorageCorruption(
                    f"{where}: record {len(entries) + 1} at byte {pos}: {problem}. This is damage, not a torn write"
                    " (a crash only cuts the last record short), and this node refuses to start. Restore the folder"
                    " from a backup, or remove it so that the node rejoins empty (only safe if a quorum still holds"
                    " every acknowledged write)."
                )
            length = _REC_HEADER.unpack_from(data, pos)[0]
            end = pos + _REC_HEADER.size + length
            try:
                entries.append(_decode_payload(data[pos + _REC_HEADER.size : end]))
            except ValueError as e:
                raise StorageCorruption(f"{where}: record {len(entries) + 1} at byte {pos}: {e}; this node refuses to start") from None
            offsets.append(pos)
            pos = end
        else:
            self.recovery = Recovery(0, len(entries))
        self._offsets, self._end = offsets, pos
        return tuple(entries)

    @staticmethod
    def _torn_tail(data: bytes, pos: int, content_end: int) -> bool:
        """Whether everything from `pos` on is what a crash in mid-append leaves (see the module comment).

        `content_end` is the length of `data` without its trailing zero bytes.
        """
        rest = len(data) - pos
        if rest < _REC_HEADER.size or pos >= content_end:
            return True  # a header cut short, or a zero-filled tail
        length, _, head_crc = _REC_HEADER.unpack_from(data, pos)
        header_ok: bool = zlib.crc32(data[pos : pos + _LEN_CRC.size]) == head_crc
        return header_ok and pos + _REC_HEADER.size + length > len(data)

    @staticmethod
    def _check_record(data: bytes, pos: int) -> Optional[str]:
        """What is wrong with the complete record at `pos`, or None."""
        length, crc, head_crc = _REC_HEADER.unpack_from(data, pos)
        if zlib.crc32(data[pos : pos + _LEN_CRC.size]) != head_crc:
            return "header checksum mismatch"
        if length < _TERM.size + 1 or length > MAX_RECORD:
            return f"impossible length {length}"
        if zlib.crc32(data[pos + _REC_HEADER.size : pos + _REC_HEADER.size + length]) != crc:
            return "checksum mismatch"
        return None

    # ------------------------------------------------------------------- save

    def save(self, hard_state: Optional[HardState], log_from: Optional[int], entries: Log) -> None:
        """Persist one Ready durably: the term and vote, then the log from `log_from` on.

        Returns only after fsync, so the caller may then send what depends on it.
        """
        if not self._loaded:
            raise StorageError(f"{self.name}: save() before load(); recover first")
        if hard_state is not None and hard_state != self._hard_state:
            self.save_hard_state(hard_state)
            self._hard_state = hard_state
        if log_from is not None:
            keep = log_from - 1
            if keep < 0 or keep > len(self._offsets):
                raise StorageError(f"{self.name}: log_from {log_from} outside 1..{len(self._offsets) + 1}")
            if keep < len(self._offsets):
                self._end = self._offsets[keep]
                del self._offsets[keep:]
                self.files.truncate(LOG_FILE, self._end)
            if entries:
                chunks = []
                for entry in entries:
                    record = encode_record(entry)
                    self._offsets.append(self._end)
                    self._end += len(record)
                    chunks.append(record)
                self.files.append(LOG_FILE, b"".join(chunks))
            self.files.fsync(LOG_FILE)

    def save_hard_state(self, hard: HardState) -> None:
        """Replace the stored term and vote durably: write a temporary file, fsync it, rename it over, fsync the folder."""
        self.files.create(STATE_TMP, encode_hard_state(hard))
        self.files.fsync(STATE_TMP)
        self.files.rename(STATE_TMP, STATE_FILE)
        self.files.fsync_dir()

    def write_persistent(self, state: PersistentState) -> None:
        """Replace everything stored with `state` (test hook: set up a server's disk through the real code)."""
        self.save(HardState(state.current_term, state.voted_for), 1, state.log)

    def close(self) -> None:
        """Release open files."""
        self.files.close()
