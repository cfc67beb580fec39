"""training/services/broker.py on the transports other than Redis (Redis:
tests/training/services/test_jobs_service.py)."""
import json

from training.services.broker import broker_task_ids_present

TASK = "6f1c2a4e-0b7d-4c8e-9a51-2f3d4e5a6b7c"
OTHER = "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b"


def test_the_filesystem_broker_holds_the_messages_in_its_folder(settings, tmp_path):
    """`make run`'s broker: a waiting message is a file; one a worker took is gone."""
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    (tmp_path / f"1_{OTHER}.default.msg").write_text(json.dumps({"headers": {"id": TASK}, "body": "W10="}))
    (tmp_path / "notes.txt").write_text(OTHER)  # not a message file
    assert broker_task_ids_present(task_ids={TASK, OTHER}, queues=["default"]) == {TASK}
    assert broker_task_ids_present(task_ids=set(), queues=["default"]) == set()


def test_a_transport_that_cannot_be_inspected_answers_none(settings):
    """None means "cannot tell": the reaper then re-sends nothing rather than guess."""
    settings.CELERY_BROKER_URL = "amqp://guest@127.0.0.1//"
    assert broker_task_ids_present(task_ids={TASK}, queues=["default"]) is None
