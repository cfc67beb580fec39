"""Fixtures for access, API and label tests: a project with one item of every kind, set up
through the real import service, and users in each role."""
import gzip
import io
import json
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from annotation.models import Item, Project
from annotation.services.accounts import api_token_get_or_create
from annotation.services.imports import data_import
from annotation.services.projects import membership_set

PASSWORD = "a-long-test-password"

# One item per kind in the native format, each already labeled by an imported annotator
# ("annotator1", no user account) so that label visibility has someone else's labels to hide.
NATIVE_ITEMS = [
    {
        "id": "pair-1", "kind": "pairwise", "prompt": "Name a prime number.",
        "responses": [{"text": "7 is prime.", "model": "m1"}, {"text": "9 is prime.", "model": "m2"}],
        "labels": [{"annotator": "annotator1", "annotator_kind": "human", "winner": "A", "strength": 2}],
    },
    {
        "id": "pair-2", "kind": "pairwise", "prompt": [{"role": "user", "content": "Say hi."}],
        "responses": [{"text": "Hi!", "model": "m1"}, {"text": "Hello there.", "model": "m2"}],
    },
    {
        "id": "rank-1", "kind": "listwise", "prompt": "Sort these answers.",
        "responses": [{"text": "first"}, {"text": "second"}, {"text": "third"}],
        "labels": [{"annotator": "annotator1", "annotator_kind": "human", "ranking": [[2], [0, 1]]}],
    },
    {
        "id": "edit-1", "kind": "edit", "prompt": "Fix the grammar.",
        "responses": [{"text": "He go to school."}],
        "labels": [{"annotator": "annotator1", "annotator_kind": "human", "edited_text": "He goes to school."}],
    },
    {
        "id": "thumb-1", "kind": "thumbs", "prompt": "Is this helpful?",
        "responses": [{"text": "Yes, here is how."}],
        "labels": [{"annotator": "judge-1", "annotator_kind": "judge", "thumbs": "up", "probability": 0.8}],
    },
]


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def hh_lines(path, n: int) -> bytes:
    """The first `n` lines of a real (gzipped) HH-RLHF file, as plain JSONL bytes."""
    with gzip.open(path, "rb") as stream:
        return b"".join(line for _, line in zip(range(n), stream))


@pytest.fixture
def project(user) -> Project:
    """'kinds': pairwise, listwise, edit and thumbs items, owned by `user` (ann)."""
    data_import(project_slug="kinds", fmt="native", stream=io.BytesIO(jsonl(NATIVE_ITEMS)), user=user)
    return Project.objects.get(slug="kinds")


@pytest.fixture
def items(project) -> dict[str, Item]:
    return {item.external_id: item for item in Item.objects.filter(project=project)}


@pytest.fixture
def make_user(django_user_model) -> Callable:
    def make(username: str, *, project: Project | None = None, role: str | None = None):
        # No password: these people sign in with force_login or a token, and hashing is slow.
        person = django_user_model.objects.create_user(username=username)
        if project is not None:
            membership_set(project=project, user=person, role=role or "annotator")
        return person

    return make


@pytest.fixture
def api() -> Callable[..., APIClient]:
    """api(user) → a client authenticated with the user's token; api() → an anonymous one."""

    def client_for(person=None) -> APIClient:
        client = APIClient()
        if person is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_get_or_create(user=person)}")
        return client

    return client_for
