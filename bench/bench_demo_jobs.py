"""Every job kind on the demo, as `make run` ships it: the first-run setup and each demo job's time and outcome.

    .venv/bin/python bench/bench_demo_jobs.py          # about 15-30 min on 2 cores; BENCH_QUICK=1: a short subset

What it does, the way a newcomer's `make run` does: a fresh SQLite database in a temporary folder, `migrate`,
`load_demo`, `load_demo_models` (the demo chat model is built here: its time is part of a first run), then each
job kind with the config a form sends when every field keeps its default -- only the required choices are made
(project, model, dataset version) -- started with `job_start` and run with `job_run`, the code a worker runs.
Dataset versions come from curation runs with the default config (the listwise project's with `listwise_rows`,
which listwise training reads). One line per step to stdout:

    step                       state       seconds  CPU s  detail

CPU s: the process's CPU time for the step (vLLM's engine processes are not its waited-for children: for the
vllm generation step it is the client side only); on a busy machine it is the figure that compares.

The jobs and their order are those of the browser walk (tests/browser/test_demo_jobs.py), which starts them from
the forms through the shipped worker; its own per-job times are printed by `pytest -s`. The first line says the
machine's load average at the start, the last at the end.

The worker's process model (pool solo for vLLM, prefork for the rest) is tested in tests/training/test_vllm_worker.py
and tests/training/test_worker.py; here the jobs run in this process, so the figures are the jobs' own.
"""
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICK = os.environ.get("BENCH_QUICK") == "1"
# The demo chat model's training steps: the default is `make run`'s (100); BENCH_DEMO_STEPS=2 is the browser walk's.
STEPS = os.environ.get("BENCH_DEMO_STEPS")
# BENCH_ONLY=train_rm,evaluate: run only the jobs whose step name starts with one of these (setup always runs).
ONLY = tuple(s for s in os.environ.get("BENCH_ONLY", "").split(",") if s)
# As the shipped worker runs jobs (scripts/worker.sh): one torch thread per job unless set.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def setup(tmp: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="prefstudio.settings", DEBUG="1", SECRET_KEY="bench-only-secret",
        DATABASE_URL=f"sqlite:///{tmp / 'bench.sqlite3'}", CELERY_BROKER_URL="memory://",
        MODEL_DIR=str(tmp / "models"), ARTIFACT_DIR=str(tmp / "artifacts"), MEDIA_ROOT=str(tmp / "media"),
    )
    import django

    django.setup()


def cpu_seconds() -> float:
    """CPU time of this process and its waited-for children: what a job costs whatever the machine's load."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


CPU_AT_START = [0.0]


def line(step: str, state: str, seconds: float, detail: str = "") -> None:
    cpu = cpu_seconds()
    print(f"{step:<34} {state:<10} {seconds:8.1f} {cpu - CPU_AT_START[0]:8.1f}  {detail}", flush=True)
    CPU_AT_START[0] = cpu


def timed(step: str, fn):
    started = time.perf_counter()
    CPU_AT_START[0] = cpu_seconds()
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 -- a bench reports every step, failed or not
        line(step, "error", time.perf_counter() - started, f"{type(exc).__name__}: {exc}"[:200])
        return None
    line(step, "done", time.perf_counter() - started)
    return result


def run_job(step: str, kind: str, config: dict, *, project=None, version=None):
    from training.models import Job
    from training.services.jobs import job_run, job_start

    if ONLY and not step.startswith(ONLY):
        return None
    started = time.perf_counter()
    CPU_AT_START[0] = cpu_seconds()
    try:
        job = job_start(kind=kind, config=config, project=project, dataset_version=version)
    except Exception as exc:  # noqa: BLE001 -- refused at start: say why
        line(step, "refused", time.perf_counter() - started, f"{type(exc).__name__}: {exc}"[:200])
        return None
    job_run(job_id=job.pk, worker="bench")
    job = Job.objects.get(pk=job.pk)
    detail = (job.error.strip().splitlines() or [""])[-1][:160] if job.error else job.message[:160]
    line(step, job.state, time.perf_counter() - started, detail)
    return job


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        setup(Path(tmp))
        from django.core.management import call_command

        from annotation.models import Project
        from annotation.services.datasets import dataset_version_create
        from training.models import Job, JobKind, JobState, ModelArtifact

        print(f"load average {load_average()}, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
        print(f"{'step':<34} {'state':<10} {'seconds':>8} {'CPU s':>8}  detail")
        timed("migrate", lambda: call_command("migrate", verbosity=0))
        timed("load_demo", lambda: call_command("load_demo", verbosity=0, stdout=open(os.devnull, "w")))
        steps = ["--steps", STEPS] if STEPS else []
        timed("load_demo_models (builds demo-chat)",
              lambda: call_command("load_demo_models", *steps, stdout=open(os.devnull, "w")))
        model = {m.name: m.pk for m in ModelArtifact.objects.all()}
        project = {p.slug: p for p in Project.objects.all()}

        def version(slug: str, config: dict | None = None):
            return timed(f"curate {slug}", lambda: dataset_version_create(project=project[slug], config=config or {}))

        run_job("generate hf (lamp-demo)", JobKind.GENERATE, {"model_ids": [model["demo-chat (hf)"]]},
                project=project["lamp-demo"])
        run_job("generate vllm (lamp-demo)", JobKind.GENERATE, {"model_ids": [model["demo-chat (vllm)"]]},
                project=project["lamp-demo"])
        run_job("judge pairwise (pandalm-demo)", JobKind.JUDGE, {"model_id": model["demo-chat (hf)"]},
                project=project["pandalm-demo"])
        if not QUICK:
            run_job("judge listwise (qa-feedback-demo)", JobKind.JUDGE, {"model_id": model["demo-chat (hf)"]},
                    project=project["qa-feedback-demo"])
        hh = version("hh-demo")
        rm = run_job("train_rm all-MiniLM (hh-demo)", JobKind.TRAIN_RM,
                     {"base_model_id": model["all-MiniLM-L6-v2"]}, version=hh)
        run_job("train_dpo sigmoid (hh-demo)", JobKind.TRAIN_DPO, {"base_model_id": model["demo-chat (hf)"]},
                version=hh)
        if not QUICK:
            run_job("train_dpo robust (hh-demo)", JobKind.TRAIN_DPO,
                    {"base_model_id": model["demo-chat (hf)"], "loss": "robust"}, version=hh)
            thumbs = version("pandalm-thumbs-demo")
            run_job("train_kto (pandalm-thumbs-demo)", JobKind.TRAIN_KTO, {"base_model_id": model["demo-chat (hf)"]},
                    version=thumbs)
            qa = version("qa-feedback-demo", {"listwise_rows": True})  # listwise rows: what listwise training reads
            run_job("train_listwise (qa-feedback-demo)", JobKind.TRAIN_LISTWISE,
                    {"base_model_id": model["demo-chat (hf)"]}, version=qa)
        trained = ModelArtifact.objects.filter(produced_by=rm).first() if rm is not None else None
        if trained is not None:
            run_job("evaluate the reward model (hh-demo)", JobKind.EVALUATE, {"model_id": trained.pk}, version=hh)
        failed = Job.objects.exclude(state=JobState.SUCCEEDED).count()
        print(f"jobs: {Job.objects.count()}, not succeeded: {failed}; load average {load_average()}")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":  # vLLM's engine starts a process of its own: the guard keeps it from re-running this
    main()
