"""Where a message goes: the real APIs of SMS (Twilio-compatible), Microsoft
Teams (Workflows webhook, Adaptive Card), Slack (incoming webhook), any JSON
webhook; and the local printer used when a channel has no provider.

A provider sends one message and either returns or raises
:class:`DeliveryFailed` saying whether to retry (:func:`is_permanent` decides
it for every channel), when, and how to fix it.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import http.client
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from hms_otel.notify.addresses import url_problem
from hms_otel.notify.alert import AlertEvent
from hms_otel.notify.message import Message, plain, shorten
from hms_otel.terminal import safe_name

#: The longest wait for any one step (connect, a read, a write).
_TIMEOUT_S = 10.0
#: The longest one attempt may take, request and whole answer (see :class:`Attempt`).
ATTEMPT_S = 30.0
#: The most of an error answer read: its first words say what is wrong, a hostile one may not end.
_MAX_ERROR_BODY = 64 * 1024
#: 4xx answers a later attempt can get past: Request Timeout, Conflict (the state it names may change),
#: Too Early, Too Many Requests (``Retry-After``). Any other 4xx says the request itself is wrong (the
#: number, the credentials, the URL), and Twilio, Slack and Teams give the same answer until someone
#: changes it: retried for ``max_age`` it only keeps the page from anyone for a day.
_RETRIED_4XX = frozenset({408, 409, 425, 429})


def is_permanent(status: int | None) -> bool:
    """Whether an answer with HTTP ``status`` can never become a delivery by retrying: the one place that
    decides it, for every channel. No answer (``None``: network, not HTTP), 5xx and the 4xx above are retried;
    a provider may only mark a failure as one that passes (:attr:`DeliveryFailed.passes`), from its own code.
    A redirect (3xx) is final: it is not followed, and the configured URL answers the same until changed."""
    if status is None:
        return False
    return 300 <= status < 400 or (400 <= status < 500 and status not in _RETRIED_4XX)


class DeliveryFailed(Exception):
    """One attempt failed. ``retry_after``: seconds the provider asked us to wait; ``fix``: what to change;
    ``status``: the HTTP status answered (``None``: no HTTP answer); ``code``: the provider's own error code
    (Twilio's ``code``), "" when it gave none; ``final``: no answer, but none can ever come (a URL that can
    never be posted to)."""

    def __init__(self, reason: str, *, fix: str = "", retry_after: float | None = None, status: int | None = None,
                 code: str = "", final: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix
        self.retry_after = retry_after
        self.status = status
        self.code = code
        self.final = final
        #: Set by a provider whose own error code says the condition passes (Twilio's full sender queue),
        #: whatever the HTTP status says.
        self.passes = False

    @property
    def permanent(self) -> bool:
        """Retrying cannot help: give the message up now (see :func:`is_permanent`)."""
        return not self.passes and (self.final or is_permanent(self.status))


class Provider(Protocol):
    #: Shown on the console: "SMS via Twilio API at https://...".
    description: str
    #: True for providers that really send (False: prints locally).
    live: bool

    def send(self, target: str, message: Message, event: AlertEvent) -> None: ...


class Attempt:
    """One delivery attempt's deadline: past it, or when the notifier stops, the attempt's connection is shut
    down. A socket timeout bounds each read, not the attempt: a provider sending a byte every few seconds held
    the attempt, and a delivery worker, for good (nothing retried, given up or said)."""

    def __init__(self, seconds: float, delivery_id: str = "") -> None:
        self.seconds = seconds
        #: The same for every attempt of one journaled message, across retries and restarts: sent where the
        #: receiver can use it to drop a repeat (see :class:`JsonWebhook`); "" outside the dispatcher.
        self.delivery_id = delivery_id
        self.ends = time.monotonic() + seconds
        #: Why the attempt was cut short (``None``: it was not).
        self.why: str | None = None
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def resolve(self, host: str, port: int | None) -> _Addresses:
        """``socket.getaddrinfo`` within the attempt's deadline. The resolver has no timeout of its own that
        the notifier sets (glibc retries each name server for its own ``timeout:``/``attempts:``, and a
        resolver that hangs never answers): a lookup held the attempt, and a delivery worker, past the
        deadline. It runs on a thread of its own, left to finish alone when the attempt ends first."""
        if self.why is not None:
            raise TimeoutError(self.why)
        with contextlib.suppress(OSError):  # an address needs no resolver: no thread
            return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        answer: list[_Addresses | OSError] = []
        done = threading.Event()

        def look_up() -> None:
            try:
                answer.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
            except OSError as error:
                answer.append(error)
            finally:
                done.set()

        threading.Thread(target=look_up, name="hms-notify-resolve", daemon=True).start()
        # Short waits: cut() (the deadline, or the notifier stopping) ends the wait too.
        while not done.wait(max(0.0, min(0.1, self.remaining()))):
            if self.why is not None:
                raise TimeoutError(self.why)
            if self.remaining() <= 0:
                raise TimeoutError(f"the name {safe_name(host)} was not resolved within {self.seconds:g} s")
        if isinstance(answer[0], OSError):
            raise answer[0]
        return answer[0]

    def connect(self, address: tuple[str, int], timeout: float | None = None,
                source_address: tuple[str, int] | None = None) -> socket.socket:
        """``socket.create_connection`` for :mod:`http.client`, with the name resolved within the deadline
        (:meth:`resolve`), keeping a duplicate of the socket: a TLS wrapper takes over the original's
        descriptor, and shutting the duplicate down ends both."""
        host, port = address
        error: OSError = OSError(f"{safe_name(host)} resolves to no address")
        for family, kind, protocol, _name, where in self.resolve(host, port):
            if self.why is not None:
                raise TimeoutError(self.why)
            sock = socket.socket(family, kind, protocol)
            try:
                sock.settimeout(max(0.1, min(timeout or _TIMEOUT_S, self.remaining())))
                if source_address is not None:
                    sock.bind(source_address)
                sock.connect(where)
            except OSError as failed:  # the next address, as create_connection does
                sock.close()
                error = failed
                continue
            with self._lock:
                self._sockets.append(sock.dup())
                cut = self.why is not None
            if cut:
                self._shut()
            return sock
        raise error

    def cut(self, why: str) -> None:
        """End the attempt now (from any thread); its request fails with an ``OSError``."""
        with self._lock:
            if self.why is None:
                self.why = why
        self._shut()

    def _shut(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()


_current = threading.local()
#: The answer of ``socket.getaddrinfo``: (family, type, protocol, canonical name, address) each.
_Addresses = Sequence[tuple[Any, ...]]


def resolve(host: str, port: int | None = None) -> _Addresses:
    """``socket.getaddrinfo`` within the deadline of this thread's attempt (:data:`ATTEMPT_S` outside one)."""
    current: Attempt | None = getattr(_current, "attempt", None)
    if current is None:
        with attempt() as current:
            return current.resolve(host, port)
    return current.resolve(host, port)


