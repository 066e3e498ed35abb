"""The contact form in a real browser (issue 25), English and French: an empty form moves the focus to
the error summary, marks the fields `aria-invalid` and shows no browser bubble; a phone "abc" is refused;
the confirmation repeats the contact details; axe-core finds no serious violation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import serious_violations, shot

WORDS = {
    "en": ("Email address or a phone number", "phone number we can call"),
    "fr": ("e-mail ou un numéro", "numéro de téléphone"),
}


def to_contact_fields(page: Any, server: Any, lang: str) -> None:
    page.goto(f"{server.url}/contact?lang={lang}")
    page.fill("#description", "my printer says offline")
    page.click("form.describe button[type=submit]")
    page.wait_for_selector("form.contact #email")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_empty_contact_form_focuses_the_error_summary(live_server, page, axe_page: Any, lang: str) -> None:  # noqa: F811
    for tab in (page, axe_page):
        to_contact_fields(tab, live_server, lang)
        tab.click(".needhelp button[type=submit]")
        summary = tab.locator(".error-summary")
        expect(summary).to_be_focused()
    expect(page.locator(".error-summary")).to_contain_text(re.compile(WORDS[lang][0], re.I))
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    page.locator(".error-summary a").first.click()
    expect(page.locator("#email")).to_be_focused()
    shot(page, f"25-contact-errors-{lang}")
    assert serious_violations(axe_page) == []
    page.fill("#phone", "abc")
    page.click(".needhelp button[type=submit]")
    expect(page.locator(".error-summary")).to_contain_text(WORDS[lang][1])
    expect(page.locator("#phone")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#phone")).to_have_value("abc")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, f"25-contact-errors-{lang}-390")
    page.fill("#phone", "01 23 45 67 89")
    page.click(".needhelp button[type=submit]")
    page.wait_for_url(re.compile(r"/tickets/KB-\d{6}\?t="))
    expect(page.locator(".confirmation")).to_be_focused()
    expect(page.locator(".confirmation")).to_contain_text("01 23 45 67 89")
    shot(page, f"25-contact-confirmation-{lang}-390")


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_confirmation_has_no_serious_accessibility_violations(live_server, axe_page: Any, lang: str) -> None:  # noqa: F811
    to_contact_fields(axe_page, live_server, lang)
    axe_page.fill("#email", "ana@example.com")
    axe_page.click(".needhelp button[type=submit]")
    axe_page.wait_for_url(re.compile(r"/tickets/KB-\d{6}\?t="))
    assert serious_violations(axe_page) == []


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_empty_search_says_so_in_the_page_language(live_server, page, lang: str) -> None:
    page.goto(f"{live_server.url}/?lang={lang}")
    page.click("form.searchbox button[type=submit]")
    expect(page.locator("#search-error")).to_be_focused()
    expect(page.locator("#q")).to_have_attribute("aria-invalid", "true")


@pytest.mark.parametrize(("lang", "left"), [("en", "300 characters left"), ("fr", "300 caractères restants")])
def test_a_long_description_shows_the_characters_left(live_server, page, lang: str, left: str) -> None:
    page.goto(f"{live_server.url}/?lang={lang}")
    counter = page.locator("#q-count")
    expect(counter).to_be_hidden()
    page.fill("#q", "x" * 1700)
    expect(counter).to_have_text(left)
