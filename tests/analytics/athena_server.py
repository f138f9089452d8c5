"""The moto server with its Athena at the REST paths botocore's model gives each call.

botocore 1.44 sends Athena calls as REST-JSON (``POST /query-executions``, ``GET
/query-executions/{QueryExecutionId}/results``...); moto 5.2 parses them by that same model
but routes its Athena at ``/`` only, so every call would be a 404. Each operation's
``requestUri`` is routed to moto's Athena here, and the server started as
``python -m moto.server`` starts (the arguments are its own).
"""

from __future__ import annotations

import re
import sys

import botocore.session
import moto.athena.urls
from moto.server import main


def route_every_operation() -> None:
    model = botocore.session.get_session().get_service_model("athena")
    for name in model.operation_names:
        uri = model.operation_model(name).http["requestUri"].split("?")[0]
        path = re.sub(r"\{(\w+)\+?\}", r"(?P<\1>[^/]+)", uri)
        moto.athena.urls.url_paths["{0}" + path + "$"] = moto.athena.urls.AthenaResponse.dispatch


if __name__ == "__main__":
    route_every_operation()
    main(sys.argv[1:])
