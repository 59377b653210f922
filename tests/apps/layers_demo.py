"""Layer e2e app: a service that uses the five HMS layer libraries (and governance) and nothing of hms_otel.

Run under ``opentelemetry-instrument``: the hms-instrumentation-* packages add every contract metric.
Argv: STOP_FILE. Prints "ready" once all work is done, then keeps one ACT activity running and three
jobs queued (so activities_pending and job_queue_depth are non-zero) until STOP_FILE exists.
"""

import asyncio
import sys
import threading
import time
from pathlib import Path

from hms_a2a import Envelope, TransferError, Transport
from hms_ach import Batch, ClearingError, Clearinghouse, Payment
from hms_act import Orchestrator
from hms_esq import Case, ComplianceChecker
from hms_gov import Vetter
from hms_svc import Job, JobQueue, Worker

stop_file = Path(sys.argv[1])


class ActivityFailed(Exception):
    pass


def fail() -> None:
    raise ActivityFailed("signature missing")


# ACH: one batch with a payment over the limit and a duplicate; one empty batch that is refused.
house = Clearinghouse(limit_cents=1_000_000)
house.submit_batch(Batch("dmv", [Payment("p1", 500), Payment("p2", 5_000_000), Payment("p1", 500), Payment("p3", 100)]))
try:
    house.submit_batch(Batch("irs", []))
except ClearingError:
    pass

# SVC: five jobs, two fail; then three more wait in the queue.
queue = JobQueue("renewals")
for run in (int, int, int, lambda: {}["form"], lambda: 1 / 0):
    queue.put(Job("renewal", run))
Worker(queue).drain()
for _ in range(3):
    queue.put(Job("renewal", int))


# A2A: two envelopes delivered, one to an unreachable agency.
async def transfers() -> None:
    transport = Transport(["irs"])
    for envelope in (Envelope("e1", "dmv", "irs"), Envelope("e2", "dmv", "irs"), Envelope("e3", "dmv", "va")):
        try:
            await transport.send(envelope)
        except TransferError:
            pass


asyncio.run(transfers())

# ACT: one failing activity, one that stays running until the app stops.
orchestrator = Orchestrator()
try:
    orchestrator.run_activity("refund", fail)
except ActivityFailed:
    pass
release = threading.Event()
running = threading.Thread(target=orchestrator.run_activity, args=("renewal", release.wait))
running.start()

# ESQ: two checks; "adult" fails once, "resident" twice.
checker = ComplianceChecker({"adult": lambda c: c.facts["age"] >= 18, "resident": lambda c: c.facts["resident"]})
checker.check(Case("c1", {"age": 12, "resident": False}))
checker.check(Case("c2", {"age": 30, "resident": False}), check="benefits")

# Governance: one action denied.
vetter = Vetter({"spending": lambda action: action != "wire_transfer"})
vetter.vet("wire_transfer", "spending")
vetter.vet("ach_payment", "spending")

print("ready", flush=True)
while not stop_file.exists():
    time.sleep(0.2)
release.set()
running.join()
print("done", flush=True)
