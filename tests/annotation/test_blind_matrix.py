"""Blind projects are blind everywhere (issue 10, item 3): every page and endpoint, for every role.

A blind project holds labels by named people (imported annotators, a user labeling through the queue,
a reviewer's resolution) and by judges, curated into a dataset version with noise reasons and
competence statistics, and a job. Each URL of the urlconf is fetched as the project's reviewer and
annotator, who must never see a person's name, and as its owner, the control, who must see them all.
URL names come from the resolver: a new page or endpoint fails `test_every_url_is_in_the_matrix` until
it is added to COVERED (fetched) or EXEMPT (with the reason it cannot show an annotator).
"""
import io
import json
import re

import pyarrow.parquet as pq
import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from annotation.curation.noise import NoiseConfig
from annotation.models import Annotator, DatasetRow, DatasetVersion, Item, ItemFlag, Label, Project
from annotation.services.accounts import annotator_for_user
from annotation.services.curation import consensus_refresh
from annotation.services.datasets import dataset_version_create
from annotation.services.imports import data_import
from annotation.services.labeling import label_submit, queue_next
from annotation.services.projects import membership_set
from annotation.services.review import review_resolve
from training.models import JobKind
from training.services.jobs import job_start

pytestmark = pytest.mark.django_db

# Who must stay hidden: imported people, a user who labels through the queue (username and full name),
# and the reviewer who resolved an item.
IMPORTED = ("quokka-h", "wombat-h")
LABELER, LABELER_FULL = "numbat-labeler", "Nadia Numbatson"
RESOLVER = "ibis-resolver"
SECRETS = (*IMPORTED, LABELER, LABELER_FULL, RESOLVER)
JUDGES = ("judge-gpt", "judge-llama", "judge-qwen")  # models, not people: shown to everyone

PAIR = [{"text": "Paris is the capital of France."}, {"text": "Lyon, I believe."}]


def _records() -> list[dict]:
    """wombat-h disagrees with everyone on eight items, so its competence is low; with a strict competence
    threshold the winners rest on votes of "low-competence" quokka-h and the judges: noise reasons naming them."""
    records = []
    for i in range(8):
        labels = [{"annotator": name, "annotator_kind": "judge", "winner": "A", "probability": 0.9,
                   "swap_consistent": i != 0} for name in JUDGES]
        labels += [{"annotator": "quokka-h", "annotator_kind": "human", "winner": "A", "rationale": "A is right"},
                   {"annotator": "wombat-h", "annotator_kind": "human", "winner": "B"}]
        # Gold references on half the items: the reference scores name every annotator who voted on them.
        records.append({"id": f"p{i}", "kind": "pairwise", "prompt": f"Capital of France? ({i})",
                        "responses": PAIR, "labels": labels, **({"reference": {"winner": "A"}} if i % 2 else {})})
    records.append({"id": "alone", "kind": "pairwise", "prompt": "Only one opinion.", "responses": PAIR,
                    "labels": [{"annotator": "wombat-h", "annotator_kind": "human", "winner": "B"}]})
    records.append({"id": "open", "kind": "pairwise", "prompt": "Nobody yet.", "responses": PAIR})
    records.append({"id": "open-2", "kind": "pairwise", "prompt": "Nobody yet, again.", "responses": PAIR})
    records.append({"id": "rank", "kind": "listwise", "prompt": "Rank them.",
                    "responses": [{"text": "one"}, {"text": "two"}, {"text": "three"}],
                    "labels": [{"annotator": "quokka-h", "annotator_kind": "human", "ranking": [[0], [1], [2]]},
                               {"annotator": "wombat-h", "annotator_kind": "human", "ranking": [[2], [1], [0]]}],
                    "reference": {"ranking": [[0], [1], [2]]}})
    return records


