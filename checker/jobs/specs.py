"""Finding the spec a run checks: the built-in one, a shipped variant, or a user's class.

How this works: `--spec` takes `raft` (the default), the name of a shipped broken
variant (`leaderfollower.spec.variants.VARIANTS`), `path/to/file.py:ClassName`, or
`package.module:ClassName`.  The class must be a subclass of `RaftSpec`.  Every
failure is a `SpecLoadError` with a one-line message saying what was wrong.

A spec file's folder is put at the front of `sys.path` (as `python FILE.py` does
for a script), so the file can import a sibling module of its own (`from
my_helpers import ...`); it stays there for the run, for imports made later.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from leaderfollower.spec.raft import RaftSpec
from leaderfollower.spec.variants import LIVENESS_VARIANTS, VARIANTS


class SpecLoadError(Exception):
    """The spec named on the command line cannot be loaded; the message says why."""


def known_specs() -> list[str]:
    """The names `--spec` accepts without a path."""
    return ["raft", *VARIANTS, *LIVENESS_VARIANTS]


def load_spec_class(ref: str) -> type[RaftSpec]:
    """The spec class named by `ref` (see the module docstring)."""
    if ref == "raft":
        return RaftSpec
    if ref in VARIANTS:
        return VARIANTS[ref]
    if ref in LIVENESS_VARIANTS:
        return LIVENESS_VARIANTS[ref]
    if ":" not in ref:
        raise SpecLoadError(
            f"unknown spec {ref!r}: expected one of {', '.join(known_specs())}, or FILE.py:Class, or module:Class"
        )
    target, _, class_name = ref.rpartition(":")
    if not class_name.isidentifier():
        raise SpecLoadError(f"spec {ref!r}: {class_name!r} is not a class name")
    if target.endswith(".py") or "/" in target:
        path = Path(target)
        if not path.is_file():
            raise SpecLoadError(f"spec {ref!r}: file {target} does not exist")
        folder = str(path.resolve().parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        module_name = f"leaderfollower_user_spec_{abs(hash(str(path.resolve())))}"
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise SpecLoadError(f"spec {ref!r}: cannot import {target}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        try:
            loader_spec.loader.exec_module(module)
        except Exception as exc:  # the user's file failed to import: say where, one line
            raise SpecLoadError(f"spec {ref!r}: importing {target} failed: {type(exc).__name__}: {exc}") from None
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:
            raise SpecLoadError(f"spec {ref!r}: cannot import module {target}: {type(exc).__name__}: {exc}") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise SpecLoadError(f"spec {ref!r}: {target} has no class {class_name}")
    if not (isinstance(cls, type) and issubclass(cls, RaftSpec)):
        raise SpecLoadError(f"spec {ref!r}: {class_name} is not a subclass of leaderfollower.spec.raft.RaftSpec")
    return cls
