"""Proofs for every number of servers: the parametric encoding (`Server` and `Quorum` uninterpreted sorts)."""
