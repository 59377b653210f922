"""Named job queues and the workers that drain them."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    kind: str
    run: Callable[[], Any]


class JobQueue:
    def __init__(self, name: str) -> None:
        self.name = name
        self._jobs: deque[Job] = deque()
        self._lock = threading.Lock()

    def put(self, job: Job) -> None:
        with self._lock:
            self._jobs.append(job)

    def get(self) -> Job | None:
        with self._lock:
            return self._jobs.popleft() if self._jobs else None

    def __len__(self) -> int:
        return len(self._jobs)


class Worker:
    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue

    def run_job(self, job: Job) -> Any:
        """Run one job; its exception propagates to the caller."""
        return job.run()

    def drain(self) -> tuple[int, int]:
        """Run every queued job; return (succeeded, failed)."""
        ok = failed = 0
        while (job := self.queue.get()) is not None:
            try:
                self.run_job(job)
                ok += 1
            except Exception:
                failed += 1
        return ok, failed
