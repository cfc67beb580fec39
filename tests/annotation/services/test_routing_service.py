"""Routing: rules / random / learned under a budget, the queue it feeds, and routed disagreements."""
from io import StringIO

import pytest
from django.core.management import call_command

from annotation.errors import PrefStudioError
from annotation.models import Item, ItemConsensus, ItemFlag, Route, RoutingDecision
from annotation.selectors.labeling import queue_status
from annotation.selectors.review import review_queue
from annotation.services.accounts import annotator_for_user
from annotation.services.curation import consensus_refresh
from annotation.services.labeling import label_submit, queue_next
from annotation.services.review import review_resolve
from annotation.services.routing import routing_run
from tests.annotation.services.curation_data import human, import_records, item, judge, pair

pytestmark = pytest.mark.django_db

# Rules score (annotation.curation.routing): 8·no judge + 4·swap-inconsistent + 2·judges disagree + uncertainty.
ROUTABLE = [
    pair("sure", [judge("A", 0.95)]),                                  # 0.1
    pair("swap", [judge("A", 0.7, swap=False)]),                       # 4 + 0.6
    pair("unsure", [judge("A", 0.55)]),                                # 0.9
    pair("unjudged", []),                                              # 8 + 1
    pair("judges-split", [judge("A", 0.9), judge("B", 0.2, name="judge-panda")]),  # 2 + 0.9
]
EXPECTED_RULES_ORDER = ["unjudged", "swap", "judges-split", "unsure", "sure"]


def trained(i: int) -> dict:
    """Items with both labels: the judge is wrong exactly when it is unsure (P(A) near 0.5)."""
    unsure = i % 2 == 0
    return pair(f"train-{i}", [human("alice", winner="B" if unsure else "A"),
                               judge("A", 0.52 + i / 200 if unsure else 0.97 - i / 200)])


@pytest.fixture
def project(user):
    return import_records(owner=user, slug="rt", records=ROUTABLE)


def _routes(project) -> dict[str, str]:
    return dict(Item.objects.filter(project=project).values_list("external_id", "route"))


def _run(project, **options):
    return routing_run(project=project, **{"embeddings": False, **options})


@pytest.mark.parametrize("k", [1, 2, 3])
def test_rules_send_the_top_k_by_rule_score_to_people(project, k):
    result = _run(project, policy="rules", budget_count=k)
    humans = {eid for eid, route in _routes(project).items() if route == Route.HUMAN}
    assert humans == set(EXPECTED_RULES_ORDER[:k])
    assert (result["items"], result["budget"], result["human"], result["ai"]) == (5, k, k, 5 - k)
    decisions = RoutingDecision.objects.filter(project=project)
    assert decisions.count() == 5 and decisions.values("run_id").distinct().count() == 1
    swap = decisions.get(item__external_id="swap")
    assert swap.predicted_gain == pytest.approx(4.6) and swap.features["judge_swap_consistency"] == 0.0
    assert "swapped" in swap.reason and swap.policy == "rules" and swap.budget == k


def test_the_labeling_queue_hands_out_only_items_routed_to_people(project, user):
    _run(project, policy="rules", budget_fraction=0.4)  # 2 of 5
    status = queue_status(project=project, annotator=annotator_for_user(user=user))
    assert status.mine_left == 2 and status.project_left == 2


def test_an_item_someone_holds_a_lease_on_is_not_routed_again(project, user):
    _run(project, policy="all_human")
    lease = queue_next(project=project, annotator=annotator_for_user(user=user))
    result = _run(project, policy="ai_only")
    assert result["items"] == 4 and _routes(project)[lease.item.external_id] == Route.HUMAN


def test_random_routing_meets_the_budget_exactly_and_repeats_with_its_seed(project):
    first = _run(project, policy="random", budget_fraction=0.4, seed=5)
    picked = _routes(project)
    second = _run(project, policy="random", budget_fraction=0.4, seed=5)
    assert first["human"] == second["human"] == 2 and _routes(project) == picked
    assert first["run_id"] != second["run_id"] and RoutingDecision.objects.count() == 10


def test_all_human_and_ai_only_send_everything_one_way(project):
    assert _run(project, policy="ai_only")["human"] == 0
    assert set(_routes(project).values()) == {Route.AI}
    assert _run(project, policy="all_human")["human"] == 5
    assert set(_routes(project).values()) == {Route.HUMAN}


