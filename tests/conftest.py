"""Suite-wide markers and ordering, and the folder of shared helpers (`tests/support/`).

Two markers, one meaning each:
- `long`: minutes to hours (the larger Z3 runs, the variants whose search is too large
  for the default suite). Skipped unless `--run-long` is given; `long(reason=...)` says
  why it is long. CI runs the default suite, so long tests run by an explicit choice.
- `early`: a test of a minute or so that is part of the default suite; it is started
  first, because with `pytest -n auto` the workers take tests in collection order, so a
  two-minute test collected last would start when everything else is done and double
  the wall time; started first, it runs beside the rest.

Helpers shared by several test files live in `tests/support/` (imported as
`support.<module>`); no test file imports another.
"""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test in its own temporary folder (commands may write into the working folder)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-long", action="store_true", help="also run the tests marked long (minutes to hours each)")
    parser.addoption("--rewrite-golden", action="store_true",
                     help="rewrite the golden output of the scenario files (tests/impl/testdata) with what the code prints now")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "long(reason): minutes-long tests, skipped unless --run-long")
    config.addinivalue_line("markers", "early: a minute-long test of the default suite, started first")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--run-long"):
        for item in items:
            marker = item.get_closest_marker("long")
            if marker is not None:
                why = marker.kwargs.get("reason", "")
                item.add_marker(pytest.mark.skip(reason=f"long{': ' + why if why else ''}: run with --run-long"))
    # early and long first: stable, so the order is kept otherwise
    items.sort(key=lambda item: item.get_closest_marker("early") is None and item.get_closest_marker("long") is None)
