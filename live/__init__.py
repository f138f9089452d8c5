"""Live updates: each ingest cycle's changed states, on their way to subscribers.

An ingest cycle publishes one ``CycleUpdate`` (``cycle_update``) on a ``Broadcaster``
(``channel``: in-process for the embedded default, Redis pub/sub when Redis is
configured, store polling for workers of a shared file); every API process listens and
its ``UpdateHub`` (``subscribers``) filters the update for each of its own subscribers
(``filtering``).
"""