@contextlib.contextmanager
def attempt(seconds: float = ATTEMPT_S, delivery_id: str = "") -> Iterator[Attempt]:
    """The deadline of the posts made on this thread inside the block (a timer cuts them at ``seconds``)."""
    current = Attempt(seconds, delivery_id)
    timer = threading.Timer(seconds, current.cut, (f"no complete answer within {seconds:g} s",))
    timer.daemon = True
    timer.start()
    _current.attempt = current
    try:
        yield current
    finally:
        _current.attempt = None
        timer.cancel()
        current.close()


def post(url: str, body: bytes, headers: dict[str, str], fix: str) -> None:
    """POST; a non-2xx answer, no answer or none within the attempt's deadline is :class:`DeliveryFailed`
    (with ``Retry-After`` honoured). Redirects are not followed: see :func:`_answered`."""
    current = getattr(_current, "attempt", None)
    if current is None:
        with attempt() as current:
            _post(current, url, body, headers, fix)
    else:
        _post(current, url, body, headers, fix)


def _post(current: Attempt, url: str, body: bytes, headers: dict[str, str], fix: str) -> None:
    problem = url_problem(url)
    if problem:
        raise DeliveryFailed(f"{_host(url)} cannot be posted to: {problem}",
                             fix=f"{fix}; a URL starts with https://", final=True)
    parts = urllib.parse.urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme.lower() == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname or "", parts.port, timeout=max(0.1, min(_TIMEOUT_S, current.remaining())))
    connection._create_connection = current.connect  # type: ignore[attr-defined]  # the deadline cuts it
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        if current.why is not None:  # cut mid-answer: http.client takes the cut for the end of the headers
            raise DeliveryFailed(f"{_host(url)}: {current.why}", fix=_RETRIED_FIX)
        # A 2xx status is the delivery; nothing in the answer's body is used, and waiting for all of
        # it would let a provider that never ends its answer hold the message (and a worker) for good.
        if not 200 <= response.status < 300:
            raise _answered(url, response, fix)
    except http.client.HTTPException as error:  # an answer that is not HTTP (a wrong port, a broken proxy)
        if current.why is not None:
            raise DeliveryFailed(f"{_host(url)}: {current.why}", fix=_RETRIED_FIX) from None
        raise DeliveryFailed(f"{_host(url)} answered something that is not HTTP ({type(error).__name__}: "
                             f"{str(error)[:100]!r})", fix=f"check the provider URL ({_host(url)})") from None
    except OSError as error:  # refused, reset, unresolvable, TLS, a timeout, or cut by the deadline
        if current.why is not None:
            raise DeliveryFailed(f"{_host(url)}: {current.why}", fix=_RETRIED_FIX) from None
        raise DeliveryFailed(f"cannot reach {_host(url)}: {error.strerror or error}",
                             fix=_network_fix(url, error)) from None
    finally:
        connection.close()


