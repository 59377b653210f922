"""Callables the engine tests hook, one per shape a target can have."""

from __future__ import annotations

import asyncio
import functools


class PriceError(Exception):
    pass


def price(item: str, quantity: int = 1, *, currency: str = "USD") -> float:
    """Price of ``quantity`` items."""
    if quantity < 0:
        raise PriceError("negative quantity")
    return 2.5 * quantity


async def fetch(agency: str, delay: float = 0.0) -> dict[str, str]:
    """Fetch a record from ``agency``."""
    await asyncio.sleep(delay)
    if agency == "down":
        raise ConnectionError(agency)
    return {"agency": agency, "status": "ok"}


def _plain_decorator(function):
    """A sync decorator of the kind many code bases have: the async function behind it looks plain."""

    @functools.wraps(function)
    def call(*args, **kwargs):
        return function(*args, **kwargs)

    return call


@_plain_decorator
async def fetch_decorated(agency: str, delay: float = 0.0) -> dict[str, str]:
    """``fetch`` behind a sync decorator: ``inspect.iscoroutinefunction`` says False."""
    return await fetch(agency, delay)


def interrupt() -> None:
    """Ctrl-C arriving while it runs."""
    raise KeyboardInterrupt


def rows(count: int):
    """A generator function: calling it runs none of its body."""
    yield from range(count)


async def stream(count: int):
    """An async generator function."""
    for row in range(count):
        yield row


class Desk:
    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[str] = []

    def __len__(self) -> int:
        return len(self.items)

    def handle(self, request: dict[str, str], *extra: str, **options: str) -> str:
        return f"{self.name}:{request['kind']}"

    @staticmethod
    def normalise(text: str) -> str:
        return text.strip().lower()

    @classmethod
    def open(cls, name: str) -> Desk:
        return cls(name)


class FrontDesk(Desk):
    """Inherits ``handle``: hooking FrontDesk.handle must not touch Desk.handle."""


def wait_for(started, release, lane: str) -> str:
    """Block until ``release`` is set; ``started`` tells the test we are inside."""
    started.set()
    if not release.wait(10):
        raise TimeoutError(lane)
    if lane == "fail":
        raise RuntimeError(lane)
    return lane


class Slotted:
    """No ``__dict__``: a method of an instance of it cannot be wrapped in place."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def greet(self) -> str:
        return f"hello {self.name}"


SLOTTED = Slotted("desk")
