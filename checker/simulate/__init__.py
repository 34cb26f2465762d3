"""Simulation: random and guided walks through the spec, for bugs deeper than a full search reaches.

`steps` gives a walk its moves (the explorer's memoised actions), `monitor` checks the
properties along a walk, `strategies` chooses where walks start and which moves they
prefer, `walk` runs one worker's walks, `shrink` cuts a violating walk down, and
`run` is the job: workers, budgets, the result document and traces.
"""
