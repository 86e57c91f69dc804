"""Red team (docs/redteam-security.md, finding 1): a HEAD request is answered with headers
alone, on every route.

aiohttp serves HEAD on every GET route. `/v1/events` is a stream the handler writes itself,
and on HEAD it wrote its body anyway (`: connected`, then every event), with neither a length
nor chunking: bytes a client or a proxy reusing the connection reads as the next answer (a
proxy's pool of upstream connections is shared by its clients), and a subscription held for
a request that shows no body. PROTOCOL: a route called with a method it does not serve answers
405 with an `Allow` header.

The instrument walks every GET route the app registers (path parameters filled in), sends a
signed HEAD with a GET /healthz pipelined behind it on the same connection, and asserts that
the bytes after the HEAD answer's headers are the /healthz answer."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp.test_utils import TestServer

from node.rpc.auth import sign_request
from node.rpc.events import EventHub
from node.rpc.server import make_app
from tests.node.test_audit import build_story
from tests.node.test_schemathesis import FuzzNode

FILL = {"{tx_id}": "00" * 32, "{height}": "1", "{filename}": "index.html"}


def get_paths(app) -> list[str]:  # type: ignore[no-untyped-def]
    paths = set()
    for route in app.router.routes():
        if route.method != "GET":
            continue
        path = route.resource.canonical
        for name, value in FILL.items():
            path = path.replace(name, value)
        if path.endswith("/console"):
            path = "/console/index.html"  # the static files' resource
        paths.add(path)
    return sorted(paths)


@pytest.fixture(scope="module")
def ledger():
    led, _ = build_story()
    return led


async def test_every_get_route_answers_head_without_a_body(ledger):
    node = FuzzNode(ledger)
    node.events = EventHub()  # a live hub: a stream stays open, as on a node
    app = make_app(node)
    server = TestServer(app)
    await server.start_server()
    bodies: dict[str, bytes] = {}
    try:
        for path in get_paths(app):
            auth = sign_request(ledger.signers["fss"], ledger.genesis.chain_id, "HEAD", path,
                                int(time.time() * 1000))
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(f"HEAD {path} HTTP/1.1\r\nHost: node\r\nAuthorization: {auth}\r\n\r\n"
                         "GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n".encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 "), (path, head)
            following = await asyncio.wait_for(reader.read(9), 10)
            if following != b"HTTP/1.1 ":
                bodies[path] = following
            writer.close()
    finally:
        await server.close()
    assert bodies == {}, f"answered HEAD with body bytes: {bodies}"
    assert node.events.subscribers == []


async def test_head_on_the_event_stream_is_405_and_subscribes_no_one(ledger):
    node = FuzzNode(ledger)
    node.events = EventHub()
    server = TestServer(make_app(node))
    await server.start_server()
    try:
        auth = sign_request(ledger.signers["fss"], ledger.genesis.chain_id, "HEAD",
                            "/v1/events", int(time.time() * 1000))
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(f"HEAD /v1/events HTTP/1.1\r\nHost: node\r\nAuthorization: {auth}\r\n"
                     "\r\n".encode())
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
        writer.close()
    finally:
        await server.close()
    assert head.startswith("HTTP/1.1 405 "), head
    assert "\r\nAllow: GET\r\n" in head, head
    assert node.events.subscribers == []
