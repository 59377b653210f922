"""SvcInstrumentor on the hms_svc stand-in: queue depth observed at collection, job failures counted."""

from __future__ import annotations

import gc
import inspect

from hms_instrumentation_svc import SvcInstrumentor
from hms_svc import Job, JobQueue, Worker

from hms_otel.hooks.testing import HookTestBase, wrapped_under_auto_instrumentation

ORIGINALS = {"__init__": JobQueue.__dict__["__init__"], "run_job": Worker.__dict__["run_job"]}


def boom() -> None:
    raise KeyError("missing form")


class TestSvcInstrumentation(HookTestBase):
    def setUp(self) -> None:
        super().setUp()
        SvcInstrumentor().instrument()

    def tearDown(self) -> None:
        SvcInstrumentor().uninstrument()
        super().tearDown()

    def test_contract_metrics(self) -> None:
        renewals, refunds = JobQueue("renewals"), JobQueue("refunds")
        for job in (Job("ok", lambda: 1), Job("bad", boom), Job("bad", lambda: 1 / 0), Job("ok", lambda: 2)):
            renewals.put(job)
        refunds.put(Job("ok", lambda: 3))
        self.assertEqual(self.value("job_queue_depth", queue="renewals"), 4)

        self.assertEqual(Worker(renewals).drain(), (2, 2))
        with self.assertRaises(KeyError):
            Worker(refunds).run_job(Job("bad", boom))
        self.assertEqual(Worker(refunds).run_job(refunds.get()), 3)

        for name in ("job_queue_depth", "job_fail_total"):
            self.assert_contract(name)
        self.assertEqual(self.value("job_queue_depth", queue="renewals"), 0)
        self.assertEqual(self.value("job_queue_depth", queue="refunds"), 0)
        self.assertEqual(self.value("job_fail_total", queue="renewals", **{"error.type": "KeyError"}), 1)
        self.assertEqual(self.value("job_fail_total", queue="renewals", **{"error.type": "ZeroDivisionError"}), 1)
        self.assertEqual(self.value("job_fail_total", queue="refunds", **{"error.type": "KeyError"}), 1)

    def test_queues_are_held_weakly(self) -> None:
        kept, dropped = JobQueue("kept"), JobQueue("dropped")
        kept.put(Job("x", int))
        dropped.put(Job("y", int))
        del dropped
        gc.collect()
        self.assertEqual(set(self.points("job_queue_depth")), {frozenset({("queue", "kept")})})

    def test_depth_is_not_read_on_the_hot_path(self) -> None:
        reads = []

        class CountingQueue(JobQueue):
            def __len__(self) -> int:
                reads.append(1)
                return super().__len__()

        queue = CountingQueue("counted")
        for _ in range(100):
            queue.put(Job("x", int))
            Worker(queue).drain()
        self.assertEqual(reads, [])
        self.value("job_queue_depth", queue="counted")
        self.assertEqual(len(reads), 1)

    def test_callable_is_unchanged(self) -> None:
        self.assertIs(Worker.__dict__["run_job"].__wrapped__, ORIGINALS["run_job"])
        self.assertEqual(inspect.signature(Worker.run_job), inspect.signature(ORIGINALS["run_job"]))
        self.assertEqual(
            inspect.signature(JobQueue),
            inspect.signature(JobQueue.__init__.__wrapped__).replace(
                parameters=list(inspect.signature(JobQueue.__init__.__wrapped__).parameters.values())[1:]
            ),
        )
        self.assertEqual(Worker.run_job.__doc__, ORIGINALS["run_job"].__doc__)

    def test_instrumentation_errors_never_reach_the_caller(self) -> None:
        class Nameless:
            pass

        worker = Worker(Nameless())  # no .name: the queue attribute cannot be read
        with self.assertLogs("hms_otel.hooks", "WARNING") as logs:
            for _ in range(2):
                with self.assertRaises(KeyError):
                    worker.run_job(Job("bad", boom))
        self.assertEqual(len(logs.records), 1)
        self.assertEqual(self.value("job_fail_total", **{"error.type": "KeyError"}), 2)

    def test_uninstrument_restores_the_originals(self) -> None:
        SvcInstrumentor().uninstrument()
        self.assertIs(JobQueue.__dict__["__init__"], ORIGINALS["__init__"])
        self.assertIs(Worker.__dict__["run_job"], ORIGINALS["run_job"])
        queue = JobQueue("after")
        queue.put(Job("bad", boom))
        Worker(queue).drain()
        # Nothing recorded: only the counter started at 0 by instrument() is there.
        self.assertEqual([p.value for m in self.get_sorted_metrics() for p in m.data.data_points], [0])
        SvcInstrumentor().instrument()


def test_disabled_by_otel_python_disabled_instrumentations() -> None:
    targets = ["hms_svc.jobs:Worker.run_job", "hms_ach.clearing:Clearinghouse.submit_batch"]
    disabled = wrapped_under_auto_instrumentation(targets, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="hms_svc")
    assert disabled == {targets[0]: False, targets[1]: True}
