"""The notifier: Alertmanager's webhook receiver for every channel.

``POST /v1/alerts?channel=sms&target=%2B15551234`` with
``Authorization: Bearer <token>`` and Alertmanager's webhook JSON. Each alert
is journaled, then answered 200, then delivered in the background; a request
without the token is refused (401) and nothing is journaled.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from hms_otel.errors import HmsError
from hms_otel.notify.addresses import url_problem, webhook_problem
from hms_otel.notify.alert import BadPayload, parse_webhook
from hms_otel.notify.config import NotifierConfig
from hms_otel.notify.delivery import Backoff, Dispatcher
from hms_otel.notify.journal import EXPIRED, PENDING, Journal
from hms_otel.notify.providers import (
    CHANNEL_NAMES,
    DeliveryFailed,
    JsonWebhook,
    LocalPrinter,
    Provider,
    SlackWebhook,
    TeamsWorkflow,
    TwilioSms,
    resolve,
)
from hms_otel.notify.source import LogStoreCounts, ProbableSource
from hms_otel.terminal import safe_name, safe_text

CHANNELS = ("sms", "slack", "teams", "webhook")
_MAX_BODY = 4 * 1024 * 1024
#: A client silent this long is hung up on: without it one that stops sending half way (or
#: dribbles headers) holds a thread and a socket for good.
_CLIENT_TIMEOUT_S = 30.0
#: Python refuses to read a longer integer (sys.get_int_max_str_digits); no alert holds one.
_MAX_INT_DIGITS = 4300
_ALLOWED = "GET, POST"
#: More new alerts of one status than this in one request make one message ("..., +999 more") to a phone or
#: channel: Alertmanager sends a group (an alert over many instances) in one request, and a thousand
#: alerts were a thousand texts to one phone (3 000 billed segments, 14 s of sending).
GROUP_OVER = 3


def _json_int(text: str) -> int:
    """json's integer reader with a plain refusal: Python's own says "use sys.set_int_max_str_digits()"."""
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise BadPayload(f"a number of {len(text.lstrip('-'))} digits is too long to be a value")
    return int(text)


def _print(text: str) -> None:
    print(safe_text(text), flush=True)


class _Guarded:
    """A webhook whose address is checked again at send time (DNS may have changed since compile)."""

    live = True
    description = JsonWebhook.description

    def __init__(self, allowed: tuple[str, ...]) -> None:
        self.allowed = allowed
        self.inner = JsonWebhook()

    def send(self, target: str, message, event) -> None:  # type: ignore[no-untyped-def]
        problem = url_problem(target)  # journaled before targets were checked at /v1/alerts: given up at once
        if problem:
            raise DeliveryFailed(f"the webhook target cannot be posted to: {problem}", final=True,
                                 fix="change the alert file's webhook: action")
        problem = webhook_problem(target, self.allowed, resolve=True, lookup=resolve)  # within the deadline
        if problem:  # retrying cannot change it (a lookup that fails is no refusal): given up at once, not for a day
            raise DeliveryFailed(f"refused: {problem}", final=True, fix="change the alert file's webhook: action")
        self.inner.send(target, message, event)


def live_provider(config: NotifierConfig, channel: str, target: str) -> Provider | None:
    """The provider configured for ``channel:target``; ``None`` when it is only printed locally."""
    if channel == "sms" and config.sms.configured:
        sms = config.sms
        return TwilioSms(sms.account_sid, sms.auth_token, sender=sms.sender,
                         messaging_service_sid=sms.messaging_service_sid, base_url=sms.base_url)
    if channel == "slack" and config.destination("slack", target):
        return SlackWebhook(config.destination("slack", target) or "", target)
    if channel == "teams" and config.destination("teams", target):
        return TeamsWorkflow(config.destination("teams", target) or "", target)
    if channel == "webhook":
        return _Guarded(config.webhook_allowed_hosts)
    return None


def channel_report(config: NotifierConfig, actions: list[tuple[str, str]]) -> list[str]:
    """One line per action: live (and where) or printed locally (and how to make it live)."""
    lines = []
    for channel, target in actions:
        provider = live_provider(config, channel, target)
        name = f"{channel}:{safe_name(target)}"
        if provider is not None:
            lines.append(f"{name}: live, {provider.description}")
        else:
            lines.append(f"{name}: prints on this console (no {CHANNEL_NAMES.get(channel, channel)} provider: "
                         f"{config.how_to_configure(channel, target)})")
    return lines


class Notifier:
    def __init__(self, config: NotifierConfig, say: Callable[[str], None] = _print,
                 backoff: Backoff | None = None) -> None:
        if not config.token:
            raise ValueError("the notifier needs a token: set HMS_NOTIFIER_TOKEN or token_file in its config")
        self.config = config
        self.say = say
        self.outbox = Path(config.state_dir) / "outbox.txt"
        self.journal = Journal(Path(config.state_dir) / "journal", on_unreadable=self._unreadable)
        finder: Callable[..., str | None] = lambda _event: None  # noqa: E731
        if config.log_store:
            finder = ProbableSource(LogStoreCounts(config.log_store))
        self._printers: dict[tuple[str, str], LocalPrinter] = {}
        self._webhook = _Guarded(config.webhook_allowed_hosts)
        self.dispatcher = Dispatcher(self.journal, self.provider, finder, say, self.given_up_printer, backoff,
                                     lane=self.lane)
        self._server: ThreadingHTTPServer | None = None
        self._journal_problem: str | None = None
        self._journal_lock = threading.Lock()

    # -- routing ---------------------------------------------------------------------------------
    def printer(self, channel: str, _target: str, why: str = "no provider configured") -> Provider:
        if (channel, why) not in self._printers:
            self._printers[channel, why] = LocalPrinter(self.outbox, self.say, channel, why)
        return self._printers[channel, why]

    def given_up_printer(self, channel: str, target: str) -> Provider:
        """Where a message goes once its delivery is given up (the line before it says why)."""
        return self.printer(channel, target, "delivery given up, see the line above")

    def provider(self, channel: str, target: str) -> Provider:
        if channel == "webhook":
            return self._webhook
        return live_provider(self.config, channel, target) or self.printer(channel, target)

    def lane(self, channel: str, target: str) -> str:
        """Where an attempt goes, for the dispatcher's per-lane limit: the provider's host, so two Slack
        channels (or webhooks) on one hanging host cannot take every delivery worker between them."""
        url = self.config.destination(channel, target)
        try:
            return urlsplit(url).netloc.rpartition("@")[2].lower() if url else f"local:{channel}"
        except ValueError:
            return url or channel

    def target_problem(self, channel: str, target: str) -> str | None:
        """Why alerts for ``channel:target`` are refused at once (400), or ``None``: a webhook URL that could
        never be posted to, or one the alert compiler refuses (this machine, a private network).

        Any other target is taken whatever it holds, and escaped wherever it is shown (console, outbox): a 400
        is not re-sent by Alertmanager and so loses the alert, while a number or channel the provider refuses
        is given up with its words and the message printed and kept in the outbox."""
        if channel != "webhook":
            return None
        problem = url_problem(target)
        if problem:
            return f"webhook target {safe_name(target)[:200]} cannot be posted to: {problem}"
        return webhook_problem(target, self.config.webhook_allowed_hosts)

    # -- receiving -------------------------------------------------------------------------------
    def accept(self, channel: str, target: str, payload: object) -> tuple[int, int]:
        """Journal the alerts of one webhook message; (journaled, collapsed duplicates)."""
        events = parse_webhook(payload)
        # All of them durable with one fsync before the 200 (one per alert took 18 s for 5 000 alerts).
        grouped = 0 if channel == "webhook" else GROUP_OVER  # a machine takes every alert; a person, one text
        entries = [entry for entry in self.journal.add_all(channel, target, events, grouped) if entry is not None]
        for entry in entries:
            if entry.state == PENDING:
                self.dispatcher.submit(entry)
        return len(entries), len(events) - len(entries)

    def journal_failed(self, reason: str | None) -> None:
        """Say once per episode that webhooks are refused because the journal cannot be written
        (``None``: it can again)."""
        with self._journal_lock:
            was, self._journal_problem = self._journal_problem, reason
        if reason is not None and was is None:
            self.say(f"✗ notifier: cannot write the journal ({reason}) in {safe_name(str(self.journal.directory))}; "
                     "alerts are refused with 503 so Alertmanager re-sends them. Fix: free space there.")
        elif reason is None and was is not None:
            self.say("✓ notifier: the journal can be written again")

    def _unreadable(self, aside: Path, reason: str) -> None:
        self.say(f"✗ notifier: a journal file cannot be read ({reason}); it is kept as {aside}. "
                 "If it held an undelivered message, that message is not sent: read it there.")

    def message_counts(self) -> tuple[str, dict[str, dict[str, int]]]:
        """A sentence and, per channel, how many messages are pending, delivered and given up: the journal's
        (finished ones are kept a week). No destination is named: phone numbers and webhook URLs stay here."""
        counts = self.journal.counts()
        given_up = sum(states.get(EXPIRED, 0) for states in counts.values())
        pending = sum(states.get(PENDING, 0) for states in counts.values())
        text = (f"{pending} pending, {given_up} given up in the last 7 days"
                + (f" (printed and kept in {safe_name(str(self.outbox))})" if given_up else ""))
        return text, counts

    def authorised(self, header: str | None) -> bool:
        scheme, _, credentials = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(),
                                                                  self.config.token.encode())

    def serve(self) -> ThreadingHTTPServer:
        """Bind, resume what the journal holds, and serve on a thread; returns the server."""
        server = _Server((self.config.host, self.config.port), _handler(self))
        self._server = server
        try:
            restored = self.journal.recover()  # before anything reads an entry file a power loss may have torn
        except BaseException as error:
            # Refused (another notifier writes the journal, a damaged log, a full disk): let the port go.
            server.server_close()
            self._server = None
            if isinstance(error, OSError) and error.filename is None:
                error.filename = str(self.journal.directory)  # a failed write names no file: not the socket's
            raise
        if restored:
            self.say(f"notifier: {restored} journal file{'s' if restored != 1 else ''} put back from the journal's "
                     "log after a crash")
        earlier = len(self.journal.unreadable())  # the ones found from here on are reported one by one
        try:
            self.journal.prune(older_than_s=7 * 86_400)  # delivered messages are kept a week for questions
        except OSError as error:  # a read-only journal: old entries only answer questions, they stop nothing
            self.say(f"✗ notifier: old finished messages not removed from {safe_name(str(self.journal.directory))}: "
                     f"{error.strerror or error}")
        try:
            given_up = sum(states.get(EXPIRED, 0) for states in self.journal.counts().values())
        except OSError:
            given_up = 0
        if given_up:  # said once at start, not only in the scrollback of the day it happened
            self.say(f"✗ notifier: {given_up} message{'s' if given_up != 1 else ''} given up in the last 7 days: "
                     f"printed then and kept in {safe_name(str(self.outbox))} (GET /-/messages counts them)")
        resumed = self.dispatcher.start()
        if resumed:
            self.say(f"notifier: resuming {resumed} undelivered message{'s' if resumed != 1 else ''} from the journal")
        if earlier:
            self.say(f"✗ notifier: {earlier} journal file{'s' if earlier != 1 else ''} set aside earlier as "
                     f"unreadable in {safe_name(str(self.journal.directory))} (*.unreadable); "
                     "messages in them were not sent")
        threading.Thread(target=server.serve_forever, name="hms-notifier-http", daemon=True).start()
        return server

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self.dispatcher.stop()
        with contextlib.suppress(OSError):  # a failing disk: what was not made durable is sent again at start
            self.journal.close()


def _handler(notifier: Notifier) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "hms-notifier"
        timeout = _CLIENT_TIMEOUT_S

        def _answer(self, status: int, text: str, **extra: object) -> None:
            answer = {"status": "ok" if status < 300 else "error", "message": text, **extra}
            body = (json.dumps(answer) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer realm="hms-notifier"')
            if status == 405:
                self.send_header("Allow", _ALLOWED)
            self.end_headers()
            if self.command != "HEAD":  # a HEAD answer has no body; one sent would be read as the next answer
                self.wfile.write(body)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """A method with no ``do_`` here (PUT, DELETE, HEAD, ...) is a JSON 405 naming what is allowed,
            not http.server's 501 HTML page; other errors (a malformed request line) stay http.server's."""
            if code != HTTPStatus.NOT_IMPLEMENTED:
                super().send_error(code, message, explain)
                return
            self.close_connection = True  # its body, if any, is not read
            self._answer(405, f"method {str(self.command)[:20]!r} is not allowed: POST Alertmanager webhooks "
                              f"to /v1/alerts; GET /-/healthy or /-/ready")

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path in ("/-/healthy", "/-/ready"):
                self._answer(200, "ok")
            elif path == "/-/messages":
                text, counts = notifier.message_counts()
                self._answer(200, text, messages=counts)
            else:
                self._answer(404, "not found")

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/v1/alerts":
                self._answer(404, "POST Alertmanager webhooks to /v1/alerts?channel=...&target=...")
                return
            if not notifier.authorised(self.headers.get("Authorization")):
                self._answer(401, "missing or wrong bearer token")
                return
            query = parse_qs(parts.query)
            channel = (query.get("channel") or [""])[0]
            target = (query.get("target") or [""])[0]
            if channel not in CHANNELS or not target:
                self._answer(400, f"channel must be one of {', '.join(CHANNELS)} and target must be set")
                return
            problem = notifier.target_problem(channel, target)
            if problem:
                self._answer(400, problem)
                return
            if self.headers.get("Transfer-Encoding") or self.headers.get("Content-Length") is None:
                # A chunked body was read as none and answered "not an Alertmanager webhook message".
                # Alertmanager always sends Content-Length; a client that cannot is told so.
                self.close_connection = True  # the body is not read: it must not be taken for a request
                self._answer(411, "send the body with a Content-Length (a chunked body is not read)")
                return
            declared = self.headers["Content-Length"].strip()
            if not declared.isascii() or not declared.isdigit():
                # int() would take "-1" (a read until the client hangs up) or raise from the handler.
                self._answer(400, f"Content-Length must be the body's size in bytes, not {declared[:40]!r}")
                return
            length = int(declared)
            if length > _MAX_BODY:
                self._answer(413, "webhook message too large")
                return
            # Read apart from journaling: a client that hangs up or sends less than it declared is its own
            # fault, not the disk's (it started the "cannot write the journal" episode and got a 503).
            try:
                body = self.rfile.read(length)
            except TimeoutError:
                self._answer(400, f"the body ended before its Content-Length ({length} bytes)")
                return
            except OSError:  # the client is gone: nobody to answer
                self.close_connection = True
                return
            if len(body) < length:
                self._answer(400, f"the body has {len(body)} bytes, not its Content-Length {length}")
                return
            try:
                payload = json.loads(body or b"null", parse_int=_json_int)
                added, duplicates = notifier.accept(channel, target, payload)
            except OSError as error:  # disk full, read-only: Alertmanager re-sends on 5xx, duplicates collapse
                reason = error.strerror or str(error)
                notifier.journal_failed(reason)
                self._answer(503, f"cannot journal the alerts: {reason}; re-send them (those already journaled "
                                  "are collapsed)")
                return
            except RecursionError:  # json's decoder recurses once per level: a few thousand '[' exhaust it
                self._answer(400, "not an Alertmanager webhook message: JSON nested too deeply")
                return
            except (ValueError, BadPayload) as error:
                self._answer(400, f"not an Alertmanager webhook message: {error}")
                return
            notifier.journal_failed(None)
            self._answer(200, f"journaled {added}, collapsed {duplicates} duplicate(s)")

        def log_message(self, format: str, *args: object) -> None:  # the console is for people
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """One line in the log, not socketserver's traceback: a client that hangs up mid-answer is routine,
        anything else is worth a line naming it."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        print(f"notifier: request from {client_address[0]} failed: {type(error).__name__}: {error}",
              file=sys.stderr, flush=True)


