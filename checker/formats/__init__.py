"""Trace files: the Informal Trace Format (ITF) reader and writer."""
