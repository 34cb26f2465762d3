"""Crash-faithful file layers for the conformance engine and the storage tests.

How this works: `CrashFileLayer` is an in-memory folder that implements the
implementation's storage seam (`impl.storage.FileLayer`) and knows what POSIX
promises is durable: a file's content as of its last fsync, the folder's names as
of its last directory fsync.  `crash()` drops everything else.
`CrashableDirectory` sends every operation to the real files through the
implementation's own `RealFileLayer` (so the real write, truncate, rename and
fsync calls run) and mirrors it in a `CrashFileLayer`; its `crash()` drops what was
not durable in the model and rewrites the folder to match, so a node restarted
from the folder sees exactly what a real crash would have left.  A missing fsync
in the storage code shows up as lost data after a restart, and so as a divergence
from the spec in the conformance replay.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from leaderfollower.impl.storage import RealFileLayer


class _Inode:
    """One file's content: what is written now, and what of it is durable."""

    def __init__(self, data: bytes = b"", durable: bytes = b"") -> None:
        self.data = bytearray(data)
        self.durable = durable


class CrashFileLayer:
    """An in-memory folder (an `impl.storage.FileLayer`) that loses, on `crash()`, everything not made durable.

    A file's content is durable as of its last `fsync`; the folder's entries
    (which names exist, renames) as of the last `fsync_dir`, as POSIX promises
    and no more.  `crash(torn={"log": k})` also keeps the first k unsynced bytes
    appended to a file, to simulate a write torn by the crash.  `fsyncs` counts
    fsync calls (group-commit tests).
    """

    def __init__(self) -> None:
        self._names: dict[str, _Inode] = {}
        self._durable_names: dict[str, _Inode] = {}
        self.fsyncs = 0

    def exists(self, name: str) -> bool:
        """Whether the file exists."""
        return name in self._names

    def names(self) -> list[str]:
        """The files of the folder now, sorted."""
        return sorted(self._names)

    def read(self, name: str) -> bytes:
        """The whole content of the file; FileNotFoundError if absent."""
        if name not in self._names:
            raise FileNotFoundError(name)
        return bytes(self._names[name].data)

    def create(self, name: str, data: bytes) -> None:
        """Create or replace the file (a new inode, as O_TRUNC on a fresh file would give)."""
        self._names[name] = _Inode(data)

    def append(self, name: str, data: bytes) -> None:
        """Append to the file, creating it if absent."""
        if name not in self._names:
            self._names[name] = _Inode()
        self._names[name].data += data

    def truncate(self, name: str, size: int) -> None:
        """Cut the file to `size` bytes."""
        del self._names[name].data[size:]

    def fsync(self, name: str) -> None:
        """Make the file's current content durable."""
        self.fsyncs += 1
        inode = self._names[name]
        inode.durable = bytes(inode.data)

    def rename(self, src: str, dst: str) -> None:
        """Rename (durable only after fsync_dir)."""
        self._names[dst] = self._names.pop(src)

    def fsync_dir(self) -> None:
        """Make the current set of names durable."""
        self.fsyncs += 1
        self._durable_names = dict(self._names)

    def close(self) -> None:
        """Nothing is held open."""

    def all_durable(self) -> bool:
        """Whether a crash now would lose nothing (every name and every byte is durable)."""
        if self._names.keys() != self._durable_names.keys():
            return False
        return all(self._durable_names[k] is inode and bytes(inode.data) == inode.durable for k, inode in self._names.items())

    def crash(self, torn: Optional[dict[str, int]] = None) -> None:
        """Lose every write and rename not made durable; optionally keep a torn prefix of unsynced appends."""
        torn = torn or {}
        self._names = dict(self._durable_names)
        for name, inode in self._names.items():
            keep = inode.durable
            extra = torn.get(name, 0)
            if extra and bytes(inode.data[: len(keep)]) == keep:
                keep = bytes(inode.data[: len(keep) + extra])
            inode.data = bytearray(keep)
            inode.durable = keep

    def copy(self) -> "CrashFileLayer":
        """An independent copy (current and durable state), keeping which names share an inode."""
        inodes: dict[int, _Inode] = {}

        def dup(inode: _Inode) -> _Inode:
            new = inodes.get(id(inode))
            if new is None:
                new = inodes[id(inode)] = _Inode(bytes(inode.data), inode.durable)
            return new

        out = CrashFileLayer()
        out._names = {name: dup(inode) for name, inode in self._names.items()}
        out._durable_names = {name: dup(inode) for name, inode in self._durable_names.items()}
        out.fsyncs = self.fsyncs
        return out


class CrashableDirectory:
    """Real files under `directory`, with `crash()` losing every write not made durable."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.real = RealFileLayer(directory)
        self.model = CrashFileLayer()

    def exists(self, name: str) -> bool:
        """Whether the file exists."""
        return self.real.exists(name)

    def read(self, name: str) -> bytes:
        """The file's content, read from disk."""
        return self.real.read(name)

    def create(self, name: str, data: bytes) -> None:
        """Create or replace a file."""
        self.real.create(name, data)
        self.model.create(name, data)

    def append(self, name: str, data: bytes) -> None:
        """Append to a file."""
        self.real.append(name, data)
        self.model.append(name, data)

    def truncate(self, name: str, size: int) -> None:
        """Cut a file."""
        self.real.truncate(name, size)
        self.model.truncate(name, size)

    def fsync(self, name: str) -> None:
        """fsync a file."""
        self.real.fsync(name)
        self.model.fsync(name)

    def rename(self, src: str, dst: str) -> None:
        """Rename a file."""
        self.real.rename(src, dst)
        self.model.rename(src, dst)

    def fsync_dir(self) -> None:
        """fsync the folder."""
        self.real.fsync_dir()
        self.model.fsync_dir()

    def crash(self) -> None:
        """Lose everything not durable, on disk too."""
        self.real.close()
        if self.model.all_durable():
            # Everything was fsync'd: a crash loses nothing, and the files stay as they are.
            self.real = RealFileLayer(self.directory)
            return
        self.model.crash()
        for entry in os.listdir(self.directory):
            os.unlink(self.directory / entry)
        for name in self.model.names():  # the model's surviving folder entries
            with open(self.directory / name, "wb") as f:
                f.write(self.model.read(name))
        self.real = RealFileLayer(self.directory)

    def wipe(self) -> None:
        """Remove every file: the folder as a new node finds it."""
        self.real.close()
        for entry in os.listdir(self.directory):
            os.unlink(self.directory / entry)
        self.model = CrashFileLayer()
        self.real = RealFileLayer(self.directory)

    def snapshot(self) -> CrashFileLayer:
        """A copy of the folder's state (current and durable) to `restore` later."""
        return self.model.copy()

    def restore(self, model: CrashFileLayer) -> None:
        """Put the folder back exactly as it was at `snapshot`: the files on disk too."""
        self.real.close()
        for entry in os.listdir(self.directory):
            os.unlink(self.directory / entry)
        self.model = model.copy()
        for name in self.model.names():
            with open(self.directory / name, "wb") as f:
                f.write(self.model.read(name))
        self.real = RealFileLayer(self.directory)

    def close(self) -> None:
        """Close open descriptors."""
        self.real.close()
