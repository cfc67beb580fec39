"""ProjectAnnotatorStats, kept by PostgreSQL triggers on annotation_label (migration 0006_scale_label_stats):
after every kind of write (import by COPY, ORM insert, update of a verdict, a move to another role, deletes of
labels and of items) it equals the labels grouped by (project, annotator, role); the pages that read it
(annotator names, the dashboard) give what grouping the labels gave, without reading every label."""
import pytest
from django.db import connection
from django.db.models import Count, Max, Min
from django.test.utils import CaptureQueriesContext

from annotation.models import Annotator, Item, Label, LabelRole, ProjectAnnotatorStats
from annotation.selectors.dashboard import project_dashboard
from annotation.selectors.identities import annotator_names_for
from tests.annotation.services.curation_data import curation_project

pytestmark = pytest.mark.django_db


def truth(project) -> dict:
    rows = (Label.objects.filter(item__project=project).values_list("annotator_id", "role")
            .annotate(n=Count("id"), first=Min("id"), last=Max("created_at")).order_by())
    return {(a, role): (n, first, last) for a, role, n, first, last in rows}


def kept(project) -> dict:
    return {(s.annotator_id, s.role): (s.n, s.first_label_id, s.last_at)
            for s in ProjectAnnotatorStats.objects.filter(project=project)}


def same(project) -> bool:
    """Counts and newest times exact; a first label that moved or went keeps its place (first id <= the truth's)."""
    have, want = kept(project), truth(project)
    return (have.keys() == want.keys() and all(have[k][0] == want[k][0] and have[k][2] == want[k][2]
                                               and have[k][1] <= want[k][1] for k in want))


def test_the_stats_follow_every_write_of_labels(user):
    project = curation_project(owner=user)  # imported by COPY
    assert kept(project) == truth(project) and len(kept(project)) >= 4  # exact after an import
    label = Label.objects.filter(item__project=project, role=LabelRole.ANNOTATION, kind="pairwise").first()
    new = Annotator.objects.create(name="late-comer", kind="human")
    Label.objects.create(item=label.item, annotator=new, kind="pairwise", winner="B")  # one ORM insert
    assert same(project)
    Label.objects.filter(pk=label.pk).update(winner="tie")  # a verdict changed: nothing moves
    assert same(project)
    Label.objects.filter(pk=label.pk).update(role=LabelRole.REVIEW)  # moved to another role
    assert same(project)
    Label.objects.filter(annotator=new).delete()  # the late-comer's only label: its row goes
    assert (new.pk, LabelRole.ANNOTATION) not in kept(project)
    Item.objects.filter(pk=label.item_id).delete()  # the item's labels go with it
    assert same(project)
    Label.objects.filter(item__project=project).update(created_at=label.created_at)  # times rewritten
    assert same(project)


def test_names_and_dashboard_read_the_stats_not_the_labels(user):
    project = curation_project(owner=user)
    names = annotator_names_for(project=project, user=None, visible=False)
    order = [a for a, _ in sorted(((a, min(v[1] for (b, _), v in truth(project).items() if b == a))
                                   for a in {a for a, _ in truth(project)}), key=lambda p: p[1])]
    assert list(names.shown) == order
    with CaptureQueriesContext(connection) as queries:
        dashboard = project_dashboard(project=project)
    counted = [q["sql"] for q in queries.captured_queries  # the per-annotator counts and the totals, as they were
               if 'MAX("annotation_label"."created_at")' in q["sql"] or 'COUNT("annotation_label"."id") FILTER' in q["sql"]
               or 'MIN("annotation_label"."id")' in q["sql"]]
    assert counted == [] and any("annotation_projectannotatorstats" in q["sql"] for q in queries.captured_queries)
    annotations = Label.objects.filter(item__project=project, role=LabelRole.ANNOTATION)
    assert dashboard.n_human_labels + dashboard.n_judge_labels == annotations.count()
    assert dashboard.n_resolved == Label.objects.filter(item__project=project, role=LabelRole.REVIEW).count()
    assert sum(a.labels for a in dashboard.annotators) == annotations.count()