def test_the_projects_own_policy_and_budget_are_the_defaults(project):
    project.routing_policy, project.human_budget_count = "rules", 1
    project.save()
    assert _run(project)["human"] == 1 and _routes(project)["unjudged"] == Route.HUMAN


def test_a_budget_is_required_and_must_be_one_kind(project):
    with pytest.raises(PrefStudioError, match="budget") as caught:
        _run(project, policy="random")
    assert caught.value.field == "budget_fraction"
    with pytest.raises(PrefStudioError, match="not both"):
        _run(project, policy="random", budget_fraction=0.5, budget_count=1)
    with pytest.raises(PrefStudioError) as caught:
        _run(project, policy="dice", budget_count=1)
    assert caught.value.field == "policy"
    assert not RoutingDecision.objects.exists()


def test_learned_routing_says_clearly_when_too_few_items_have_both_labels(project):
    with pytest.raises(PrefStudioError, match="this project has 0, it needs at least 10") as caught:
        _run(project, policy="learned", budget_count=2)
    assert caught.value.field == "policy" and caught.value.status_code == 400


def test_learned_routing_trains_on_items_with_both_labels_and_routes_the_others(user):
    project = import_records(owner=user, slug="learn", records=ROUTABLE + [trained(i) for i in range(20)])
    result = _run(project, policy="learned", budget_count=2)
    assert result["model"]["training_items"] == 20 and result["items"] == 5
    gains = dict(RoutingDecision.objects.filter(project=project).values_list("item__external_id", "predicted_gain"))
    assert set(gains) == {e["id"] for e in ROUTABLE}  # items people labeled already are not re-routed
    # The judge is wrong where it is unsure: the unsure item gains more from a person than the sure one.
    assert gains["unsure"] > gains["sure"]
    assert _routes(project)["train-0"] == Route.PENDING


def test_a_project_with_nothing_left_to_route_gives_an_empty_run(user):
    project = import_records(owner=user, slug="done", records=[trained(i) for i in range(12)])
    result = _run(project, policy="learned", budget_fraction=0.5)
    assert (result["items"], result["human"], result["budget"]) == (0, 0, 0)
    assert result["model"]["training_items"] == 12 and not RoutingDecision.objects.exists()


def test_a_person_disagreeing_with_the_judges_on_a_routed_item_sends_it_to_review(project, user, make_user):
    _run(project, policy="rules", budget_count=2)  # "unjudged" and "swap" (judges: A)
    annotator = annotator_for_user(user=user)
    seen = []
    while (lease := queue_next(project=project, annotator=annotator)) is not None:
        seen.append(lease.item.external_id)
        label_submit(assignment_id=lease.pk, annotator=annotator, data={"winner": "B"})
    assert sorted(seen) == ["swap", "unjudged"]
    flag = ItemFlag.objects.get(name="routing:disagreement")
    assert flag.item.external_id == "swap"  # "unjudged" has no judge verdict to disagree with
    assert flag.reason == "routed to people, who said B ×1; the AI judges said A ×1" and flag.value == 1.0
    queue = {e.item.external_id: [r.detail for r in e.reasons] for e in review_queue(project=project)}
    assert queue == {"swap": [flag.reason]}
    # The reviewer's resolution is the gold label the consensus then uses.
    rita = make_user("rita", project=project, role="reviewer")
    review_resolve(item=item(project, "swap"), reviewer_user=rita, data={"winner": "B"}, note="B is right.")
    consensus_refresh(project=project, method="dawid_skene", embeddings=False)
    swap = ItemConsensus.objects.get(item=item(project, "swap"))
    assert (swap.winner, swap.source) == ("B", "gold")
    assert "swap" not in {e.item.external_id for e in review_queue(project=project)}  # final now


def test_a_person_agreeing_with_the_judges_raises_no_flag(project, user):
    _run(project, policy="all_human")
    annotator = annotator_for_user(user=user)
    while (lease := queue_next(project=project, annotator=annotator)) is not None:
        label_submit(assignment_id=lease.pk, annotator=annotator, data={"winner": "A"})
    assert not ItemFlag.objects.filter(name="routing:disagreement").exists()


def test_the_route_command(project):
    out = StringIO()
    call_command("route", "rt", "--policy", "rules", "--budget", "2", "--no-embeddings", stdout=out)
    assert out.getvalue().startswith("rt: policy rules, 5 items, budget 2 → 2 to people, 3 to the AI judges")
    call_command("route", "rt", "--policy", "random", "--budget", "0.2", "--no-embeddings", stdout=out)
    assert "budget 1 → 1 to people" in out.getvalue()
