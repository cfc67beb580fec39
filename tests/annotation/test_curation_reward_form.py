"""The curation form offers the registered reward models as ensemble members (CurationConfig.reward_models)."""
import pytest

from tests.annotation.review_data import review_project
from training.models import ArtifactKind, Job, ModelArtifact

pytestmark = pytest.mark.django_db


def test_the_form_offers_reward_models_and_starts_the_job_with_the_chosen_ones(client, user):
    review_project(owner=user)
    client.force_login(user)
    html = client.get("/projects/rev/curation/").content.decode()
    assert 'name="reward_models"' not in html and "None registered yet." in html
    rm = ModelArtifact.objects.create(name="rm-job7", kind=ArtifactKind.REWARD, backend="hf", location="/models/rm")
    ModelArtifact.objects.create(name="a-policy", kind=ArtifactKind.BASE, backend="hf", location="/models/p")
    html = client.get("/projects/rev/curation/").content.decode()
    assert f'name="reward_models" value="{rm.pk}"' in html and "rm-job7" in html and "a-policy" not in html
    response = client.post("/projects/rev/curation/run/", {
        "method": "majority", "sources": ["human"], "ties": "drop", "listwise_pairs": "none", "test_fraction": "0",
        "seed": "0", "downweight": "0", "min_weight": "0.1", "reward_models": [str(rm.pk)],
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    config = Job.objects.get().config
    assert config.get("curation", config)["reward_models"] == [rm.pk]
    bad = client.post("/projects/rev/curation/run/", {
        "method": "majority", "sources": ["human"], "ties": "drop", "listwise_pairs": "none", "test_fraction": "0",
        "seed": "0", "downweight": "0", "min_weight": "0.1", "reward_models": ["999999"],
    })
    assert bad.status_code == 400 and Job.objects.count() == 1
