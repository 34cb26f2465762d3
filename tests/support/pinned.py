"""The explorer's shortest counterexample lengths for the shipped variants, pinned once for every engine's tests."""
from __future__ import annotations

# Length (number of steps) of the shortest counterexample on the variant's catch_params,
# computed once with the explorer and pinned here.
PINNED_LENGTH = {
    "vote-without-log-check": 25,  # 3 servers, max term 3, max log 1, symmetry: ~1.1 M states, ~100 s
    "vote-not-persisted": 18,  # 3 servers, max term 2, max log 0, symmetry: ~36 k states
    "non-majority-quorum": 10,  # 2 servers, max term 2, max log 0
    "stale-vote-counted": 18,  # 2 servers, max term 3, max log 0, 2 in flight, symmetry: ~61 k states
    "accept-stale-term": 27,  # 3 servers, max term 3, max log 1, symmetry: ~1.65 M states
}
