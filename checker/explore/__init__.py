"""The exhaustive explorer: the state store, the breadth-first search, memoised local steps, traces, covers and graph exports."""
