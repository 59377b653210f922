"""Callables the engine tests hook, one per shape a target can have."""

from __future__ import annotations

import asyncio


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
