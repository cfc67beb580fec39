"""Job kinds: the registry (kind -> config dataclass, runner, queue) and the runners themselves.

The machinery that runs any job (Job rows, queues, progress, cancel, lost workers) is in
training/services/jobs.py; what one kind of job does is its runner, in training/jobs/runners/.

Import from the modules themselves (`training.jobs.registry`): this package re-exports nothing, because
the registry imports `training.jobs.runners` through it, and a re-export here would make the two a cycle.
"""
