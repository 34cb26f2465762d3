"""The explorer, the Z3 encoding, the conformance replayer and the command line."""
