"""Notifier settings: a YAML file (``hms-ops notifier --config FILE``) and/or
the environment; the environment wins. Secrets live only here, never in alert
files.

.. code-block:: yaml

    listen: 127.0.0.1:9095
    token_file: /etc/hms-ops/secrets/notifier_token   # or token: ... (env HMS_NOTIFIER_TOKEN)
    state_dir: /var/lib/hms-notifier                  # journal/ and outbox.txt
    log_store: http://127.0.0.1:9428                  # VictoriaLogs, for the probable source
    sms:   {account_sid: AC..., auth_token_file: ..., from: "+15550100", base_url: https://api.twilio.com}
    slack: {webhook_url: https://hooks.slack.com/services/..., channels: {"#payments": https://...}}
    teams: {ops: https://...logic.azure.com/workflows/...}
    webhook: {allowed_hosts: [hooks.internal.example.gov]}
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hms_otel.errors import HmsError, Problem
from hms_otel.notify.addresses import ALLOW_VARIABLE, url_problem

DEFAULT_PORT = 9095


class ConfigError(HmsError, ValueError):
    """The notifier configuration is unusable; the message names the file (``file:line:col``) or variable."""


#: Every setting of the file: a text value, or a section of them. ``"urls"``: a mapping of names to
#: URLs; ``"hosts"``: a list of host names.
_TEXT, _URL, _URLS, _HOSTS = "text", "url", "urls", "hosts"
_SCHEMA: dict[str, Any] = {
    "listen": _TEXT, "token": _TEXT, "token_file": _TEXT, "state_dir": _TEXT, "log_store": _URL,
    "sms": {"account_sid": _TEXT, "auth_token": _TEXT, "auth_token_file": _TEXT, "from": _TEXT,
            "messaging_service_sid": _TEXT, "base_url": _URL},
    "slack": {"webhook_url": _URL, "channels": _URLS},
    "teams": _URLS,
    "webhook": {"allowed_hosts": _HOSTS},
}
#: Sections whose names are matched without case, as the alert files' ``teams:`` actions are.
_CASELESS = ("teams",)
_REFERENCE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_:-]*")


def _not_a_url(value: str) -> str | None:
    """Why a URL setting is refused, or ``None``: the delivery's own check (:func:`url_problem`), for the file
    and the environment alike. Taken, "https://" or a URL with a newline failed every message for a day
    before anyone saw it. The value is not shown: a webhook URL is a secret."""
    problem = url_problem(value.strip())  # the value is used stripped
    return None if problem is None else f"must be a URL starting with https:// or http:// ({problem})"


def _read_file(path: Path) -> dict[str, Any]:
    """The settings of ``path``, checked against :data:`_SCHEMA`: every problem (not UTF-8, a YAML
    error, a duplicate or unknown key, a value of the wrong kind, a ``${VAR}`` that nothing expands)
    at once, as ``file:line:col: message``."""
    from hms_otel import yamlfile  # the strict reader: no aliases (bombs), no duplicate keys, bounded size
    from hms_otel.errors import ProblemsError

    shown = str(path)
    try:
        root = yamlfile.read_bytes(yamlfile.read_file_bytes(path, shown, what="notifier config"), shown,
                                   what="notifier config")
    except ProblemsError as error:
        raise ConfigError(str(error)) from None
    if root is None:
        return {}
    problems: list[Problem] = []

    def text(node: yamlfile.Node, what: str, kind: str) -> str | None:
        try:
            value = yamlfile.text(node, what)
        except yamlfile.NodeError as error:
            problems.append(error.problem())
            return None
        reference = _REFERENCE.search(value)
        if reference:
            problems.append(Problem(node.location, f"{what}: {reference.group()}... is not expanded here; set the "
                                                   "environment variable the notifier reads (HMS_...) or use a "
                                                   "*_file setting"))
        elif kind == _URL and _not_a_url(value):
            problems.append(Problem(node.location, f"{what} {_not_a_url(value)}"))
        return value

    def mapping(node: yamlfile.Node, what: str) -> yamlfile.MapNode | None:
        if isinstance(node, yamlfile.MapNode):
            return node
        problems.append(Problem(node.location, f"{what} must be a mapping, not {node.describe()}"))
        return None

    def caseless(found: yamlfile.MapNode, what: str) -> None:
        """Names matched without case (``teams:OPS`` is ``teams:ops``): two that differ only in case were
        merged silently, the last one winning, so an alert went to the other channel's URL."""
        first: dict[str, tuple[str, yamlfile.Scalar]] = {}
        for key, (key_node, _value) in found.fields().items():
            name, earlier = first.setdefault(key.lower(), (key, key_node))
            if earlier is not key_node:
                problems.append(Problem(key_node.location, f"{what}.{key} is the same channel as {what}.{name} "
                                                           f"at line {earlier.location.line} (names are matched "
                                                           "without case); keep one"))

    def section(node: yamlfile.Node, schema: Any, what: str) -> Any:
        if isinstance(schema, dict):
            found = mapping(node, what)
            if found is None:
                return {}
            values: dict[str, Any] = {}
            for key, (key_node, value_node) in found.fields().items():
                if key not in schema:
                    known = ", ".join(schema)
                    problems.append(Problem(key_node.location, f"unknown setting {key!r} in {what} (known: {known})"))
                    continue
                values[key] = section(value_node, schema[key], f"{what}.{key}" if what != "the file" else key)
            return values
        if schema == _URLS:
            found = mapping(node, what)
            if found is None:
                return {}
            if what in _CASELESS:
                caseless(found, what)
            return {key: text(value, f"{what}.{key}", _URL) for key, (_key, value) in found.fields().items()}
        if schema == _HOSTS:
            if not isinstance(node, yamlfile.ListNode):
                problems.append(Problem(node.location, f"{what} must be a list of host names, "
                                                       "e.g. [hooks.example.gov]"))
                return []
            return [text(item, f"{what} entry", _TEXT) for item in node.items]
        return text(node, what, schema)

    data: dict[str, Any] = section(root, _SCHEMA, "the file")
    if problems:
        raise ConfigError("\n".join(str(problem) for problem in sorted(problems, key=lambda p: p.location)))
    return data


