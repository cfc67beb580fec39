"""Job kinds: the registry (kind -> config dataclass, runner, queue) and the runners themselves.

The machinery that runs any job (Job rows, queues, progress, cancel, lost workers) is in
training/services/jobs.py; what one kind of job does is its runner, in training/jobs/runners/.
"""
from .registry import JobContext, JobType, UnknownJobKind, job_type, job_types, register

__all__ = ["JobContext", "JobType", "UnknownJobKind", "job_type", "job_types", "register"]
