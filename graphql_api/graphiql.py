"""GraphiQL served from this package: no CDN, so it works offline and under a strict CSP."""

from __future__ import annotations

import json
from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent / "static" / "graphiql"
ASSETS_PATH = "/graphiql-assets"

# Versions vendored in static/graphiql (npm: graphiql@3.8.3, react@18.2.0, react-dom@18.2.0).
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <title>Logistics shipment graph - GraphiQL</title>
  <link rel="stylesheet" href="{assets}/graphiql.min.css" />
  <style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script src="{assets}/react.production.min.js"></script>
  <script src="{assets}/react-dom.production.min.js"></script>
  <script src="{assets}/graphiql.min.js"></script>
  <script>
    // Send your key in the Headers tab: {{"X-API-Key": "..."}}; it is kept in this browser only.
    const fetcher = GraphiQL.createFetcher({{ url: window.location.pathname }});
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {{
        fetcher,
        shouldPersistHeaders: true,
        defaultHeaders: {headers},
        defaultQuery: '{{\\n  shipment(id: "SHP-0001") {{\\n    id\\n    status\\n    totalTransitHours\\n  }}\\n}}\\n',
      }})
    );
  </script>
</body>
</html>
"""


def graphiql_html(*, headers: dict[str, str] | None = None) -> str:
    """The page; ``headers`` fill GraphiQL's Headers tab on a first visit (locally: the dev key)."""
    default_headers = json.dumps(json.dumps(headers, indent=2) if headers else "")
    # A JSON string literal inside <script>: "</" must not end the script element.
    return PAGE.format(assets=ASSETS_PATH, headers=default_headers.replace("</", "<\\/"))
