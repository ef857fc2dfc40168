"""Alert notifiers: one interface, three implementations, chosen by ``marts.notifier``.

- :class:`LogNotifier` (default): writes the alert to the task log; no network.
- :class:`PagerDutyNotifier`: PagerDuty Events API v2 (``trigger`` with a dedup key, so a
  breach that persists across runs stays one incident).
- :class:`SlackNotifier`: a Slack incoming webhook.
HTTP notifiers raise on any non-2xx answer: a lost alert must fail the task, not vanish.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from logistics.settings import MartsSettings, setting_problem

Severity = Literal["critical", "error", "warning", "info"]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    summary: str
    severity: Severity
    dedup_key: str  # the same condition keeps the same key
    source: str = "logistics-marts"
    details: dict[str, Any] = field(default_factory=dict)


class Notifier(Protocol):
    def send(self, alert: Alert) -> None: ...


class LogNotifier:
    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or log

    def send(self, alert: Alert) -> None:
        level = logging.INFO if alert.severity == "info" else logging.WARNING
        self._log.log(level, "ALERT [%s] %s %s", alert.severity, alert.summary, alert.details)


class PagerDutyNotifier:
    def __init__(self, *, routing_key: str, url: str, timeout_s: float = 10.0) -> None:
        self._routing_key, self._url, self._timeout_s = routing_key, url, timeout_s

    def payload(self, alert: Alert) -> dict[str, Any]:
        return {
            "routing_key": self._routing_key,
            "event_action": "trigger",
            "dedup_key": alert.dedup_key,
            "payload": {
                "summary": alert.summary[:1024],  # Events v2 limit
                "source": alert.source,
                "severity": alert.severity,
                "custom_details": alert.details,
            },
        }

    def send(self, alert: Alert) -> None:
        response = httpx.post(self._url, json=self.payload(alert), timeout=self._timeout_s)
        response.raise_for_status()


class SlackNotifier:
    def __init__(self, *, webhook_url: str, timeout_s: float = 10.0) -> None:
        self._url, self._timeout_s = webhook_url, timeout_s

    def payload(self, alert: Alert) -> dict[str, Any]:
        lines = [f"*[{alert.severity.upper()}]* {alert.summary}"]
        lines += [f"• {k}: {v}" for k, v in alert.details.items()]
        return {"text": "\n".join(lines)}

    def send(self, alert: Alert) -> None:
        response = httpx.post(self._url, json=self.payload(alert), timeout=self._timeout_s)
        response.raise_for_status()


def notifier_from(settings: MartsSettings) -> Notifier:
    if settings.notifier == "pagerduty":
        if not settings.pagerduty_routing_key:
            raise setting_problem("marts.pagerduty_routing_key", "marts.notifier=pagerduty needs it")
        return PagerDutyNotifier(
            routing_key=settings.pagerduty_routing_key,
            url=settings.pagerduty_events_url,
            timeout_s=settings.notifier_timeout_seconds,
        )
    if settings.notifier == "slack":
        if not settings.slack_webhook_url:
            raise setting_problem("marts.slack_webhook_url", "marts.notifier=slack needs it")
        return SlackNotifier(webhook_url=settings.slack_webhook_url, timeout_s=settings.notifier_timeout_seconds)
    return LogNotifier()
