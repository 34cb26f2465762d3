"""A test-only file layer: real files in a folder that a simulated crash rolls back.

How this works: every operation goes to the real files through the implementation's
own `RealFileLayer` (so the real write, truncate, rename and fsync calls run), and
is mirrored in a `CrashFileLayer`, which knows what POSIX promises is durable (a
file's content as of its last fsync, the folder's names as of its last directory
fsync).  `crash()` drops what was not durable in the model and rewrites the folder
to match, so a node restarted from the folder sees exactly what a real crash would
have left.  A missing fsync in the storage code shows up as lost data after a
restart, and so as a divergence from the spec in the conformance replay.
"""
from __future__ import annotations

import os
from pathlib import Path

from leaderfollower.impl.storage import CrashFileLayer, RealFileLayer, _Inode


def copy_model(model: CrashFileLayer) -> CrashFileLayer:
    """An independent copy of a CrashFileLayer, keeping which names share an inode."""
    inodes: dict[int, _Inode] = {}

    def dup(inode: _Inode) -> _Inode:
        new = inodes.get(id(inode))
        if new is None:
            new = _Inode()
            new.data = bytearray(inode.data)
            new.durable = inode.durable
            inodes[id(inode)] = new
        return new

    out = CrashFileLayer()
    out._dir = {name: dup(inode) for name, inode in model._dir.items()}
    out._durable_dir = {name: dup(inode) for name, inode in model._durable_dir.items()}
    out.fsyncs = model.fsyncs
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

    def _all_durable(self) -> bool:
        model = self.model
        if model._dir.keys() != model._durable_dir.keys():
            return False
        return all(model._dir[k] is model._durable_dir[k] and bytes(inode.data) == inode.durable for k, inode in model._dir.items())

    def crash(self) -> None:
        """Lose everything not durable, on disk too."""
        self.real.close()
        if self._all_durable():
            # Everything was fsync'd: a crash loses nothing, and the files stay as they are.
            self.real = RealFileLayer(self.directory)
            return
        self.model.crash()
        for entry in os.listdir(self.directory):
            os.unlink(self.directory / entry)
        for name in sorted(self.model._dir):  # the model's surviving folder entries
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
        return copy_model(self.model)

    def restore(self, model: CrashFileLayer) -> None:
        """Put the folder back exactly as it was at `snapshot`: the files on disk too."""
        self.real.close()
        for entry in os.listdir(self.directory):
            os.unlink(self.directory / entry)
        self.model = copy_model(model)
        for name, inode in self.model._dir.items():
            with open(self.directory / name, "wb") as f:
                f.write(inode.data)
        self.real = RealFileLayer(self.directory)

    def close(self) -> None:
        """Close open descriptors."""
        self.real.close()