@pytest.fixture
def world(django_user_model):
    """The blind project, its people, a version and a job; each viewer holds a lease (their task page)."""
    make = django_user_model.objects.create_user
    owner = make(username="owner-olga")
    data_import(project_slug="blind", fmt="native", user=owner,
                stream=io.BytesIO("".join(json.dumps(r) + "\n" for r in _records()).encode()))
    project = Project.objects.get(slug="blind")
    assert project.blind_review  # the default
    project.overlap = 4
    project.save(update_fields=["overlap"])
    viewers = {"owner": owner, "reviewer": make(username="rev-rita"), "annotator": make(username="ann-amy")}
    labeler = make(username=LABELER, first_name="Nadia", last_name="Numbatson")
    resolver = make(username=RESOLVER)
    for person, role in ((viewers["reviewer"], "reviewer"), (viewers["annotator"], "annotator"),
                         (labeler, "annotator"), (resolver, "reviewer")):
        membership_set(project=project, user=person, role=role)
    # The labeler labels the open item through the queue, with a rationale naming nobody.
    lease = queue_next(project=project, annotator=annotator_for_user(user=labeler))
    label_submit(assignment_id=lease.pk, annotator=lease.annotator, data={"winner": "B", "rationale": "shorter"})
    review_resolve(item=Item.objects.get(project=project, external_id="p1"), reviewer_user=resolver,
                   data={"winner": "A"}, note="A is the capital")
    version = dataset_version_create(project=project, config={"embeddings": False, "test_fraction": 0.5},
                                     user=owner)
    job = job_start(kind=JobKind.CURATE, config={}, project=project, user=owner)  # queued (sent on commit)
    # Noise reasons as curation stores them; a stricter refresh flags every winner carried by a weak vote.
    consensus_refresh(project=project, embeddings=False, noise_config=NoiseConfig(competence_min=0.99))
    leases = {role: queue_next(project=project, annotator=annotator_for_user(user=person))
              for role, person in viewers.items()}
    item = Item.objects.get(project=project, external_id="p0")
    label = Label.objects.get(item=item, annotator__name="quokka-h")
    return {"project": project, "viewers": viewers, "version": version, "job": job, "leases": leases,
            "item": item, "label": label}


def _check_the_world_names_people(world) -> None:
    """The fixture's own sanity: stored reasons and statistics refer to people, so the pages have something
    to hide (by token, never by name)."""
    reasons = " ".join(ItemFlag.objects.filter(item__project=world["project"]).values_list("reason", flat=True))
    quokka, wombat = (Annotator.objects.get(name=name).pk for name in IMPORTED)
    assert f"{{annotator:{quokka}}}" in reasons and not any(name in reasons for name in SECRETS)
    stats = json.dumps(DatasetVersion.objects.get(pk=world["version"].pk).stats)
    assert f"{{annotator:{wombat}}}" in stats and not any(name in stats for name in SECRETS)
    provenance = json.dumps(list(DatasetRow.objects.filter(version=world["version"]).values_list("provenance",
                                                                                                 flat=True)))
    assert "{annotator:" in provenance


