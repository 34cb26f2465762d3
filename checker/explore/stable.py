"""Texts and fingerprints of spec values that are the same in every process.

How this works: Python's `hash` of a string changes with PYTHONHASHSEED and a
frozenset's iteration order follows hashes, so neither can decide anything that two
processes must agree on.  `stable_text` writes a value with sets sorted and record
types named; `fingerprint` is a BLAKE2b digest of that text.  The partitioned search
orders orbit members and owners by them, and symmetry reduction numbers server
signatures by them.
"""
from __future__ import annotations

import hashlib
from typing import Any


def stable_text(value: Any) -> str:
    """A text of a part that is the same in every process: sets sorted, tuples and scalars by repr."""
    if isinstance(value, (frozenset, set)):
        return "{" + ",".join(sorted(stable_text(v) for v in value)) + "}"
    if isinstance(value, tuple):
        # A namedtuple's class name keeps two record types with equal fields apart.
        return type(value).__name__ + "(" + ",".join(stable_text(v) for v in value) + ")"
    return repr(value)


def fingerprint(value: Any) -> int:
    """A 128-bit fingerprint of a part (see `stable_text`)."""
    return int.from_bytes(hashlib.blake2b(stable_text(value).encode(), digest_size=16).digest(), "big")
