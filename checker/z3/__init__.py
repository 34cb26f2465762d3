"""The Z3 engines: the symbolic encodings, bounded model checking, IC3, the inductive proofs and their lemmas."""
