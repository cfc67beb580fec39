"""The annotation app's Celery tasks are found by the worker's autodiscovery."""
from prefstudio.celery import app


def test_ping_is_discovered_and_answers():
    """`annotation.ping` is what the docs and the `make run` check send to a worker."""
    app.loader.import_default_modules()  # what a worker does at start: autodiscover the apps' tasks
    task = app.tasks["annotation.ping"]
    assert task.apply(args=["hello"]).get()["message"] == "hello"
