"""Plain-Python pieces that both apps use: no Django, no imports from `annotation` or `training`.

- `common.progress`: the Progress protocol a long-running piece of work reports through (a job's row, a file, or
  nothing), and `Cancelled`.
- `common.config`: JSON -> a config dataclass, with `ConfigError` naming the field at fault.

`annotation` and `training` may import this package; it imports neither (tests/test_architecture.py checks).
"""
