"""The partitioned search: one breadth-first search split across worker processes or Ray actors."""
