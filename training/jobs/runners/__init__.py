"""One module per job kind (or a few), each registering its runner with `training.jobs.registry.register`.

Every module in this package is imported by `training.jobs.registry.autodiscover()`; keep them cheap to import
(heavy libraries are imported inside the runner function).
"""
