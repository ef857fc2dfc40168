"""Notifiers speak PagerDuty Events v2 and Slack webhooks over real HTTP (a local server)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest

from dags.ops.notifiers import Alert, LogNotifier, PagerDutyNotifier, SlackNotifier, notifier_from
from logistics.errors import ConfigError
from logistics.settings import MartsSettings


class _Endpoint(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    status = 202

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({"path": self.path, "body": body, "type": self.headers["Content-Type"]})
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    _Endpoint.received, _Endpoint.status = [], 202
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


ALERT = Alert(summary="lag 45 min", severity="critical", dedup_key="sla:pipeline_lag", details={"lag": 45})


def test_pagerduty_events_v2_trigger(endpoint: str) -> None:
    PagerDutyNotifier(routing_key="R0UT1NG", url=f"{endpoint}/v2/enqueue").send(ALERT)
    (request,) = _Endpoint.received
    assert request["path"] == "/v2/enqueue" and request["type"] == "application/json"
    assert request["body"] == {
        "routing_key": "R0UT1NG",
        "event_action": "trigger",
        "dedup_key": "sla:pipeline_lag",
        "payload": {
            "summary": "lag 45 min",
            "source": "logistics-marts",
            "severity": "critical",
            "custom_details": {"lag": 45},
        },
    }


def test_slack_webhook_and_a_rejected_alert_raises(endpoint: str) -> None:
    SlackNotifier(webhook_url=f"{endpoint}/hook").send(ALERT)
    assert _Endpoint.received[0]["body"] == {"text": "*[CRITICAL]* lag 45 min\n• lag: 45"}
    _Endpoint.status = 500
    with pytest.raises(httpx.HTTPStatusError):
        SlackNotifier(webhook_url=f"{endpoint}/hook").send(ALERT)


def test_notifier_is_chosen_by_settings(caplog: pytest.LogCaptureFixture) -> None:
    assert isinstance(notifier_from(MartsSettings()), LogNotifier)
    assert isinstance(notifier_from(MartsSettings(notifier="slack", slack_webhook_url="http://x")), SlackNotifier)
    with pytest.raises(ConfigError, match="ROUTING_KEY"):
        notifier_from(MartsSettings(notifier="pagerduty"))
    with caplog.at_level("WARNING"):
        LogNotifier().send(ALERT)
    assert "ALERT [critical] lag 45 min" in caplog.text
