"""The widget on a 390 px phone (issue 25), both languages: the panel stays inside the viewport, full
width less a margin, and "Contact support" stays visible once suggestions show; new-tab links say so."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.apps import page_server
from tests.browser.conftest import shot
from tests.browser.test_answers import _Intranet

QUERY = {"en": "my printer says offline", "fr": "mon imprimante est hors ligne"}
CONTACT = {"en": "Contact support", "fr": "Contacter le support"}


def inside(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    assert box is not None
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width
        and box["y"] + box["height"] <= height
    )


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_widget_stays_inside_a_phone_screen_with_contact_reachable(live_server, new_page, lang: str) -> None:
    handler = type("Intranet", (_Intranet,), {"kb_url": live_server.url, "lang": lang})
    page = new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    with page_server(handler) as intranet:
        live_server.app.config["CORS_ORIGINS"] = [intranet]
        page.goto(f"{intranet}/")
        page.wait_for_selector("[data-kb-engine-widget][data-ready=true]", state="attached")
        page.click(".kbw-toggle")
        page.locator(".kbw-input").press_sequentially(QUERY[lang], delay=20)
        expect(page.locator(".kbw .suggest-list li").first).to_be_visible()
        assert inside(page, ".kbw-panel")
        panel = page.locator(".kbw-panel").bounding_box()
        assert panel is not None and panel["width"] >= 390 - 2 * 12  # full width less a small margin
        contact = page.locator(".kbw-foot a").nth(1)
        expect(contact).to_contain_text(CONTACT[lang])
        assert inside(page, ".kbw-foot a >> nth=1")  # reachable without scrolling the panel
        assert "new tab" in contact.inner_text() or "nouvel onglet" in contact.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, f"25-widget-phone-{lang}")
