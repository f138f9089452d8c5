"""API security: keys, rate limits, query limits, and the middleware that applies them.

| module          | what                                                                  |
|-----------------|-----------------------------------------------------------------------|
| ``principal``   | who a request acts for; where the middleware leaves it in the scope   |
| ``keys``        | the key format, issuing, verification and cache; the records (hashes  |
|                 | only) are kept by ``storage`` (``Stores.api_keys``)                   |
| ``ratelimit``   | token buckets: a Lua script in Redis, or in this process              |
| ``limits``      | depth, aliases, tokens, cost and scope checks of GraphQL operations   |
| ``persisted``   | persisted queries (Apollo APQ) by SHA-256                             |
| ``gate``        | the policy: authenticate, admit; rate-limit hooks; ``build_security`` |
| ``middleware``  | the ASGI middleware: body size, auth, rate limit, RateLimit headers   |
| ``websocket``   | the same checks for WebSocket ``connection_init`` and operations      |

Which requests need a key: ``/graphql`` (GET with a query, POST, WebSocket) and
``/v1/*``, ``/api/*``, ``/data/*``. The rest (``/healthz``, ``/readyz``, ``/metrics``,
``/static/*``, the GraphiQL page) stays open. With ``FLIGHTDATA_ANONYMOUS=true`` a request
without a key acts as its client address, with the ``read`` scope and the ``anonymous``
tier; a key that is present must be good either way.

Scopes: ``read`` reads everything public; ``admin`` (which includes ``read``) is needed
for ``deadLetters``, whose records are raw upstream payloads (``security.limits.
ADMIN_FIELDS``). ``pipelineStatus`` holds counts only and stays ``read``.
"""
