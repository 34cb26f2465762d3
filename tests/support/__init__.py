"""Helpers shared by the tests (imported as `support.<module>`; no test file imports another)."""