# URL name -> how to fetch it: a list of (path kwargs, query string) built from the world.
def _covered(world) -> dict[str, list[tuple[dict, str]]]:
    slug, number = "blind", world["version"].number
    item, label, job = world["item"].pk, world["label"].pk, world["job"].pk
    project = {"slug": slug}
    exports = [f"format={fmt}&encoding={enc}&split=all" for fmt in ("trl", "raw_votes", "listwise")
               for enc in ("jsonl", "parquet")]
    return {
        # pages
        "project-list": [({}, "")],
        "labeling-queue": [(project, "")],
        "labeling-task": [(project | {"assignment_id": "LEASE"}, "")],
        "review-queue": [(project, "")],
        "review-item": [(project | {"item_id": i.pk}, "") for i in Item.objects.filter(project=world["project"])],
        "project-judges": [(project, "")],
        "project-dashboard": [(project, "")],
        "curation-agreement": [(project, ""), (project, "judges=1")],
        "curation": [(project, "")],
        "dataset-versions": [(project, "")],
        "dataset-version": [(project | {"number": number}, ""), (project | {"number": number}, "split=test")],
        "job-list": [({}, ""), ({}, "project=blind")],
        "job-detail": [({"job_id": job}, "")],
        "job-artifacts": [({"job_id": job}, "")],
        "job-artifact": [({"job_id": job, "path": "run.json"}, "")],
        "job-compare": [({}, f"ids={job}")],
        "job-start-train": [({}, "")],
        "job-start-generate": [({}, "")],
        "job-start-judge": [({}, "")],
        "job-start-evaluate": [({}, "")],
        "model-list": [({}, "")],
        "project-settings": [(project, "")],
        "project-members": [(project, "")],
        "import-upload": [({}, "")],
        "judge-templates": [(project, "")],
        # REST
        "api-projects": [({}, "")],
        "api-project": [(project, "")],
        "api-project-labels": [(project, "page_size=500")],
        "api-project-references": [(project, "")],
        "api-prompts": [({}, "page_size=500")],
        "api-prompt": [({"pk": world["item"].prompt_id}, "")],
        "api-responses": [({}, "page_size=500")],
        "api-response": [({"pk": world["item"].slots.first().response_id}, "")],
        "api-items": [({}, "page_size=500")],
        "api-item": [({"pk": item}, "")],
        "api-item-reference": [({"pk": i.pk}, "") for i in Item.objects.filter(project=world["project"])],
        "api-item-labels": [({"pk": i.pk}, "") for i in Item.objects.filter(project=world["project"])],
        "api-labels": [({}, "page_size=500")],
        "api-label": [({"pk": label}, "")],
        "api-review-queue": [(project, "page_size=500")],
        "api-datasets": [(project, "")],
        "api-dataset": [(project | {"number": number}, "")],
        "api-dataset-rows": [(project | {"number": number}, "page_size=500")],
        "api-dataset-export": [(project | {"number": number}, query) for query in exports],
        "api-jobs": [({}, "")],
        "api-job": [({"pk": job}, "")],
    }


# URL name -> why fetching it cannot show who labeled (a write that answers with the caller's own data,
# a redirect, or nothing project-specific). Their read-back counterparts are in COVERED.
EXEMPT = {
    "login": "the login form", "logout": "logs out",
    "schema": "the OpenAPI schema: no data", "api-docs": "Swagger UI: no data", "api-redoc": "ReDoc: no data",
    "labeling-next": "POST: redirects to the caller's own lease",
    "labeling-submit": "POST: stores the caller's own label, redirects",
    "labeling-skip": "POST: gives the caller's lease back", "labeling-refresh": "POST: extends the caller's lease",
    "review-resolve": "POST: stores the caller's resolution, redirects",
    "review-reference": "POST: owners set an item's reference (no labels), redirects to the review item (covered)",
    "curation-start": "POST: queues a job, redirects (the job pages are covered)",
    "curation-routing": "POST: queues a routing job and redirects to it (no annotators), for owners only",
    "job-start-diagnostic": "POST: staff only, a job of no project",
    "job-cancel": "POST: cancels", "model-register": "POST: registers a model",
    "judge-template-save": "POST: saves a template",
    "api-imports": "POST: imports; answers with counts and the names the caller's file brought",
    "api-project-next": "POST: the caller's own lease (item content, no labels)",
    "api-assignment-submit": "POST: answers with the caller's own label",
    "api-assignment-skip": "POST: the caller's own lease", "api-assignment-refresh": "POST: the caller's own lease",
    "api-review-resolve": "POST: answers with the caller's own resolution",
    "api-job-cancel": "POST: cancels",
    "api-token": "POST: the caller's own token",
    "api-import-run": "the caller's own import run (state and counts); only its creator may read it",
    "import-run": "the caller's own import run (state and counts); only its creator may read it",
    "project-settings-preview": "POST: the settings form's preview of the task page, for owners only",
    "project-member-add": "POST: owners only; redirects to the members page (covered)",
    "project-member-role": "POST: owners only; redirects to the members page (covered)",
    "project-member-remove": "POST: owners only; redirects to the members page (covered)",
}