def _network_fix(url: str, error: OSError) -> str:
    """What to check for a failure below HTTP. A TLS failure is no network trouble: "check the network" sent
    people looking at cables while this machine did not trust the certificate, or the port spoke no TLS."""
    import ssl  # loaded with http.client's HTTPS support already; named here for its error types

    host = _host(url)
    if isinstance(error, ssl.SSLCertVerificationError):
        return (f"this machine does not trust the certificate of {host} ({error.verify_message or 'not verified'}): "
                "use its trusted address, or point SSL_CERT_FILE at the CA bundle that signs it (a proxy that "
                "re-signs TLS has one)")
    if isinstance(error, ssl.SSLError):
        return f"{host} does not speak TLS as expected on that port: check the URL's scheme (https://) and port"
    return f"check the network and the provider URL ({host})"


_RETRIED_FIX = "the provider is failing; delivery is retried"


def _answered(url: str, response: http.client.HTTPResponse, fix: str) -> DeliveryFailed:
    """The failure a non-2xx answer means. A redirect is one: following it turned the POST into a GET without
    the alert (counted as delivered), and took a webhook past its address check; the URL is the one to fix."""
    status = response.status
    if 300 <= status < 400:
        location = response.getheader("Location") or ""
        pointed = f" to {_host(urllib.parse.urljoin(url, location))}" if location else ""
        return DeliveryFailed(f"{_host(url)} answered HTTP {status}, a redirect{pointed}, which is not followed",
                              fix=f"{fix}; set the URL the alert should be posted to", status=status)
    try:
        raw = response.read(_MAX_ERROR_BODY)
    except (http.client.HTTPException, OSError) as error:  # a broken chunked body: the status says enough
        raw = f"(its answer's body could not be read: {type(error).__name__})".encode()
    text, code = _error_text(raw)
    retry_after = _retry_after(response.getheader("Retry-After"))
    hint = fix if is_permanent(status) else _RETRIED_FIX
    said = f": {text}" if text else ", with no reason given"  # a bare 429 read "answered HTTP 429: . Fix: ..."
    return DeliveryFailed(f"{_host(url)} answered HTTP {status}{said}", fix=hint, retry_after=retry_after,
                          status=status, code=code)


