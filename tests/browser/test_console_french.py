"""The staff console in French in headless Chromium (issue 24): a French browser gets the console in French
(`lang="fr"`, dates and numbers in French), the console's language buttons keep the choice on the account,
and axe-core finds nothing on the main pages in French, at 1280 px and 390 px."""

from __future__ import annotations

from typing import Any

import pytest

from tests.apps import app_problem, app_ticket
from tests.browser.conftest import PASSWORD, axe_violations, rows, shot

pytestmark = [pytest.mark.browser, pytest.mark.model]

# Console pages, with French text each must show (headings, buttons, labels).
PAGES = {
    "/console/": ["File", "File de travail", "Prendre", "Dernière mise à jour"],
    "/console/new": ["téléphone ou accueil physique", "Résolu pendant l'appel"],
    "/console/problems": ["Problèmes", "Confirmer le problème", "Bandeau vu par les clients"],
    "/console/dashboard": ["Tableau de bord du support", "Pour le responsable d'équipe"],
    "/console/admin/users": ["Comptes du personnel", "Nouveau compte"],
    "/console/canned": ["Réponses types"],
    "/console/search?q=vpn": ["Recherche agent", "confiance"],
}


# The authors' pages and the admin's pages, for an admin (an admin is an author too).
MORE_PAGES = {
    "/authors/": ["Articles", "Tous les fichiers", "Modifiés récemment"],
    "/authors/gaps": ["Lacunes du contenu", "Afficher"],
    "/authors/articles": ["Retours sur les articles", "Part résolue"],
    "/authors/questions": ["Questions apprises", "Décision"],
    "/authors/preview/en/vpn-cannot-connect": ["Aperçu", "Comment ses questions le trouvent"],
    "/console/articles/fr/vpn-cannot-connect": ["vue client"],
    "/console/integrations": ["Intégrations", "Créer le jeton", "Journal des livraisons"],
    "/console/privacy": ["Données personnelles", "Journal d'audit"],
}


def french_page(browser: Any, server: Any, username: str, width: int) -> Any:
    """A page whose browser asks for French, logged in as `username` through the (French) login form."""
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="fr-FR", bypass_csp=True)
    context.set_default_timeout(20000)
    page = context.new_page()
    page.goto(f"{server.url}/console/login")
    assert page.get_attribute("html", "lang") == "fr"
    assert page.inner_text("h1") == "Console du support"
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_selector("form.who")
    return page


def no_sideways_scroll(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def open_in_french(page, server, path: str, words: list[str], container: str) -> None:
    """Open a console page: it says it is French and its `container` shows every one of `words`."""
    page.goto(f"{server.url}{path}")
    assert page.get_attribute("html", "lang") == "fr", path
    text = page.inner_text(container)
    for word in words:
        assert word in text, f"{path}: {word!r} missing"


def test_console_pages_in_french_for_a_french_browser(browser, live_server) -> None:
    server = live_server
    server.create_user("lea", "admin")
    reference, _ = app_ticket(
        server.app, query="VPN ne se connecte plus depuis ce matin", contact_email="ana@example.com"
    )
    app_problem(server.app, [reference], title="VPN en panne")
    page = french_page(browser, server, "lea", 1280)
    for path, words in PAGES.items():
        open_in_french(page, server, path, words, "body")
        if path == "/console/dashboard":  # the charts' words come from the page, in French too
            page.wait_for_selector("[data-chart-drawn]")
            labels = page.evaluate("() => Chart.getChart('tier-chart').data.labels")
            assert labels[0] == "N1", labels
        assert axe_violations(page) == [], path
        shot(page, "console-fr" + path.replace("/", "-").split("?")[0].rstrip("-"))

    page.goto(f"{server.url}/console/tickets/{reference}")
    assert page.get_attribute("html", "lang") == "fr"
    text = page.inner_text("main")
    for word in ("Conversation", "Répondre au client", "Note interne", "Propriétés", "Dossier d'escalade"):
        assert word in text
    assert "N1" in page.inner_text("[data-field=tier]")  # L1 is N1 in French, as the French articles say
    assert " déc. " in text or "Ouverte le" in text
    assert axe_violations(page) == []
    shot(page, "console-fr-ticket")
    page.context.close()


def test_console_in_french_on_a_phone_has_no_sideways_scroll(browser, live_server) -> None:
    server = live_server
    server.create_user("lena", "agent-L1")
    reference, _ = app_ticket(server.app, query="imprimante hors ligne", contact_email="ana@example.com")
    page = french_page(browser, server, "lena", 390)
    for path in ("/console/", f"/console/tickets/{reference}", "/console/new"):
        page.goto(f"{server.url}{path}")
        assert page.get_attribute("html", "lang") == "fr"
        assert no_sideways_scroll(page), path
        assert axe_violations(page) == [], path
        shot(page, "console-fr-390" + path.replace("/", "-").rstrip("-"))
    page.goto(f"{server.url}/console/")
    assert page.is_visible("td.take button:has-text('Prendre')")
    page.context.close()


def test_language_buttons_keep_the_choice_on_the_account(browser, live_server) -> None:
    server = live_server
    server.create_user("omar", "agent-L2")
    page = french_page(browser, server, "omar", 1280)
    page.goto(f"{server.url}/console/problems")
    page.click("form.console-lang button[lang=en]")
    page.wait_for_selector("html[lang=en]")
    assert page.url.endswith("/console/problems")  # back on the same page
    assert page.inner_text("h1") == "Problems"
    assert rows(server, "SELECT lang FROM user_account WHERE username = 'omar'") == [("en",)]
    # Another browser (English) of the same account: the console follows the account, not the browser.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    other = context.new_page()
    other.goto(f"{server.url}/console/login")
    other.fill("#username", "omar")
    other.fill("#password", PASSWORD)
    other.click("main button[type=submit]")
    other.wait_for_selector("form.who")
    other.click("form.console-lang button[lang=fr]")
    other.wait_for_selector("html[lang=fr]")
    assert "File de travail" in other.inner_text("main")
    assert rows(server, "SELECT lang FROM user_account WHERE username = 'omar'") == [("fr",)]
    context.close()
    page.reload()
    assert page.get_attribute("html", "lang") == "fr"
    page.context.close()


def test_authors_and_admin_pages_in_french(browser, live_server) -> None:
    server = live_server
    server.create_user("root", "admin")
    page = french_page(browser, server, "root", 1280)
    for path, words in MORE_PAGES.items():
        open_in_french(page, server, path, words, "main")
        assert axe_violations(page) == [], path
        shot(page, "console-fr" + path.replace("/", "-").rstrip("-"))
    page.context.close()
