"""The jobs behind the commands (check, verify), callable from Python: run configurations, spec loading, fingerprints."""