def _error_text(body: bytes) -> tuple[str, str]:
    """The provider's own words for an error answer, on one line, and its error code ("" if none).

    Twilio answers ``{"code": 21211, "message": "The 'To' number ... is not a valid phone number.",
    "more_info": ..., "status": 400}``; Power Automate (Teams Workflows) ``{"error": {"code": ...,
    "message": ...}}``; Slack's incoming webhooks a bare word such as ``no_service`` or ``invalid_payload``.
    """
    raw = body.decode(errors="replace").strip()
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        inner = data["error"] if isinstance(data.get("error"), dict) else data
        message, code = inner.get("message"), inner.get("code")
        if isinstance(message, str) and message.strip():
            code_text = str(code) if isinstance(code, (int, str)) and not isinstance(code, bool) else ""
            text = " ".join(message.split())
            return (f"{text} (code {code_text})" if code_text else text)[:300], code_text[:40]
    return " ".join(raw.split())[:300], ""


def _host(url: str) -> str:
    """``scheme://host:port`` of ``url``, for messages: never its path (a webhook's secret) or password."""
    if "://" not in url:  # "api.twilio.com/...": what stands where the host would
        return safe_name(url.partition("/")[0].rpartition("@")[2][:80])
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "a URL that is not one"
    return safe_name(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}")


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to isdigit(), not to float()
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


#: Twilio error codes (twilio.com/docs/api/errors) that blame the 'To' number (21211 not a valid phone
#: number, 21604 missing, 21608 not verified on a trial account, 21610 unsubscribed, 21612 unroutable,
#: 21614 not SMS-capable) or the sender (21212 not valid, 21601, 21606 and 21659 not an SMS-capable number
#: of this account): the console then names that setting instead of all of them.
_TWILIO_TO_CODES = frozenset({"21211", "21604", "21608", "21610", "21612", "21614"})
_TWILIO_FROM_CODES = frozenset({"21212", "21601", "21606", "21659"})
#: 400s that pass: 21611, the sender's queue holds its maximum (up to 10 hours of messages) and takes
#: new ones again as it drains (twilio.com/docs/errors/21611).
_TWILIO_PASSING_CODES = frozenset({"21611"})
_TWILIO_SETTINGS = ("check HMS_TWILIO_ACCOUNT_SID, HMS_TWILIO_AUTH_TOKEN and HMS_TWILIO_FROM "
                    "(or sms: in the notifier config file) and the number in the alert file")


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
        try:
            post(self.url, urllib.parse.urlencode(form).encode(),
                 {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {credentials}",
                  "Accept": "application/json"}, fix=_TWILIO_SETTINGS)
        except DeliveryFailed as failure:
            failure.passes = failure.code in _TWILIO_PASSING_CODES
            if failure.permanent:
                failure.fix = self.fix(failure, target)
            elif failure.passes:
                failure.fix = ("Twilio's queue for this sender is full; it drains at the sender's rate: "
                               "a Messaging Service (HMS_TWILIO_MESSAGING_SERVICE_SID) spreads the load")
            raise

    def fix(self, failure: DeliveryFailed, target: str) -> str:
        """What to change for a final answer, as narrowly as the status and Twilio's code tell."""
        sender = ("HMS_TWILIO_MESSAGING_SERVICE_SID (messaging_service_sid" if self.messaging_service_sid
                  else "HMS_TWILIO_FROM (from")
        if failure.status in (401, 403):  # 20003 "Authenticate": the SID and token do not match
            return ("check HMS_TWILIO_ACCOUNT_SID and HMS_TWILIO_AUTH_TOKEN (account_sid and auth_token "
                    "under sms: in the notifier config file)")
        if failure.status == 404:  # 20404: no such account, or not a Twilio Messages API at that URL
            return f"check HMS_TWILIO_ACCOUNT_SID and HMS_TWILIO_BASE_URL (now {self.base_url})"
        if failure.code in _TWILIO_TO_CODES:
            return (f"the number {safe_name(target)} in the alert file's sms: action: correct it (E.164: +, "
                    "country code, number), or see Twilio's reason for refusing it")
        if failure.code in _TWILIO_FROM_CODES:
            return f"check {sender} under sms: in the notifier config file): Twilio refuses it as sender"
        return _TWILIO_SETTINGS