def serve(config_path: Path | None, actions: list[tuple[str, str]] | None = None) -> None:
    """Load the settings and serve until SIGTERM/Ctrl-C: what ``hms-ops notifier --config FILE`` runs, and
    the stack's notifier that ``hms-ops up`` forks. Raises :class:`~hms_otel.notify.config.ConfigError`."""
    from hms_otel.notify.config import ConfigError, load

    config = load(config_path)
    if not config.token:
        raise ConfigError("the notifier needs a shared token: set HMS_NOTIFIER_TOKEN, "
                          "HMS_NOTIFIER_TOKEN_FILE or token_file in its config")
    run(config, actions)


def run(config: NotifierConfig, actions: list[tuple[str, str]] | None = None) -> None:
    """Serve until SIGTERM/Ctrl-C (``hms-ops notifier``)."""
    import signal

    notifier = Notifier(config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        notifier.serve()
    except OSError as error:  # a file (the journal) names its path; the socket has none
        what = (f"cannot use {safe_name(str(error.filename))}" if error.filename is not None
                else f"cannot listen on {config.host}:{config.port}")
        print(f"notifier: {what}: {error.strerror or error}", file=sys.stderr)
        sys.exit(1)
    except HmsError as error:  # another notifier writes this journal
        print(f"notifier: {safe_text(str(error))}", file=sys.stderr)
        sys.exit(1)
    _print(f"notifier: listening on http://{config.host}:{config.port}/v1/alerts "
           f"(journal {safe_name(str(notifier.journal.directory))})")
    for line in channel_report(config, actions or []):
        _print(f"notifier: {line}")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        notifier.close()
