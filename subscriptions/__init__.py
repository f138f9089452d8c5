"""Live updates: each ingest cycle's changed states, pushed to GraphQL subscribers.

An ingest cycle publishes one ``CycleUpdate`` on a ``Broadcaster`` (in-process for the
embedded default, Redis pub/sub when Redis is configured); every API process listens and
its ``UpdateHub`` filters the update for each of its own subscribers.
"""
