"""A name resolver that hangs is bounded by the attempt's deadline like the rest of the attempt: it held a
delivery worker, and the message, for as long as the resolver did (for good, if it never answered)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hms_otel.notify.alert import parse_webhook
from hms_otel.notify.delivery import Backoff
from hms_otel.notify.message import compose
from hms_otel.notify.providers import DeliveryFailed, JsonWebhook, attempt
from hms_otel.notify.server import _Guarded

from .test_delivery import webhook
from .test_provider_faults import notifier, post_until_given_up

HANGING = "hangs.example"


@pytest.fixture
def hanging_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """``getaddrinfo`` never answers for :data:`HANGING` until the test ends (then it fails, as a resolver
    that gives up would); other names and addresses are looked up as ever."""
    release = threading.Event()
    real = socket.getaddrinfo

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == HANGING and not kwargs.get("flags", 0) & socket.AI_NUMERICHOST:
            release.wait(60)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    try:
        yield release
    finally:
        release.set()


def _ends(send: Callable[[], None]) -> BaseException | None:
    """Run ``send`` inside a 0.3 s attempt on a thread; what it raised. Fails the test if it is still running long
    after the deadline (a generous bound, not a measurement)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            with attempt(0.3):
                send()
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(20)
    assert outcome, "the attempt was still resolving the name long after its deadline"
    return outcome[0]


def test_a_provider_whose_name_never_resolves_is_cut_at_the_attempts_deadline(
        hanging_resolver: threading.Event) -> None:
    event = parse_webhook(json.loads(webhook()))[0]
    failure = _ends(lambda: JsonWebhook().send(f"http://{HANGING}/hook", compose(event, None), event))
    assert isinstance(failure, DeliveryFailed) and failure.status is None and not failure.permanent, failure
    assert HANGING in failure.reason and "0.3 s" in failure.reason, failure.reason


def test_a_webhook_address_check_does_not_wait_on_a_hanging_resolver(hanging_resolver: threading.Event) -> None:
    """The webhook guard resolves the name (is it this machine?) before the post: with a bare getaddrinfo."""
    event = parse_webhook(json.loads(webhook()))[0]
    failure = _ends(lambda: _Guarded(()).send(f"http://{HANGING}/hook", compose(event, None), event))
    assert isinstance(failure, DeliveryFailed) and not failure.permanent, failure


def test_a_message_to_a_host_that_never_resolves_is_retried_and_given_up(
        tmp_path: Path, hanging_resolver: threading.Event) -> None:
    said: list[str] = []
    post_until_given_up(notifier(tmp_path, f"http://{HANGING}", said,
                                 Backoff(first_s=0.1, cap_s=0.2, max_age_s=1.0, attempt_s=0.3)), said)
    failing = [line for line in said if "failing" in line]
    assert len(failing) == 1 and f"{HANGING}" in failing[0] and "0.3 s" in failing[0], said
    assert "payment_latency_ms 2.9 s" in (tmp_path / "state" / "outbox.txt").read_text()


def test_names_and_addresses_still_resolve(tmp_path: Path) -> None:
    from hms_otel.notify.providers import resolve

    assert {info[4][0] for info in resolve("127.0.0.1", 80)} == {"127.0.0.1"}
    assert resolve("localhost", 80)
