"""Stand-in for the HMS SVC (backend workers and job queues) layer library."""

from hms_svc.jobs import Job, JobQueue, Worker

__all__ = ["Job", "JobQueue", "Worker"]
