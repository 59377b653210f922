"""Where a message goes: the real APIs of SMS (Twilio-compatible), Microsoft
Teams (Workflows webhook, Adaptive Card), Slack (incoming webhook), any JSON
webhook; and the local printer used when a channel has no provider.

A provider sends one message and either returns or raises
:class:`DeliveryFailed` saying whether to retry, when, and how to fix it.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hms_otel.notify.alert import AlertEvent
from hms_otel.notify.message import Message

_TIMEOUT_S = 10.0


class DeliveryFailed(Exception):
    """One attempt failed. ``retry_after``: seconds the provider asked us to wait; ``fix``: what to change."""

    def __init__(self, reason: str, *, fix: str = "", retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix
        self.retry_after = retry_after


class Provider(Protocol):
    #: Shown on the console: "SMS via Twilio API at https://...".
    description: str
    #: True for providers that really send (False: prints locally).
    live: bool

    def send(self, target: str, message: Message, event: AlertEvent) -> None: ...


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


def post(url: str, body: bytes, headers: dict[str, str], fix: str) -> Reply:
    """POST; a non-2xx answer or no answer is :class:`DeliveryFailed` (with ``Retry-After`` honoured)."""
    try:
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    except ValueError as error:  # "api.twilio.com" without a scheme: every attempt would fail the same way
        raise DeliveryFailed(f"{url!r} is not a URL ({error})", fix=f"{fix}; a URL starts with https://") from None
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            return Reply(response.status, response.read(), {k.lower(): v for k, v in response.headers.items()})
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace").strip()[:300]
        retry_after = _retry_after(error.headers.get("Retry-After"))
        hint = fix if error.code in (400, 401, 403, 404) else "the provider is failing; delivery is retried"
        raise DeliveryFailed(f"{_host(url)} answered HTTP {error.code}: {text}", fix=hint,
                             retry_after=retry_after) from None
    except http.client.HTTPException as error:  # an answer that is not HTTP (a wrong port, a broken proxy)
        raise DeliveryFailed(f"{_host(url)} answered something that is not HTTP ({type(error).__name__}: "
                             f"{str(error)[:100]!r})", fix=f"check the provider URL ({_host(url)})") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DeliveryFailed(f"cannot reach {_host(url)}: {reason}",
                             fix=f"check the network and the provider URL ({_host(url)})") from None


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class TwilioSms:
    """Twilio's Messages API (or any compatible one): form-encoded To/From/Body, HTTP Basic auth."""

    live = True

    def __init__(self, account_sid: str, auth_token: str, *, sender: str = "", messaging_service_sid: str = "",
                 base_url: str = "https://api.twilio.com") -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sender = sender
        self.messaging_service_sid = messaging_service_sid
        self.base_url = base_url.rstrip("/")
        self.description = f"SMS via the Twilio Messages API at {self.base_url}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{urllib.parse.quote(self.account_sid)}/Messages.json"

    def send(self, target: str, message: Message, event: AlertEvent) -> None:
        form = {"To": target, "Body": message.text}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            form["From"] = self.sender
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        post(self.url, urllib.parse.urlencode(form).encode(),
             {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {credentials}",
              "Accept": "application/json"},
             fix="check HMS_TWILIO_ACCOUNT_SID, HMS_TWILIO_AUTH_TOKEN and HMS_TWILIO_FROM "
                 "(or sms: in the notifier config file) and the number in the alert file")


def adaptive_card(message: Message, event: AlertEvent) -> dict[str, Any]:
    """A Teams Workflows ``message`` carrying one Adaptive Card."""
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": message.headline, "weight": "Bolder",
                                   "size": "Medium", "wrap": True,
                                   "color": "Attention" if event.firing else "Good"}]
    if message.body:
        body.append({"type": "TextBlock", "text": message.body, "wrap": True})
    facts = []
    if message.source:
        facts.append({"title": "Probable source", "value": message.source})
    for title, value in (("Service", event.service), ("Layer", event.labels.get("layer", "")),
                         ("Severity", event.severity), ("Alert", event.name)):
        if value:
            facts.append({"title": title, "value": value})
    body.append({"type": "FactSet", "facts": facts})
    content: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                               "type": "AdaptiveCard", "version": "1.4", "body": body}
    runbook = event.annotations.get("runbook_url")
    if runbook:
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Runbook", "url": runbook}]
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}]}


