"""Liveness under fairness: eventually and leads-to properties checked on the explored graph."""
