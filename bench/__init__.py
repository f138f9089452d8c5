"""Benchmarks of the embedded default; ``python -m bench`` runs them all and prints figures."""
