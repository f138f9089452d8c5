"""The composition root: the one place that turns settings into running parts.

It opens the stores, seeds the airports, builds security, the cycle channel and this
process's hub, the ingest pipeline and loop, the HTTP app, and the five AWS Lambda handlers.
The entry points (``app.py``, ``cli.py``, the ``handler:`` lines of ``serverless.yml``) only
call it; nothing below it (``api``, ``subscriptions``, the services, ``storage``) reads
settings to decide what to build.
"""
