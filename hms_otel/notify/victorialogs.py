"""Message counts from VictoriaLogs with one LogsQL query (``/select/logsql/query``).

The OTLP ingestion stores the resource attribute ``service.name`` and the
record's ``severity_number`` (13-16 warn, 17-24 error and fatal) as fields;
the body is ``_msg``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from hms_otel import http

#: Distinct messages fetched per lookup: enough to see a pattern among unique ids.
_LIMIT = 500
_TIMEOUT_S = 3.0


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _rfc3339(unix: float) -> str:
    return datetime.fromtimestamp(unix, timezone.utc).isoformat().replace("+00:00", "Z")


def counts_query(service: str, layer: str) -> str:
    layer_filter = f" hms.layer:={_quote(layer)}" if layer else ""
    return (f"service.name:={_quote(service)}{layer_filter} severity_number:>=13"
            f" | stats by (_msg) count() as n | sort by (n desc) | limit {_LIMIT}")


class VictoriaLogsCounts:
    def __init__(self, url: str, timeout: float = _TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def message_counts(self, service: str, layer: str, start: float, end: float) -> list[tuple[str, int]]:
        body = http.request("POST", self.url + "/select/logsql/query",
                            data=_form({"query": counts_query(service, layer), "start": _rfc3339(start),
                                        "end": _rfc3339(end)}),
                            headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=self.timeout)
        rows = []
        for line in body.decode(errors="replace").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            rows.append((str(row.get("_msg", "")), int(row.get("n", 0))))
        return rows


def _form(fields: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()
