"""Stores behind backend-neutral protocols (``storage.base``), one backend per engine."""
