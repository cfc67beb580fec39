"""Login throttling (django-axes): wrong passwords lock a username out from one address for a while."""
import pytest
from django.test import Client
from django.urls import reverse

PASSWORD = "a-long-test-password"

pytestmark = pytest.mark.django_db


def post_login(client: Client, password: str, username: str = "ann", url: str | None = None):
    return client.post(url or reverse("login"), {"username": username, "password": password})


def test_wrong_passwords_lock_the_login_out_after_the_failure_limit(user, client, settings):
    """The issue's attack: many wrong passwords in a row. The first AXES_FAILURE_LIMIT - 1 show the form again;
    from the limit on, every attempt -- even with the right password -- gets 429 and the lockout page."""
    limit = settings.AXES_FAILURE_LIMIT
    codes = [post_login(client, f"guess-{i}").status_code for i in range(limit + 20)]
    assert codes == [200] * (limit - 1) + [429] * 21
    locked = post_login(client, PASSWORD)
    assert locked.status_code == 429
    html = locked.content.decode()
    assert "Too many failed logins" in html and "for 15 minutes" in html and locked["Retry-After"] == "900"
    assert "_auth_user_id" not in client.session  # not logged in


def test_a_lockout_is_per_username_and_address(user, django_user_model, settings):
    django_user_model.objects.create_user(username="bea", password=PASSWORD)
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for i in range(settings.AXES_FAILURE_LIMIT):
        post_login(attacker, f"guess-{i}")
    assert post_login(attacker, PASSWORD).status_code == 429
    # The same person from their own address, and another user from the attacker's, still log in.
    assert post_login(Client(REMOTE_ADDR="198.51.100.7"), PASSWORD).status_code == 302
    assert post_login(attacker, PASSWORD, username="bea").status_code == 302


def test_a_successful_login_resets_the_count(user, client, settings):
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        assert post_login(client, f"guess-{i}").status_code == 200
    assert post_login(client, PASSWORD).status_code == 302
    client.logout()
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        assert post_login(client, f"again-{i}").status_code == 200  # counting from zero again


def test_the_admin_login_is_throttled_too(django_user_model, client, settings):
    django_user_model.objects.create_superuser(username="root", password=PASSWORD, email="")
    url = reverse("admin:login")
    codes = [post_login(client, f"guess-{i}", username="root", url=url).status_code
             for i in range(settings.AXES_FAILURE_LIMIT + 1)]
    assert codes[-2:] == [429, 429]
    assert post_login(client, PASSWORD, username="root", url=url).status_code == 429


def test_the_axes_reset_command_lifts_a_lockout(user, client, settings):
    from django.core.management import call_command

    for i in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, f"guess-{i}")
    assert post_login(client, PASSWORD).status_code == 429
    call_command("axes_reset_username", "ann")
    assert post_login(client, PASSWORD).status_code == 302
