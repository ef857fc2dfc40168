"""A self-contained HTML page per validation: what was checked, what failed, with examples.

GX's Data Docs need a file-backed context; the gate runs an ephemeral one, so it renders
its own page from the validation result (plain HTML, every value escaped).
"""

from __future__ import annotations

import html
import json
from typing import Any

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;
vertical-align:top}.ok{color:#176f2c}.failed{color:#b00020;font-weight:600}code{font-size:.85rem}
"""


def render_html(*, title: str, result: dict[str, Any]) -> str:
    """``result`` is a GX ExpectationSuiteValidationResult as a JSON dict."""
    stats = result.get("statistics", {})
    verdict = "passed" if result.get("success") else "FAILED"
    rows = []
    for item in result.get("results", []):
        config = item.get("expectation_config", {})
        kwargs = {k: v for k, v in config.get("kwargs", {}).items() if k not in ("batch_id", "value_set")}
        observed = item.get("result", {})
        detail = {
            k: observed[k]
            for k in ("observed_value", "unexpected_count", "unexpected_percent", "partial_unexpected_list")
            if k in observed
        }
        error = (item.get("exception_info") or {}).get("exception_message")
        status = "ok" if item.get("success") else "failed"
        rows.append(
            "<tr>"
            f"<td class={status}>{'pass' if status == 'ok' else 'FAIL'}</td>"
            f"<td>{html.escape(config.get('type', ''))}</td>"
            f"<td><code>{html.escape(json.dumps(kwargs, default=str))}</code></td>"
            f"<td><code>{html.escape(json.dumps(detail, default=str))}</code>"
            f"{'<br>' + html.escape(error) if error else ''}</td>"
            "</tr>"
        )
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class={'ok' if result.get('success') else 'failed'}>{verdict}: "
        f"{stats.get('successful_expectations', 0)} of {stats.get('evaluated_expectations', 0)} expectations met</p>"
        "<table><tr><th></th><th>expectation</th><th>arguments</th><th>observed</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
