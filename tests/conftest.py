"""Suite-wide ordering: the few `slow` tests run first; `long` tests run on request.

With `pytest -n auto` the workers take tests in collection order, so a two-minute
test collected last would start when everything else is done and double the wall
time; started first, it runs beside the rest.

`long` marks tests of several minutes (the larger Z3 proofs): they are skipped
unless `--run-long` is given (or `LEADERFOLLOWER_LONG_TESTS=1` is set, as for the other long tests), so that the
default suite stays a few minutes long.
"""
from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-long", action="store_true", help="also run the tests marked long (minutes each)")
    parser.addoption("--rewrite-golden", action="store_true",
                     help="rewrite the golden output of the scenario files (tests/impl/testdata) with what the code prints now")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "long: minutes-long tests, skipped unless --run-long")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not (config.getoption("--run-long") or os.environ.get("LEADERFOLLOWER_LONG_TESTS") == "1"):
        skip = pytest.mark.skip(reason="long: run with --run-long")
        for item in items:
            if item.get_closest_marker("long") is not None:
                item.add_marker(skip)
    # slow and long first: stable, so the order is kept otherwise
    items.sort(key=lambda item: item.get_closest_marker("slow") is None and item.get_closest_marker("long") is None)
