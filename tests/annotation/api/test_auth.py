"""API tokens: POST /api/auth/token/ (throttled), expiry after API_TOKEN_MAX_AGE, revocation on password change."""
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.services.accounts import api_token_get_or_create

PASSWORD = "a-long-test-password"
URL = "/api/auth/token/"

pytestmark = pytest.mark.django_db


def get_token(client: APIClient, password: str = PASSWORD, username: str = "ann"):
    return client.post(URL, {"username": username, "password": password}, format="json")


def projects(key: str):
    return APIClient().get("/api/projects/", HTTP_AUTHORIZATION=f"Token {key}")


def test_the_right_password_gives_a_working_token_with_its_expiry(user, settings):
    response = get_token(APIClient())
    assert response.status_code == 200, response.json()
    body = response.json()
    token = Token.objects.get(user=user)
    assert body["token"] == token.key
    assert abs((timezone.datetime.fromisoformat(body["expires_at"]) - (token.created + settings.API_TOKEN_MAX_AGE))
               .total_seconds()) < 1
    assert projects(body["token"]).status_code == 200
    assert get_token(APIClient()).json()["token"] == token.key  # the same token until it expires


def test_a_wrong_password_is_a_401_naming_the_problem(user):
    response = get_token(APIClient(), "wrong-password")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert response.json()["error"].startswith("wrong username or password")
    assert not Token.objects.exists()


def test_missing_fields_are_a_400_naming_the_field(user):
    response = APIClient().post(URL, {"username": "ann"}, format="json")
    assert response.status_code == 400 and response.json()["field"] == "password"


def test_token_requests_are_throttled_per_address(user, django_user_model, settings):
    """10 a minute by default (API_THROTTLE_TOKEN); the 11th gets 429 with Retry-After, even with the right
    password. (Guessing for five users keeps django-axes' lockout, tested below, out of the way.)"""
    for i in range(5):
        django_user_model.objects.create_user(username=f"user{i}", password=PASSWORD)
    client = APIClient()
    codes = [get_token(client, "wrong-password", username=f"user{i % 5}").status_code for i in range(10)]
    assert codes == [401] * 10
    throttled = get_token(client)
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    assert "throttled" in throttled.json()["error"]
    assert get_token(APIClient(REMOTE_ADDR="198.51.100.7")).status_code == 200  # another address


def test_wrong_passwords_on_the_token_endpoint_lock_the_username_out(user, settings):
    """django-axes counts failures here as on the login page (each call authenticates with the request); the
    lockout is JSON in the API's error shape, with Retry-After."""
    client = APIClient()
    codes = [get_token(client, "wrong-password").status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert codes == [401] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    locked = get_token(client)  # the right password, but locked out
    assert locked.status_code == 429 and locked["Retry-After"] == "900"
    assert locked.json()["error"].startswith("too many failed logins") and locked.json()["field"] == "username"
    assert Client().post("/accounts/login/", {"username": "ann", "password": PASSWORD}).status_code == 429


def test_an_expired_token_is_refused_and_a_new_one_issued(user, settings):
    key = api_token_get_or_create(user=user)
    Token.objects.filter(key=key).update(created=timezone.now() - settings.API_TOKEN_MAX_AGE - timedelta(seconds=1))
    refused = projects(key)
    assert refused.status_code == 401 and refused.json()["error"].startswith("token expired")
    fresh = get_token(APIClient()).json()["token"]
    assert fresh != key and projects(fresh).status_code == 200
    assert not Token.objects.filter(key=key).exists()


def test_a_token_just_under_its_max_age_still_works(user, settings):
    key = api_token_get_or_create(user=user)
    Token.objects.filter(key=key).update(created=timezone.now() - settings.API_TOKEN_MAX_AGE + timedelta(minutes=1))
    assert projects(key).status_code == 200
    assert api_token_get_or_create(user=user) == key


def test_changing_the_password_revokes_the_users_tokens(user, other_user):
    key = api_token_get_or_create(user=user)
    other_key = api_token_get_or_create(user=other_user)
    user.set_password("another-long-password")
    user.save()
    assert projects(key).status_code == 401 and not Token.objects.filter(user=user).exists()
    assert projects(other_key).status_code == 200  # nobody else's
    assert get_token(APIClient(), "another-long-password").status_code == 200


def test_the_changepassword_path_of_the_admin_revokes_tokens_too(user, django_user_model, client):
    """The admin's password form saves through the same hook."""
    admin = django_user_model.objects.create_superuser(username="root", password=PASSWORD, email="")
    key = api_token_get_or_create(user=user)
    client.force_login(admin)
    response = client.post(f"/admin/auth/user/{user.pk}/password/",
                           {"password1": "a-new-long-password", "password2": "a-new-long-password"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert projects(key).status_code == 401


def test_a_login_that_upgrades_the_password_hash_keeps_the_tokens(user, settings):
    """Django re-hashes a password on login when the hasher changed; that is no password change."""
    key = api_token_get_or_create(user=user)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    call_command("check")  # (settings load with the validator in place)
    assert projects(key).status_code == 200