#: The most characters of a label shown as a card's fact: a label may hold 10 000, and Teams Workflows refuse a
#: message over about 28 KB ("Request Entity too large", a 413 that gave the alert up).
_TEAMS_FACT = 200
#: The longest runbook URL made a button; a longer one (no browser takes it whole) is shown as a cut fact.
_MAX_LINK = 2048


def _card_text(text: str) -> str:
    """``text`` for an Adaptive Card, whose text and fact values are Markdown: ``[shown](address)`` from a
    label or a log line would show one address and open another. With a space after ``]`` it is no link, and
    both addresses are read as written."""
    return text.replace("](", "] (")


def adaptive_card(message: Message, event: AlertEvent) -> dict[str, Any]:
    """A Teams Workflows ``message`` carrying one Adaptive Card. Its text is the message's (at most
    :data:`~hms_otel.notify.message.SEGMENT` characters); each label beside it is made plain and cut to
    :data:`_TEAMS_FACT`, so the card stays a few KB whatever the labels hold."""
    message = Message(_card_text(message.headline), _card_text(message.body),
                      _card_text(message.source) if message.source else None)
    body: list[dict[str, Any]] = [{"type": "TextBlock", "text": message.headline, "weight": "Bolder",
                                   "size": "Medium", "wrap": True,
                                   "color": "Attention" if event.firing else "Good"}]
    if message.body:
        body.append({"type": "TextBlock", "text": message.body, "wrap": True})
    facts = []
    if message.source:
        facts.append({"title": "Probable source", "value": message.source})
    runbook = event.annotations.get("runbook_url", "")
    link = runbook if runbook and len(runbook) <= _MAX_LINK and url_problem(runbook) is None else ""
    for title, value in (("Service", event.service), ("Layer", event.labels.get("layer", "")),
                         ("Severity", event.severity), ("Alert", event.name),
                         ("Runbook", "" if link else runbook)):
        value = shorten(_card_text(plain(value)), _TEAMS_FACT, minimum=1)
        if value:
            facts.append({"title": title, "value": value})
    body.append({"type": "FactSet", "facts": facts})
    content: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                               "type": "AdaptiveCard", "version": "1.4", "body": body}
    if link:
        content["actions"] = [{"type": "Action.OpenUrl", "title": "Runbook", "url": link}]
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
        # UTF-8, not \u escapes: an emoji is 4 bytes of the 28 KB, not 12.
        card = json.dumps(adaptive_card(message, event), ensure_ascii=False).encode()
        post(self.url, card, {"Content-Type": "application/json"},
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
        self.channel = safe_name(channel)  # any target with a default webhook: shown in console lines
        self.description = f"Slack incoming webhook at {_host(url)}"

    def send(self, target: str, message: Message, event: AlertEvent) -> None:
        try:
            post(self.url, json.dumps(slack_body(message, event)).encode(), {"Content-Type": "application/json"},
                 fix=f"the Slack webhook for {self.channel} is wrong or revoked, or its channel archived: set "
                     "HMS_SLACK_WEBHOOK_URL or slack.channels in the notifier config to a working one")
        except DeliveryFailed as failure:
            if failure.status == 400:  # invalid_payload: the URL takes other JSON than an incoming webhook
                failure.fix = (f"the Slack URL for {self.channel} must be an incoming webhook "
                               "(https://hooks.slack.com/services/...), not a Workflow Builder one")
            raise


class JsonWebhook:
    """``webhook:URL`` actions: the message and the alert as one JSON object.

    Delivery is at least once (an attempt cut after the receiver took it is sent again), so every attempt of
    one message carries the same ``delivery_id`` in the body and as the ``Idempotency-Key`` header (the IETF
    httpapi draft's name; a receiver that does not know it ignores it): a receiver keeps the ids it has seen
    to drop a repeat. Twilio's Messages API, Slack's incoming webhooks and Teams' Workflows take no such key,
    so nothing is added to what is sent to them."""

    live = True
    description = "JSON webhook"

    def send(self, target: str, message: Message, event: AlertEvent) -> None:
        current = getattr(_current, "attempt", None)
        delivery_id = current.delivery_id if current is not None else ""
        body = {"version": "hms-1", "status": event.status, "alert": event.name, "text": message.text,
                "headline": message.headline, "message": message.body, "probable_source": message.source,
                "labels": dict(event.labels), "starts_at": event.starts_at, "ends_at": event.ends_at,
                "fingerprint": event.fingerprint, "delivery_id": delivery_id or None}
        headers = {"Content-Type": "application/json"}
        if delivery_id:
            headers["Idempotency-Key"] = delivery_id
        post(target, json.dumps(body).encode(), headers,
             fix=f"the webhook {_host(target)} in the alert file does not accept the alert")


CHANNEL_NAMES = {"sms": "SMS", "slack": "Slack", "teams": "Teams", "webhook": "webhook"}


#: What starts a record of the outbox file: ``--- 2026-11-27 13:47:22 UTC sms:+15551234``, the message's
#: lines after it.
OUTBOX_RECORD = "--- "


def _shown_lines(text: str) -> list[str]:
    """The lines of a message as the console and the outbox show them. A message may have lines of its own;
    each is escaped as a name (no control character, bidi override or other line break from the alert), and
    one starting like a record ("--- ...") has its first "-" shown as ``\\x2d``: no alert can forge another
    record in the outbox, or another line on the console."""
    return ["\\x2d" + line[1:] if line.startswith(OUTBOX_RECORD.strip()) else line
            for line in map(safe_name, text.split("\n"))]


class LocalPrinter:
    """No provider for this channel: show the message as the phone would, and keep it in the outbox."""

    live = False

    def __init__(self, outbox: Path, say: Callable[[str], None], channel: str,
                 why: str = "no provider configured") -> None:
        self.outbox = outbox
        self.say = say
        self.channel = channel
        self.why = why  # why it is not sent: shown in the header
        self.description = f"printed here and appended to {safe_name(str(outbox))}"

    def send(self, target: str, message: Message, event: AlertEvent) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        # The target comes from the request's query string: one line here, whatever it holds.
        shown = safe_name(target)
        lines = _shown_lines(message.text)
        header = f"📱 {CHANNEL_NAMES.get(self.channel, self.channel)} to {shown} (not sent: {self.why})"
        # Shown first: a full disk under the outbox must not keep the message off the console too (and,
        # raised, it would be retried and shown again and again).
        self.say("\n".join([header, *lines]))
        try:
            self.outbox.parent.mkdir(parents=True, exist_ok=True)
            with self.outbox.open("a", encoding="utf-8") as outbox:
                outbox.write("\n".join([f"{OUTBOX_RECORD}{stamp} UTC {self.channel}:{shown}", *lines]) + "\n")
        except OSError as error:
            self.say(f"✗ the message above was not kept in {safe_name(str(self.outbox))}: {error.strerror or error}")
