"""Conformance: replaying the spec's traces through the real implementation and comparing after every step."""
