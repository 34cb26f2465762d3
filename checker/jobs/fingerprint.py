"""A fingerprint of the spec being checked, so a result names exactly what it is about.

The fingerprint is a SHA-256 over the source text of every module that defines the
spec: the modules of `leaderfollower.spec` and the module of every class in the
spec class's method resolution order (so a user's variant file counts too).
Changing one guard changes the fingerprint; the parameters are recorded
separately.
"""
from __future__ import annotations

import hashlib
import inspect
import sys
from pathlib import Path

import leaderfollower.spec as spec_package
from leaderfollower.spec.raft import RaftSpec


def spec_sources(spec_cls: type[RaftSpec]) -> list[Path]:
    """The source files whose text defines the spec, sorted and without duplicates."""
    files: set[Path] = set()
    package_dir = Path(spec_package.__file__).parent
    files.update(p for p in package_dir.glob("*.py"))
    for cls in inspect.getmro(spec_cls):
        module = sys.modules.get(cls.__module__)
        source = getattr(module, "__file__", None)
        if source:
            files.add(Path(source))
    return sorted(f.resolve() for f in files)


def spec_fingerprint(spec_cls: type[RaftSpec]) -> str:
    """`sha256:<hex>` over the spec's source files (their names and contents)."""
    digest = hashlib.sha256()
    for path in spec_sources(spec_cls):
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    digest.update(spec_cls.__qualname__.encode())
    return "sha256:" + digest.hexdigest()
