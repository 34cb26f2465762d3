"""`leaderfollower torture`: a Jepsen-style job against the real implementation, and its checkers.

The parts, one module each: `history` (the recorded operations and their file
format), `linearizability` (a Wing-Gong/Lowe search per key), `shrink` (a minimal
non-linearizable sub-history), `cluster` (node processes), `netns` (a network
namespace with packet rules for partitions), `nemesis` (the faults), `workload`
(recording clients), `durability` (acknowledged writes and the nodes' logs),
`page` (the HTML page) and `job` (the run as a whole).  The command is
`leaderfollower torture` (checker/cli/torture.py).
"""