@dataclass(frozen=True)
class SmsSettings:
    account_sid: str = ""
    auth_token: str = ""
    sender: str = ""
    messaging_service_sid: str = ""
    base_url: str = "https://api.twilio.com"

    @property
    def configured(self) -> bool:
        return bool(self.account_sid and self.auth_token and (self.sender or self.messaging_service_sid))

    def half_set(self) -> tuple[list[str], list[str]]:
        """(the settings given, the ones missing) when SMS is set up only in part; two empty lists when it is
        set up whole or not at all."""
        settings = [("HMS_TWILIO_ACCOUNT_SID (sms.account_sid)", self.account_sid),
                    ("HMS_TWILIO_AUTH_TOKEN (sms.auth_token or sms.auth_token_file)", self.auth_token),
                    ("HMS_TWILIO_FROM or HMS_TWILIO_MESSAGING_SERVICE_SID (sms.from or sms.messaging_service_sid)",
                     self.sender or self.messaging_service_sid)]
        given = [name for name, value in settings if value]
        missing = [name for name, value in settings if not value]
        return (given, missing) if given and missing else ([], [])


@dataclass(frozen=True)
class NotifierConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: str = ""
    state_dir: Path = Path(".hms-ops/notifier")
    log_store: str = ""
    sms: SmsSettings = SmsSettings()
    slack_default: str = ""
    slack_channels: Mapping[str, str] = field(default_factory=dict)
    teams: Mapping[str, str] = field(default_factory=dict)
    webhook_allowed_hosts: tuple[str, ...] = ()
    #: Where each value came from, for messages ("HMS_TWILIO_AUTH_TOKEN", "notifier.yml").
    source: str = "environment"

    def destination(self, channel: str, target: str) -> str | None:
        """The configured endpoint for ``channel:target`` (``None``: printed locally)."""
        if channel == "sms":
            return self.sms.base_url if self.sms.configured else None
        if channel == "slack":
            return self.slack_channels.get(target) or self.slack_default or None
        if channel == "teams":
            return self.teams.get(target.lower()) or None
        if channel == "webhook":
            return target
        return None

    def how_to_configure(self, channel: str, target: str) -> str:
        if channel == "sms":
            return ("set HMS_TWILIO_ACCOUNT_SID, HMS_TWILIO_AUTH_TOKEN and HMS_TWILIO_FROM "
                    "(or sms: in the notifier config)")
        if channel == "slack":
            return f"set HMS_SLACK_WEBHOOK_URL or {slack_variable(target)} (or slack: in the notifier config)"
        if channel == "teams":
            return f"set {teams_variable(target)} to the channel's Workflows webhook URL"
        return ""


def slack_variable(channel: str) -> str:
    return "HMS_SLACK_" + re.sub(r"[^A-Z0-9]", "_", channel.lstrip("#").upper()) + "_WEBHOOK_URL"


def teams_variable(name: str) -> str:
    return "HMS_TEAMS_" + re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_URL"


