"""Suite-wide ordering: the few `slow` tests run first.

With `pytest -n auto` the workers take tests in collection order, so a two-minute
test collected last would start when everything else is done and double the wall
time; started first, it runs beside the rest.
"""
from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: order kept otherwise