def _url_names(patterns, prefix: str = "") -> set[str]:
    names = set()
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue  # staff only: Django's admin is not a project surface
            names |= _url_names(entry.url_patterns)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(entry.name)
    return names


def test_every_url_is_in_the_matrix(world):
    """A page or endpoint added later must be fetched here (COVERED) or say why it cannot leak (EXEMPT)."""
    names = _url_names(get_resolver().url_patterns)
    covered = set(_covered(world))
    assert not covered & set(EXEMPT)
    assert names - covered - set(EXEMPT) == set(), "add these URLs to the blind matrix"
    assert covered | set(EXEMPT) <= names, "the matrix names URLs that no longer exist"


def _body(response) -> str:
    """The text of a response; Parquet exports as the JSON of their rows, streamed bodies joined."""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith("application/vnd.apache.parquet"):
        return json.dumps(pq.read_table(io.BytesIO(raw)).to_pylist(), default=str)
    return raw.decode("utf-8", errors="replace")


def _fetch_all(client, world, role: str) -> dict[str, tuple[int, str]]:
    seen = {}
    for name, variants in _covered(world).items():
        for kwargs, query in variants:
            kwargs = {k: (world["leases"][role].pk if v == "LEASE" else v) for k, v in kwargs.items()}
            url = reverse(name, kwargs=kwargs) + (f"?{query}" if query else "")
            response = client.get(url)
            seen[url] = (response.status_code, _body(response))
    return seen


@pytest.mark.parametrize("role", ["reviewer", "annotator"])
def test_no_person_is_named_to_a_reviewer_or_an_annotator(client, world, role):
    _check_the_world_names_people(world)
    client.force_login(world["viewers"][role])
    seen = _fetch_all(client, world, role)
    leaks = {url: [name for name in SECRETS if name in body] for url, (_, body) in seen.items()}
    assert {url: names for url, names in leaks.items() if names} == {}
    # What the role may read did answer (a 403 everywhere would pass too), with the reasons rendered.
    status, items = seen["/api/items/?page_size=500"]
    assert status == 200 and "low-competence votes (" in items and "{annotator:" not in items
    assert re.search(r"annotator \d+ 0\.\d\d", items)  # a person's vote in a reason, by pseudonym
    if role == "reviewer":
        assert seen["/projects/blind/review/"][0] == seen["/api/projects/blind/labels/?page_size=500"][0] == 200


def test_owners_see_every_name_the_others_do_not(client, world):
    """The control: the same fetches as the owner show each person, so the matrix looks where names are."""
    client.force_login(world["viewers"]["owner"])
    seen = _fetch_all(client, world, "owner")
    failed = {url: status for url, (status, _) in seen.items() if status >= 500}
    assert failed == {}
    everything = "\n".join(body for _, body in seen.values())
    assert [name for name in (*IMPORTED, LABELER, RESOLVER) if name not in everything] == []
    agreement = seen["/projects/blind/agreement/"][1]
    assert all(name in agreement for name in IMPORTED)
    raw_votes = seen["/api/projects/blind/datasets/1/export/?format=raw_votes&encoding=jsonl&split=all"][1]
    assert all(name in raw_votes for name in (*IMPORTED, RESOLVER))


def test_judges_keep_their_names_for_everyone(client, world):
    client.force_login(world["viewers"]["reviewer"])
    labels = client.get("/api/projects/blind/labels/?page_size=500").json()["results"]
    shown = {row["annotator"] for row in labels}
    assert set(JUDGES) <= shown
    people = shown - set(JUDGES)
    assert people and all(name.startswith("annotator ") for name in people)
