"""The security layer as an HTTP client meets it: the auth matrix, 429, 413, limits errors,
caching headers, persisted queries, CORS and gzip."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from securitykit import Served, serve

from app import create_app
from config import Settings
from domain.events import RateLimitExceeded
from security.gate import RateLimited
from testkit import TestClient

QUERY = {"query": "{ flights(first: 1) { totalCount } }"}
ADMIN_QUERY = {"query": "{ deadLetters(first: 1) { totalCount } }"}


def post(served: Served, key: str | None = None, body: Any = QUERY, **headers: str) -> Any:
    if key is not None:
        headers["X-API-Key"] = key
    return served.client.post("/graphql", json=body, headers=headers)


# --- who may call -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("which", "code", "says"),
    [
        (None, "api_key_required", "an API key is required"),
        ("malformed", "malformed_api_key", "not a flightdata key"),
        ("unknown", "unknown_api_key", "unknown API key"),
        ("revoked", "revoked_api_key", "was revoked at"),
        ("expired", "expired_api_key", "expired at"),
    ],
)
def test_a_missing_or_bad_key_is_a_401_that_says_why(
    keyed: Served, which: str | None, code: str, says: str
) -> None:
    key = None if which is None else getattr(keyed.keys, which)
    response = post(keyed, key)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == code
    assert says in body["message"]


@pytest.mark.parametrize("which", ["read", "admin", "rotated_old", "rotated_new"])
def test_a_good_key_is_served(keyed: Served, which: str) -> None:
    response = post(keyed, getattr(keyed.keys, which))

    assert response.status_code == 200
    assert response.json() == {"data": {"flights": {"totalCount": 0}}}


def test_a_field_that_needs_the_admin_scope_is_a_403_for_a_read_key(keyed: Served) -> None:
    refused = post(keyed, keyed.keys.read, ADMIN_QUERY)
    allowed = post(keyed, keyed.keys.admin, ADMIN_QUERY)

    assert refused.status_code == 403
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "admin scope" in error["message"]
    assert allowed.status_code == 200
    assert allowed.json() == {"data": {"deadLetters": {"totalCount": 0}}}


def test_anonymous_access_reads_but_needs_a_key_for_admin_fields(open_api: Served) -> None:
    assert post(open_api).json() == {"data": {"flights": {"totalCount": 0}}}
    assert post(open_api, body=ADMIN_QUERY).status_code == 403
    assert post(open_api, open_api.keys.admin, ADMIN_QUERY).status_code == 200


@pytest.mark.parametrize("which", ["malformed", "unknown", "revoked", "expired"])
def test_a_bad_key_is_refused_even_with_anonymous_access_on(open_api: Served, which: str) -> None:
    response = post(open_api, getattr(open_api.keys, which))

    assert response.status_code == 401


def test_a_key_revoked_from_one_process_is_refused_by_another_within_a_second(
    keyed: Served, seeded_settings: Settings
) -> None:
    from security.keys import KeyService, split_key

    key = keyed.keys.read
    other_app = create_app(dataclasses.replace(seeded_settings, anonymous=False), ingest=False)
    with TestClient(other_app) as other:  # a second API process on the same store
        served_there = Served(other, other_app.state.runtime, keyed.keys)
        assert post(keyed, key).status_code == 200
        assert post(served_there, key).status_code == 200  # verified, and cached there
        KeyService(keyed.runtime.stores.api_keys, frozenset()).revoke(split_key(key) or "")
        time.sleep(0.6)  # past the 0.5 s between two reads of the keys' generation

        for served in (keyed, served_there):
            response = post(served, key)
            assert response.status_code == 401
            assert response.json()["error"] == "revoked_api_key"


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/healthz", {}),
        ("GET", "/static/graphiql/graphiql.min.css", {}),
        ("GET", "/graphql", {"accept": "text/html"}),
    ],
)
def test_open_paths_need_no_key(
    keyed: Served, method: str, path: str, headers: dict[str, str]
) -> None:
    response = keyed.client.request(method, path, headers=headers)

    assert response.status_code == 200, response.text


def test_get_queries_need_a_key_too(keyed: Served) -> None:
    params = {"query": "{ __typename }"}

    assert keyed.client.get("/graphql", params=params).status_code == 401
    answer = keyed.client.get("/graphql", params=params, headers={"X-API-Key": keyed.keys.read})
    assert answer.json() == {"data": {"__typename": "Query"}}


def test_security_off_lets_everything_through(seeded_settings: Settings) -> None:
    app = create_app(
        dataclasses.replace(seeded_settings, security=False, anonymous=False), ingest=False
    )
    with TestClient(app) as client:
        response = client.post("/graphql", json=ADMIN_QUERY)

    assert response.status_code == 200
    assert "ratelimit-limit" not in response.headers


# --- how often ----------------------------------------------------------------------------


@pytest.fixture
def tight(seeded_settings: Settings) -> Iterator[Served]:
    tiers = (("anonymous", 0.5, 3), ("standard", 0.5, 5))
    yield from serve(dataclasses.replace(seeded_settings, rate_tiers=tiers))


def test_requests_over_the_quota_get_a_429_with_the_headers(tight: Served) -> None:
    refused: list[RateLimited] = []
    gate = tight.runtime.security.gate  # type: ignore[union-attr]
    assert gate is not None
    gate.on_rate_limited(refused.append)

    answers = [post(tight) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["ratelimit-limit"] == "3" for a in answers)
    last = answers[-1]
    assert last.headers["retry-after"] == "2"  # one token at 0.5 a second
    assert int(last.headers["ratelimit-reset"]) == 6  # three tokens back
    assert last.json()["error"] == "rate_limited"
    assert "retry in 2 s" in last.json()["message"]
    assert [r.principal.id for r in refused] == ["ip:testclient"]
    events = [e for e in tight.runtime.events.recent if isinstance(e, RateLimitExceeded)]
    assert [(e.source, e.client) for e in events] == [("api", "ip:testclient")]


def test_each_key_has_its_own_bucket_and_tier(tight: Served) -> None:
    for _ in range(3):
        post(tight)
    assert post(tight).status_code == 429

    keyed = [post(tight, tight.keys.read) for _ in range(6)]

    assert [a.status_code for a in keyed] == [200] * 5 + [429]
    assert keyed[0].headers["ratelimit-limit"] == "5"
    assert post(tight, tight.keys.admin).status_code == 200


# --- how much -----------------------------------------------------------------------------


def test_a_body_over_the_limit_is_a_413(seeded_settings: Settings) -> None:
    app = create_app(dataclasses.replace(seeded_settings, max_body_bytes=1000), ingest=False)
    big = {"query": "{ __typename }", "padding": "x" * 2000}
    with TestClient(app) as client:
        declared = client.post("/graphql", json=big)

        def chunks() -> Iterator[bytes]:
            data = json.dumps(big).encode()
            yield from (data[i : i + 500] for i in range(0, len(data), 500))

        streamed = client.post(
            "/graphql", content=chunks(), headers={"content-type": "application/json"}
        )
        small = client.post("/graphql", json={"query": "{ __typename }"})

    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"] == "body_too_large"
    assert small.status_code == 200


def _error(response: Any) -> dict[str, Any]:
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    return dict(error)


@pytest.fixture
def strict(seeded_settings: Settings) -> Iterator[Served]:
    limits = {"max_query_depth": 5, "max_query_aliases": 2, "max_query_cost": 5000}
    yield from serve(dataclasses.replace(seeded_settings, **limits))


DEEP = "{ flights { edges { node { route { departure { runways { lowEnd { ident } } } } } } } }"


def test_a_deep_query_is_refused_with_its_depth_and_the_limit(strict: Served) -> None:
    error = _error(post(strict, body={"query": DEEP}))

    assert error["extensions"] == {"code": "QUERY_TOO_DEEP", "depth": 8, "limit": 5}
    assert "8 fields deep" in error["message"]
    assert "the limit is 5" in error["message"]


def test_aliases_over_the_limit_are_refused(strict: Served) -> None:
    three = '{ a: airport(code: "LHR") { icao } b: airport(code: "CDG") { icao } c: __typename }'
    two = '{ a: airport(code: "LHR") { icao } b: airport(code: "CDG") { icao } }'

    error = _error(post(strict, body={"query": three}))
    assert error["extensions"] == {"code": "TOO_MANY_ALIASES", "aliases": 3, "limit": 2}
    assert post(strict, body={"query": two}).json().get("errors") is None


def test_a_costly_query_is_refused_with_its_cost_and_the_limit(strict: Served) -> None:
    query = """query($n: Int!) { flights(first: $n) {
        nodes { icao24 latitude longitude track { points { time latitude } } } } }"""
    # flights 1 + nodes (1 + 500 x (3 scalars + track (1 + points (1 + 360 x 2))))
    assert 1 + (1 + 500 * (3 + (1 + (1 + 360 * 2)))) == 362_502

    error = _error(post(strict, body={"query": query, "variables": {"n": 500}}))
    cheap = post(strict, body={"query": query, "variables": {"n": 2}})

    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 362_502, "limit": 5000}
    assert "362,502" in error["message"]
    assert "5,000" in error["message"]
    assert cheap.json() == {"data": {"flights": {"nodes": []}}}


def test_a_document_over_the_token_limit_is_refused(open_api: Served) -> None:
    long = "{ " + " ".join(["__typename"] * 2100) + " }"

    error = _error(post(open_api, body={"query": long}))

    assert error["extensions"] == {"code": "QUERY_TOO_LARGE", "limit": 2000}


def test_introspection_is_on_by_default_and_can_be_switched_off(
    open_api: Served, seeded_settings: Settings
) -> None:
    from graphql import get_introspection_query

    introspection = {"query": get_introspection_query()}
    assert post(open_api, body=introspection).json()["data"]["__schema"]["queryType"]

    app = create_app(dataclasses.replace(seeded_settings, introspection=False), ingest=False)
    with TestClient(app) as client:
        off = client.post("/graphql", json=introspection)
        typename = client.post("/graphql", json={"query": "{ __typename }"})
    assert _error(off)["extensions"] == {"code": "INTROSPECTION_DISABLED"}
    assert typename.json() == {"data": {"__typename": "Query"}}


# --- HTTP behaviour -----------------------------------------------------------------------


def test_get_queries_are_cacheable_by_a_cdn_per_key(open_api: Served) -> None:
    ok = open_api.client.get("/graphql", params={"query": "{ __typename }"})
    failed = open_api.client.get("/graphql", params={"query": "{ nope }"})
    posted = post(open_api)

    assert ok.headers["cache-control"] == "public, max-age=60"
    assert ok.headers["vary"] == "X-API-Key"
    assert "cache-control" not in failed.headers
    assert "cache-control" not in posted.headers


def test_a_mutation_over_get_is_a_405(open_api: Served) -> None:
    response = open_api.client.get("/graphql", params={"query": "mutation { x }"})

    assert response.status_code == 405
    assert response.text == "mutations are not allowed when using GET"


def test_persisted_queries_by_hash_over_get(open_api: Served) -> None:
    query = "{ flights(first: 1) { totalCount } }"
    digest = hashlib.sha256(query.encode()).hexdigest()
    ext = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": digest}})
    client = open_api.client

    unknown = client.get("/graphql", params={"extensions": ext})
    wrong = client.post("/graphql", json={"query": "{ __typename }", "extensions": json.loads(ext)})
    registered = client.post("/graphql", json={"query": query, "extensions": json.loads(ext)})
    by_hash = client.get("/graphql", params={"extensions": ext})

    assert unknown.status_code == 200
    assert unknown.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    assert "cache-control" not in unknown.headers
    assert wrong.status_code == 400
    assert "provided sha does not match query" in wrong.text
    assert registered.json() == {"data": {"flights": {"totalCount": 0}}}
    assert by_hash.json() == {"data": {"flights": {"totalCount": 0}}}
    assert by_hash.headers["cache-control"] == "public, max-age=60"


def test_cors_exposes_the_rate_limit_headers(seeded_settings: Settings) -> None:
    origin = "https://maps.example"
    app = create_app(dataclasses.replace(seeded_settings, cors_origins=(origin,)), ingest=False)
    with TestClient(app) as client:
        preflight = client.options(
            "/graphql",
            headers={"origin": origin, "access-control-request-method": "POST"},
        )
        answer = client.post("/graphql", json=QUERY, headers={"origin": origin})

    assert preflight.status_code == 200
    assert answer.headers["access-control-allow-origin"] == origin
    exposed = answer.headers["access-control-expose-headers"].lower()
    assert {
        "ratelimit-remaining",
        "retry-after",
        "x-rate-limit-remaining",  # OpenSky's, under /api/
        "x-rate-limit-retry-after-seconds",
    } <= set(exposed.replace(" ", "").split(","))


def test_large_answers_are_gzipped_for_clients_that_accept_it(open_api: Served) -> None:
    query = {"query": '{ airports(country: "GB", first: 100) { nodes { icao name city } } }'}

    zipped = open_api.client.post("/graphql", json=query, headers={"accept-encoding": "gzip"})
    plain = open_api.client.post("/graphql", json=query, headers={"accept-encoding": "identity"})

    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.json() == plain.json()