class TeamsWorkflow:
    """A Teams channel's Workflows webhook ("When a Teams webhook request is received")."""

    live = True

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.description = f"Teams Workflows webhook at {_host(url)}"
        self.name = name

    def send(self, target: str, message: Message, event: AlertEvent) -> None:
        post(self.url, json.dumps(adaptive_card(message, event)).encode(), {"Content-Type": "application/json"},
             fix=f"the Workflows URL for teams:{self.name} is wrong or revoked: set "
                 f"HMS_TEAMS_{self.name.upper().replace('-', '_')}_URL")


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(message: Message, event: AlertEvent) -> dict[str, Any]:
    lines = [f"*{_slack_escape(message.headline)}*"]
    if message.body:
        lines.append(_slack_escape(message.body))
    if message.source:
        lines.append(f"Probable source: {_slack_escape(message.source)}")
    return {"text": _slack_escape(message.text),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]}


class SlackWebhook:
    """A Slack incoming webhook (one per channel; a plain ``ok`` answers success)."""

    live = True

    def __init__(self, url: str, channel: str) -> None:
        self.url = url
        self.channel = channel
        self.description = f"Slack incoming webhook at {_host(url)}"

    def send(self, target: str, message: Message, event: AlertEvent) -> None:
        post(self.url, json.dumps(slack_body(message, event)).encode(), {"Content-Type": "application/json"},
             fix=f"the Slack webhook for {self.channel} is wrong or revoked: set HMS_SLACK_WEBHOOK_URL "
                 "or slack.channels in the notifier config")


class JsonWebhook:
    """``webhook:URL`` actions: the message and the alert as one JSON object."""

    live = True
    description = "JSON webhook"

    def send(self, target: str, message: Message, event: AlertEvent) -> None:
        body = {"version": "hms-1", "status": event.status, "alert": event.name, "text": message.text,
                "headline": message.headline, "message": message.body, "probable_source": message.source,
                "labels": dict(event.labels), "starts_at": event.starts_at, "ends_at": event.ends_at,
                "fingerprint": event.fingerprint}
        post(target, json.dumps(body).encode(), {"Content-Type": "application/json"},
             fix=f"the webhook {_host(target)} in the alert file does not accept the alert")


CHANNEL_NAMES = {"sms": "SMS", "slack": "Slack", "teams": "Teams", "webhook": "webhook"}


class LocalPrinter:
    """No provider for this channel: show the message as the phone would, and keep it in the outbox."""

    live = False

    def __init__(self, outbox: Path, say: Callable[[str], None], channel: str) -> None:
        self.outbox = outbox
        self.say = say
        self.channel = channel
        self.description = f"printed here and appended to {outbox}"

    def send(self, target: str, message: Message, event: AlertEvent) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        header = f"📱 {CHANNEL_NAMES.get(self.channel, self.channel)} to {target} (not sent: no provider configured)"
        # Shown first: a full disk under the outbox must not keep the message off the console too (and,
        # raised, it would be retried and shown again and again).
        self.say("\n".join([header, *message.lines]))
        try:
            self.outbox.parent.mkdir(parents=True, exist_ok=True)
            with self.outbox.open("a", encoding="utf-8") as outbox:
                outbox.write(f"--- {stamp} UTC {self.channel}:{target}\n{message.text}\n")
        except OSError as error:
            self.say(f"✗ the message above was not kept in {self.outbox}: {error.strerror or error}")
