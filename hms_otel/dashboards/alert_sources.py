"""The probable source of each alert, as the notifier found it, for the dashboard's alert list.

The notifier looks the source up once per alert (:class:`hms_otel.notify.source.ProbableSource`)
and keeps it in its journal with the message it sent. This module only copies what the journal
holds into ``alert-sources.json`` beside the page, so the page shows the text the on-call person
received, reads it from the same origin, and nothing computes a source a second time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hms_otel.notify.journal import Journal
from hms_otel.notify.message import render_template
from hms_otel.outputs import write_atomically

FILE_NAME = "alert-sources.json"


def firing_sources(journal_dir: Path | None) -> list[dict[str, Any]]:
    """One entry per firing alert with a source: its labels, when it started, the source text and
    the alert's message as the notifier worded it (``3 s``, where Prometheus' annotation says ``3.003k ms``).

    An alert sent on several channels has one text per channel, shortened to fit each; the
    longest source and the longest message are kept. Sorted so an unchanged journal gives an unchanged file.
    """
    if journal_dir is None or not journal_dir.is_dir():
        return []
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in Journal(journal_dir).entries():
        event = entry.alert()
        source = (entry.message or {}).get("source")
        if not event.firing or not source:
            continue
        key = (event.fingerprint or event.name, event.starts_at)
        # The page has room for the whole message; a text the notifier sent may be cut to fit an SMS.
        body = " ".join(render_template(event.message_template, event).split()) or (entry.message or {}).get("body", "")
        known = found.setdefault(key, {"labels": dict(event.labels), "starts_at": event.starts_at, "source": "",
                                       "message": ""})
        # Each channel's source is cut to fit it (an SMS drops the end): the longest is the whole.
        if len(source) > len(known["source"]):
            known["source"] = source
        if len(body) > len(known["message"]):
            known["message"] = body
    return sorted(found.values(), key=lambda item: (item["starts_at"], json.dumps(item["labels"], sort_keys=True)))


def write_sources(directory: Path, journal_dir: Path | None) -> bool:
    """(Re)write ``alert-sources.json`` in ``directory`` when it changed; whether it did.

    ``journal_dir`` ``None`` (a stack without notifier) writes an empty list: the page always finds the file.
    """
    text = json.dumps({"alerts": firing_sources(journal_dir)}, indent=1, sort_keys=True)
    # Never read back whole: a pipe or a device put there would hang or fill memory (write_atomically).
    return write_atomically(directory / FILE_NAME, text)  # a page loading now reads a whole file
