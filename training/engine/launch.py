"""Run a trainer in a child process, under `accelerate launch` when a worker has several GPUs.

    python -m training.engine.launch SPEC.json                                    # one process
    accelerate launch --multi_gpu --num_processes 4 -m training.engine.launch SPEC.json   # one per GPU

SPEC.json (written by `launch_spec_write`): {"kind": a trainer's job kind (trainers/registry.py), e.g. "train_dpo",
"config": asdict(the trainer's config), "train_rows": path of a JSONL file, "test_rows": path, "model_path",
"output_dir", "noise_rate": float | null}. Every process runs the same engine function (accelerate's processes
share the work through the Trainer); only the main process (RANK 0) reports:

- `<output_dir>/progress.jsonl`: one JSON object per report: {"update": fraction, "message"} | {"metric": step,
  "values": {...}} | {"log": line}. The parent reads it as it grows and replays it into the job's Progress.
- `<output_dir>/result.json`: the TrainResult as JSON, written when the engine returns.
- `<output_dir>/CANCEL`: the parent creates it to ask for a stop; `check_cancelled()` in every process raises
  `Cancelled` once it exists, as the job row would.

Plain Python (no Django). `run_launched` is the parent side; the runner calls it when it sees > 1 CUDA device.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common.config import config_from_dict
from common.progress import Cancelled, Progress, check_metric_values, clamp_fraction

__all__ = ["trainer_for", "launch_command", "launch_spec_write", "run_launched", "result_dict", "main"]

PROGRESS_FILE, RESULT_FILE, CANCEL_FILE, SPEC_FILE, LOG_FILE = (
    "progress.jsonl", "result.json", "CANCEL", "launch.json", "launch.log")
POLL_SECONDS = 0.5  # how often the parent reads the progress file and checks for a cancel
STOP_GRACE_SECONDS = 60  # after CANCEL, how long the children get to stop at their next step before SIGKILL


def trainer_for(kind: str) -> tuple[type, Any]:
    """(config class, engine function) of a training job kind, from its TrainerSpec (trainers/registry.py).
    Imports torch and TRL: call it where a trainer runs, not at import time."""
    from .trainers.registry import trainer_entry, trainer_kinds, trainer_spec

    if kind not in trainer_kinds():
        raise ValueError(f"kind must be one of {', '.join(trainer_kinds())}, got {kind!r}")
    return trainer_spec(kind).config_class, trainer_entry(kind)


def launch_command(
    *, spec_path: Path, num_processes: int, cpu: bool = False, python: str = sys.executable
) -> list[str]:
    """The command line that runs the spec: plain python for one process, else `accelerate launch` with one
    process per GPU (`cpu`: accelerate's CPU mode, for checking the launch path on a machine without GPUs)."""
    if num_processes < 1:
        raise ValueError(f"num_processes must be >= 1, got {num_processes}")
    module = ["-m", "training.engine.launch", str(spec_path)]
    if num_processes == 1 and not cpu:
        return [python, *module]
    accelerate = str(Path(python).with_name("accelerate"))
    # Precision is the trainer's business (bf16 on GPUs that have it): accelerate's own flag is left unset there.
    mode = ["--cpu", "--mixed_precision", "no"] if cpu else ["--multi_gpu"]
    return [accelerate, "launch", *mode, "--num_processes", str(num_processes), "--num_machines", "1",
            "--dynamo_backend", "no", *module]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def launch_spec_write(
    *, kind: str, config: Any, train_rows: list[dict], test_rows: list[dict], model_path: str, output_dir: Path,
    noise_rate: float | None,
) -> Path:
    """Write the rows and SPEC.json into `output_dir` (created); returns the spec's path. A stale CANCEL or
    progress file of an earlier attempt is removed; checkpoints are kept (the engine resumes from them)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for name in (CANCEL_FILE, PROGRESS_FILE, RESULT_FILE):
        (output_dir / name).unlink(missing_ok=True)
    _write_jsonl(output_dir / "train_rows.jsonl", train_rows)
    _write_jsonl(output_dir / "test_rows.jsonl", test_rows)
    spec = {
        "kind": kind, "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config),
        "train_rows": str(output_dir / "train_rows.jsonl"), "test_rows": str(output_dir / "test_rows.jsonl"),
        "model_path": str(model_path), "output_dir": str(output_dir), "noise_rate": noise_rate,
    }
    path = output_dir / SPEC_FILE
    path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    return path


def run_launched(*, spec_path: Path, num_processes: int, progress: Progress, cpu: bool = False) -> dict[str, Any]:
    """Run the spec in child processes, replaying their reports into `progress`; returns result.json's dict.

    Cancel: `progress.check_cancelled()` raising makes this write CANCEL, give the children STOP_GRACE_SECONDS
    to stop, kill them if they have not, and re-raise. A child that fails raises RuntimeError with its log tail.
    """
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    output_dir = Path(spec["output_dir"])
    log_path = output_dir / LOG_FILE
    command = launch_command(spec_path=spec_path, num_processes=num_processes, cpu=cpu)
    progress.log("launching: " + " ".join(command))
    with log_path.open("ab") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    offset = 0
    try:
        while True:
            done = child.poll() is not None
            offset = _relay(output_dir / PROGRESS_FILE, offset, progress)
            if done:
                break
            progress.check_cancelled()
            time.sleep(POLL_SECONDS)
    except Cancelled:
        (output_dir / CANCEL_FILE).touch()
        try:
            child.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, 9)
            child.wait()
        raise
    except BaseException:
        os.killpg(child.pid, 9)  # the parent is going down: leave no training process behind
        child.wait()
        raise
    if child.returncode != 0:
        tail = "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])
        if (output_dir / CANCEL_FILE).exists():
            raise Cancelled("cancelled")
        raise RuntimeError(f"the training process exited with {child.returncode}:\n{tail}")
    return json.loads((output_dir / RESULT_FILE).read_text(encoding="utf-8"))


def _relay(path: Path, offset: int, progress: Progress) -> int:
    """Replay the complete lines of the progress file after byte `offset`; returns the new offset."""
    if not path.exists():
        return offset
    with path.open("rb") as source:
        source.seek(offset)
        chunk = source.read()
    end = chunk.rfind(b"\n") + 1  # a half-written last line waits for the next poll
    for line in chunk[:end].decode("utf-8").splitlines():
        event = json.loads(line)
        if "update" in event:
            progress.update(event["update"], event.get("message", ""))
        elif "metric" in event:
            progress.metric(event["metric"], **event["values"])
        elif "log" in event:
            progress.log(event["log"])
    return offset + end


class FileProgress:
    """The child side: a Progress that appends to progress.jsonl (main process only) and sees CANCEL."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = Path(output_dir)
        self.main = int(os.environ.get("RANK", "0")) == 0

    def _write(self, event: dict[str, Any]) -> None:
        if self.main:
            with (self.output_dir / PROGRESS_FILE).open("a", encoding="utf-8") as out:
                out.write(json.dumps(event) + "\n")

    def update(self, fraction: float, message: str = "") -> None:
        self._write({"update": clamp_fraction(fraction), "message": message})

    def metric(self, step: int, **values: float) -> None:
        self._write({"metric": int(step), "values": check_metric_values(step, values)})

    def log(self, line: str) -> None:
        self._write({"log": str(line)})

    def check_cancelled(self) -> None:
        if (self.output_dir / CANCEL_FILE).exists():
            raise Cancelled("cancelled")


def result_dict(result: Any) -> dict[str, Any]:
    """A TrainResult (or dict) as plain JSON values (paths as strings): what result.json and the job store."""
    data = dataclasses.asdict(result) if dataclasses.is_dataclass(result) else dict(result)
    return json.loads(json.dumps(data, default=str))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run SPEC.json's trainer in this process (one of accelerate's processes, or the only one)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m training.engine.launch SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    config_class, train = trainer_for(spec["kind"])
    output_dir = Path(spec["output_dir"])
    result = train(
        config_from_dict(config_class, spec["config"]),
        train_rows=_read_jsonl(Path(spec["train_rows"])), test_rows=_read_jsonl(Path(spec["test_rows"])),
        model_path=spec["model_path"], output_dir=output_dir, progress=FileProgress(output_dir),
        noise_rate=spec["noise_rate"],
    )
    if int(os.environ.get("RANK", "0")) == 0:
        tmp = output_dir / (RESULT_FILE + ".tmp")
        tmp.write_text(json.dumps(result_dict(result)), encoding="utf-8")
        tmp.replace(output_dir / RESULT_FILE)  # atomic: the parent never reads half a result
    return 0


if __name__ == "__main__":
    sys.exit(main())