def _secret(section: Mapping[str, Any], key: str, where: str) -> str:
    """``key`` or ``key_file`` (read from disk) of a config section."""
    if section.get(key):
        return str(section[key]).strip()
    path = section.get(f"{key}_file")
    if not path:
        return ""
    try:
        return _read_secret(Path(str(path)).expanduser())
    except OSError as error:
        raise ConfigError(f"{where}: {key}_file {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise ConfigError(f"{where}: {key}_file {path}: {error}") from None


#: A token or password is short; a larger file (or /dev/zero) is not the file meant, and is not read whole.
_MAX_SECRET_BYTES = 65_536


def _read_secret(path: Path) -> str:
    """The text of a secret file, stripped; ``ValueError`` says why it is not one."""
    with path.open("rb") as handle:
        data = handle.read(_MAX_SECRET_BYTES + 1)
    if len(data) > _MAX_SECRET_BYTES:
        raise ValueError(f"larger than {_MAX_SECRET_BYTES} bytes; a secret file holds only the secret")
    try:
        return data.decode("utf-8-sig").strip()
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text (byte 0x{data[error.start]:02x}); save the secret as UTF-8 text") from None


def _section(data: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    value = data.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: '{name}' must be a mapping")
    return value


def _is_url_variable(name: str) -> bool:
    return name in ("HMS_TWILIO_BASE_URL", "HMS_LOGSTORE_URL") or (
        name.startswith("HMS_SLACK_") and name.endswith("_WEBHOOK_URL")) or (
        name.startswith("HMS_TEAMS_") and name.endswith("_URL"))


def _check_url_variables(env: Mapping[str, str]) -> None:
    """A URL setting from the environment is checked as the file's are (:func:`_not_a_url`)."""
    wrong = []
    for name, value in sorted(env.items()):
        problem = _not_a_url(value) if _is_url_variable(name) and value.strip() else None
        if problem:
            wrong.append(f"{name} {problem}")
    if wrong:
        raise ConfigError("; ".join(wrong))


def load(path: Path | None = None, environ: Mapping[str, str] | None = None, *,
         read_token: bool = True) -> NotifierConfig:
    """Settings from ``path`` and the environment. ``read_token=False``: leave the notifier's own
    token unread (the alert compiler only needs to know where each channel goes)."""
    env = os.environ if environ is None else environ
    _check_url_variables(env)
    data: dict[str, Any] = {}
    where = "environment"
    if path is not None:
        where = str(path)
        data = _read_file(Path(path))

    def pick(variable: str, value: object) -> str:
        return (env.get(variable) or "").strip() or str(value or "").strip()

    listen = pick("HMS_NOTIFIER_LISTEN", data.get("listen") or f"127.0.0.1:{DEFAULT_PORT}")
    host, _, port_text = listen.rpartition(":")
    # isdigit() alone takes "²", which int() refuses.
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise ConfigError(f"{where}: listen {listen!r} must be HOST:PORT, e.g. 127.0.0.1:{DEFAULT_PORT}")
    token = (env.get("HMS_NOTIFIER_TOKEN") or "").strip()
    if read_token and not token and env.get("HMS_NOTIFIER_TOKEN_FILE"):
        token = _secret({"token_file": env["HMS_NOTIFIER_TOKEN_FILE"]}, "token", "HMS_NOTIFIER_TOKEN_FILE")
    if read_token and not token:
        token = _secret(data, "token", where)
    sms_data = _section(data, "sms", where)
    sms = SmsSettings(
        account_sid=pick("HMS_TWILIO_ACCOUNT_SID", sms_data.get("account_sid")),
        auth_token=(env.get("HMS_TWILIO_AUTH_TOKEN") or "").strip() or _secret(sms_data, "auth_token", where),
        sender=pick("HMS_TWILIO_FROM", sms_data.get("from")),
        messaging_service_sid=pick("HMS_TWILIO_MESSAGING_SERVICE_SID", sms_data.get("messaging_service_sid")),
        base_url=pick("HMS_TWILIO_BASE_URL", sms_data.get("base_url") or SmsSettings.base_url),
    )
    given, missing = sms.half_set()
    if missing:  # taken, every SMS was only printed on a console nobody reads, with one line at start
        raise ConfigError(f"{where}: SMS is set up only in part: {' and '.join(missing)} "
                          f"{'is' if len(missing) == 1 else 'are'} not set, though {' and '.join(given)} "
                          f"{'is' if len(given) == 1 else 'are'}. Set {'it' if len(missing) == 1 else 'them'}, "
                          "or unset them all to have SMS printed on the notifier's console")
    slack_data = _section(data, "slack", where)
    channels = {str(k): str(v) for k, v in (slack_data.get("channels") or {}).items()}
    for key, value in env.items():
        if key.startswith("HMS_SLACK_") and key.endswith("_WEBHOOK_URL") and key != "HMS_SLACK_WEBHOOK_URL":
            channels["#" + key[len("HMS_SLACK_"):-len("_WEBHOOK_URL")].lower().replace("_", "-")] = value.strip()
    teams = {str(k).lower(): str(v) for k, v in _section(data, "teams", where).items()}
    for key, value in env.items():
        if key.startswith("HMS_TEAMS_") and key.endswith("_URL") and value.strip():
            teams[key[len("HMS_TEAMS_"):-len("_URL")].lower().replace("_", "-")] = value.strip()
    allowed = [str(h) for h in (_section(data, "webhook", where).get("allowed_hosts") or [])]
    allowed += [h for h in (env.get(ALLOW_VARIABLE) or "").split(",") if h.strip()]
    return NotifierConfig(
        host=host or "127.0.0.1",
        port=int(port_text),
        token=token,
        state_dir=Path(pick("HMS_NOTIFIER_STATE", data.get("state_dir") or ".hms-ops/notifier")).expanduser(),
        log_store=pick("HMS_LOGSTORE_URL", data.get("log_store")),
        sms=sms,
        slack_default=pick("HMS_SLACK_WEBHOOK_URL", slack_data.get("webhook_url")),
        slack_channels=channels,
        teams=teams,
        webhook_allowed_hosts=tuple(allowed),
        source=where,
    )
