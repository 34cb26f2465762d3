"""The whole package type-checks under `mypy --strict` (the repository's `[tool.mypy]`).

mypy cannot follow the editable install's import hook, and the code folders
(`spec/`, `checker/`, `impl/`) are not laid out as `leaderfollower/...` on disk, so
the test builds that layout from symlinks in a temporary folder and checks it from
there with the repository's pyproject.toml as the configuration.
"""
from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE_FOLDERS = ("spec", "checker", "impl")


@pytest.mark.early
def test_mypy_strict_passes_on_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mypy_api = pytest.importorskip("mypy.api", reason="mypy is not installed (pip install -e '.[test]')")
    package = tmp_path / "leaderfollower"
    package.mkdir()
    for folder in PACKAGE_FOLDERS:
        try:
            os.symlink(REPO / folder, package / folder, target_is_directory=True)
        except OSError as exc:  # e.g. Windows without the symlink privilege
            pytest.skip(f"cannot make the symlink tree mypy needs: {exc}")
    # mypy resolves `-p leaderfollower` against the working folder (explicit package bases).
    monkeypatch.chdir(tmp_path)
    # mypy runs in this process and retunes it for itself (a far higher gc threshold,
    # a deeper recursion limit); put both back for the tests that share the worker.
    gc_threshold, recursion_limit = gc.get_threshold(), sys.getrecursionlimit()
    try:
        stdout, stderr, status = mypy_api.run(
            [
                "--config-file",
                str(REPO / "pyproject.toml"),
                "--cache-dir",
                str(tmp_path / ".mypy_cache"),
                "--namespace-packages",
                "--explicit-package-bases",
                "-p",
                "leaderfollower",
            ]
        )
    finally:
        gc.set_threshold(*gc_threshold)
        sys.setrecursionlimit(recursion_limit)
    assert status == 0, f"mypy --strict reported problems (exit {status}):\n{stdout}{stderr}"
