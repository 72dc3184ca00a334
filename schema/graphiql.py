"""GraphiQL served whole by the app: its page and its assets, nothing from a CDN.

strawberry's own page loads React, GraphiQL and the explorer plugin from a public CDN, so
without internet it shows "Loading..." forever. This page loads the same pinned versions
from `/graphiql/static/` (fetched by the setup step, schema/graphiql_assets.py), sends
queries to `/graphql` on the host that served it and subscriptions over
graphql-transport-ws to the same host. The *Headers* editor's JSON is sent as HTTP headers
and, for subscriptions, as the `connection_init` payload, so
`{"Authorization": "Bearer <token>"}` authenticates both (schema/app.py, schema/socket_session.py).

The page's own Content-Security-Policy allows scripts and styles from the app only, its one
inline script by a per-answer nonce, and connections to the same host; framing is refused
as on every HTML answer (adapters/security_headers.py). Without the assets (npm was
missing at setup) it says so and how to fetch them.
"""

from __future__ import annotations

import html
import json
import secrets

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from schema.graphiql_assets import ASSETS_DIR, PACKAGES, SERVED, licence_name, present

STATIC_PATH = "/graphiql/static"

# 'self' covers ws: and wss: on the same host (CSP level 3). GraphiQL's stylesheet embeds
# its fonts as data: URLs; its editors set inline styles.
_CSP = (
    "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

_VERSION = {name: p.version for p in PACKAGES for _, name in p.files}

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Gavel GraphiQL</title>
<link rel="icon" href="data:,">
<style>body {{ margin: 0; overflow: hidden; }} #graphiql {{ height: 100vh; }}</style>
<link rel="stylesheet" href="{static}/graphiql.min.css?v={v_graphiql}">
<link rel="stylesheet" href="{static}/plugin-explorer.css?v={v_explorer}">
<script src="{static}/react.production.min.js?v={v_react}"></script>
<script src="{static}/react-dom.production.min.js?v={v_react}"></script>
<script src="{static}/graphiql.min.js?v={v_graphiql}"></script>
<script src="{static}/plugin-explorer.umd.js?v={v_explorer}"></script>
</head>
<body>
<div id="graphiql">Loading...</div>
<script nonce="{nonce}">
const url = new URL({endpoint}, window.location.href);
const socket = new URL(url);
socket.protocol = url.protocol === "https:" ? "wss:" : "ws:";
const fetcher = GraphiQL.createFetcher({{
  url: url.toString(),
  subscriptionUrl: socket.toString(),
}});
const explorer = GraphiQLPluginExplorer.explorerPlugin();
ReactDOM.createRoot(document.getElementById("graphiql")).render(
  React.createElement(GraphiQL, {{
    fetcher,
    plugins: [explorer],
    defaultQuery: {default_query},
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    inputValueDeprecation: true,
  }}),
);
</script>
</body>
</html>
"""

_MISSING = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Gavel GraphiQL</title></head>
<body>
<h1>GraphiQL's assets are missing</h1>
<p>They are fetched from the npm registry by the setup step. Install Node.js's
<code>npm</code>, then run <code>make venv</code> (or
<code>python -m schema.graphiql_assets</code>) and reload this page.</p>
<p>The GraphQL API itself works: POST to <code>{endpoint}</code>.</p>
</body>
</html>
"""

DEFAULT_QUERY = """# Gavel's GraphiQL: every asset is served by this app, no CDN needed.
#
# Sign in (mutation login) or register, then put the access token in the
# Headers tab below:  {"Authorization": "Bearer <accessToken>"}
# Subscriptions (auctionUpdated, ...) run over a WebSocket to this host and
# send the same headers in connection_init.

query Auctions {
  auctions(first: 5, sort: ENDING_SOON) {
    edges { node { id type status item { title } currentPrice { amount currency } endsAt } }
  }
}
"""


def _script_string(text: str) -> str:
    # A JSON string is a JavaScript string literal; with every "<" escaped nothing in it
    # can end the <script> element or open a comment there.
    return json.dumps(text).replace("<", "\\u003c")


def page(endpoint: str = "/graphql") -> HTMLResponse:
    """GraphiQL's page for the GraphQL endpoint at `endpoint` (a path on this host), with
    its own Content-Security-Policy; a notice (503) when the assets are missing."""
    if not present():
        return HTMLResponse(_MISSING.format(endpoint=html.escape(endpoint)), status_code=503)
    nonce = secrets.token_urlsafe(16)
    body = _PAGE.format(
        static=STATIC_PATH,
        nonce=nonce,
        endpoint=_script_string(endpoint),
        default_query=_script_string(DEFAULT_QUERY),
        v_react=_VERSION["react.production.min.js"],
        v_graphiql=_VERSION["graphiql.min.js"],
        v_explorer=_VERSION["plugin-explorer.umd.js"],
    )
    return HTMLResponse(body, headers={"Content-Security-Policy": _CSP.format(nonce=nonce)})


async def asset(request: Request) -> Response:
    """`GET {STATIC_PATH}/{name}`: one of the pinned files, the NOTICE or a licence text;
    any other name, or a file the setup step did not fetch, is 404."""
    name = request.path_params["name"]
    path = ASSETS_DIR / name
    if name not in _PUBLIC or not path.is_file():
        return PlainTextResponse("Not Found", status_code=404)
    # The page's URLs carry the version, so a cached copy is never stale.
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})


_PUBLIC = SERVED | {"NOTICE"} | {licence_name(p) for p in PACKAGES if p.licence_file}
