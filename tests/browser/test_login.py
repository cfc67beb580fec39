"""Logging in and out in real Chromium."""
import pytest

from annotation.services.projects import project_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_shows_my_projects_and_logout_returns_to_login(page, login, user, screenshot):
    project_create(slug="mine", name="My project", owner=user)
    project_create(slug="theirs", name="Not mine")
    login("ann", "a-long-test-password")
    assert page.get_by_role("link", name="My project").is_visible() or page.get_by_text("My project").is_visible()
    assert page.get_by_text("Not mine").count() == 0
    screenshot("projects")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")


def test_wrong_password_stays_on_the_form_with_an_error(page, user):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    assert "/accounts/login/" in page.url
    assert page.locator(".errors, .errorlist").count() >= 1
