"""The regulator's console: a small web application every node serves at `/console/`.

How it works. Everything the browser runs is in `static/` (HTML, CSS and plain ES modules; no
build step, nothing loaded from outside the node) and is served as files. The page holds the
user's key file (`keys/<org>.json`) in memory and signs each request itself with WebCrypto
Ed25519, exactly as PROTOCOL.md's signed requests, so it sees what the API lets that key's role
see and nothing more: the key never leaves the page, and this module never sees it.

What the node adds for the console, all read-only and public:
- `GET /console/genesis.json`: the public half of genesis the page needs: chain id, n, f,
  quorum, each operator's and observer's name, organisation, public key and RPC URL (to show
  every node's status and to check commit certificates in the browser), and the organisations'
  admin accounts (to label accounts). Nothing secret is in genesis.
- `GET /console/symbols.json` (signed; any registered account, like `token.info`): the token
  symbols on the chain with their names and issuers, at most MAX_SYMBOLS, so the page need
  not scan blocks to offer a list. It reads the token records in state, nothing else.
- `Access-Control-Allow-Origin: *` on the unsigned GET routes the network page reads from every
  node (`/v1/status`, `/readyz`, `/console/genesis.json`), so a console served by one node can
  show the others. Signed routes get no CORS header: a page only signs requests to the node
  that served it. `/metrics` gets none either (issue 27, item 6: any page an insider opened
  could read it); the page reads its own node's, same-origin.
- Headers that keep the page to itself (issue 27, item 6: another origin could frame it), on
  `/console` and everything under it: a Content-Security-Policy (`console_policy`) that runs
  only the node's own scripts and styles (no inline script, style or `eval`), connects only to
  the node and the RPC origins genesis lists (the network page reads their status), and lets
  no one frame it (`frame-ancestors 'none'`, and `X-Frame-Options: DENY` for older browsers);
  `X-Content-Type-Options: nosniff`, so a file is only ever run as the type it is served as;
  `Referrer-Policy: no-referrer`.

What it may not do: import the process (`node.app`) or p2p; hold any per-transaction state.
The console costs the node nothing per transaction: it is files and one small JSON answer; the
page subscribes to `/v1/events?only=block` (block events only) and throttles its own reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from consensus import codec
from node.rpc.common import NODE_KEY, fail, signed_caller

MAX_SYMBOLS = 1000  # one answer; far more tokens than a network of this kind issues
STATIC_DIR = Path(__file__).resolve().parent / "static"
PUBLIC_CROSS_ORIGIN = frozenset({"/v1/status", "/readyz", "/console/genesis.json"})


def console_policy(genesis: Any) -> str:
    """The console's Content-Security-Policy: its own files, and fetches to the node and to
    the RPC origins of the nodes in genesis."""
    origins = sorted({origin_of(node.rpc_url) for node in (*genesis.operators,
                                                            *genesis.observers)
                      if node.rpc_url})
    connect = " ".join(["'self'", *origins])
    return "; ".join([
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
        f"connect-src {connect}", "object-src 'none'", "base-uri 'none'",
        "form-action 'none'", "frame-ancestors 'none'"])


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, as a CSP source."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def genesis_summary(genesis: Any) -> dict[str, Any]:
    """The public facts of genesis that the page uses (no certificates, no parameters)."""

    def node_json(node: Any) -> dict[str, Any]:
        return {"name": node.name, "org": node.org, "public_key": node.public_key.hex(),
                "rpc": node.rpc_url}

    return {"chain_id": genesis.chain_id, "n": genesis.n, "f": genesis.f,
            "quorum": genesis.quorum,
            "operators": [node_json(node) for node in genesis.operators],
            "observers": [node_json(node) for node in genesis.observers],
            "orgs": [org.to_json() for org in genesis.orgs]}


async def get_genesis(request: web.Request) -> web.Response:
    return web.json_response(genesis_summary(request.app[NODE_KEY].genesis))


async def get_symbols(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    _, role = await signed_caller(request)
    if role is None:
        raise fail(403, "forbidden", "token symbols are for registered accounts")
    prefix = "token/meta/"
    rows = []
    for key, raw in node.executor.state.range(prefix):
        if len(rows) == MAX_SYMBOLS:
            break
        meta = codec.unpack(raw)
        rows.append({"symbol": key[len(prefix):], "name": meta.get("name"),
                     "issuer": meta.get("issuer")})
    return web.json_response({"height": node.executor.height, "symbols": rows})


async def get_index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html",
                            headers={"Cache-Control": "no-cache"})


async def redirect_to_index(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """CORS on the public routes the console reads from every node; the console's own
    headers (module docstring) on everything under /console."""
    if request.method == "GET" and request.path in PUBLIC_CROSS_ORIGIN:
        response.headers["Access-Control-Allow-Origin"] = "*"
    if request.path == "/console" or request.path.startswith("/console/"):
        response.headers["Content-Security-Policy"] = console_policy(
            request.app[NODE_KEY].genesis)  # a few strings; the console asks rarely
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console", redirect_to_index)
    app.router.add_get("/console/", get_index)
    app.router.add_get("/console/genesis.json", get_genesis)
    app.router.add_get("/console/symbols.json", get_symbols)
    app.router.add_static("/console/", STATIC_DIR, append_version=False)
    app.on_response_prepare.append(add_headers)
