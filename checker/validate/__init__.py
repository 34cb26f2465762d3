"""Trace validation: checking that a recorded run of a real cluster is a behaviour of the spec."""
