"""The moderator page's views of issue 14's outcomes in a real browser: the Spam tab, the shadow report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from moderation.domain import Role
from moderation.policy import Policy, PolicyBook
from moderation.settings import Settings

from .conftest import LiveServer
from .test_moderate_browser import sign_in

pytestmark = pytest.mark.browser

JUDOL = "slot gacor maxwin daftar sekarang situs judi terpercaya"


@pytest.fixture
def live(settings: Settings, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """The product's default reject rules (on), no flood interval; ``@pytest.mark.parametrize("live", [policy])``
    with ``indirect=True`` gives another policy."""
    policy = getattr(request, "param", Policy(flood_interval_seconds=0))
    server = LiveServer(replace(settings, policy=PolicyBook(default=policy)))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser: Any, live: LiveServer) -> Iterator[Any]:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    try:
        yield tab
    finally:
        context.close()


def test_spam_tab_lists_rejected_comments_and_rescues_one(page: Any, live: LiveServer, screenshot: Any) -> None:
    spam = live.comment(JUDOL)
    other = live.comment(JUDOL + " bonus 100", author_email="judi2@example.com")
    kept = live.comment("Semoga banjir cepat surut dan warga bisa kembali ke rumah", author_email="siti@example.com")
    assert (spam["status"], other["status"], kept["status"]) == ("spam", "spam", "published")
    sign_in(page, live)
    assert page.locator("#tab-held .count").inner_text() == "0"  # spam never reaches the held queue
    assert page.locator("#tab-spam .count").inner_text() == "2"
    with page.expect_navigation():
        page.click("#tab-spam")
    assert page.locator("#tab-spam").get_attribute("class") == "tab on"
    assert page.locator("#spam-intro").is_visible()
    item = page.locator(f"#c{spam['id']}")
    assert "rejected outright" in item.inner_text()
    assert item.locator("[data-action=toxic]").count() == 0  # a spam comment is rescued or confirmed, no more
    screenshot(page, "queue-spam")
    with page.expect_navigation():
        item.locator("[data-action=approve]").click()
    page.wait_for_selector(".notice-done")
    assert live.status(spam["id"]) == "published"
    assert page.locator("#tab-spam .count").inner_text() == "1"
    assert page.locator(f"#c{spam['id']}").count() == 0 and page.locator(f"#c{other['id']}").count() == 1
    audit = live.api("GET", f"/v1/audit?comment_id={spam['id']}", role=Role.MODERATOR)["items"]
    assert (audit[0]["action"], audit[0]["from_status"], audit[0]["to_status"], audit[0]["label"]) == (
        "approve", "spam", "published", "ham")
    # The other one is confirmed as spam from the same tab.
    with page.expect_navigation():
        page.locator(f"#c{other['id']} [data-action=spam]").click()
    assert live.status(other["id"]) == "rejected"
    page.wait_for_selector("#empty")


@pytest.mark.parametrize("live", [Policy(flood_interval_seconds=0, shadow=True)], indirect=True)
def test_shadow_report_shows_what_would_have_been_held(page: Any, live: LiveServer, screenshot: Any) -> None:
    judol = live.comment(JUDOL)
    insult = live.comment("dasar bodoh kamu goblok tidak tahu apa apa <b>x</b>", author_email="kasar@example.com")
    fine = live.comment("Semoga banjir cepat surut dan warga bisa kembali ke rumah", author_email="siti@example.com")
    assert {judol["status"], insult["status"], fine["status"]} == {"published"}
    live.api("POST", f"/v1/comments/{judol['id']}/decision", {"action": "remove", "label": "spam", "revision": 1},
             role=Role.MODERATOR)
    sign_in(page, live)
    with page.expect_navigation():
        page.click("#tab-shadow")
    assert "shadow mode" in page.locator("#shadow-state").inner_text()
    assert page.locator("#shadow-reject .count").inner_text() == "1"
    assert page.locator("#shadow-hold .count").inner_text() == "1"
    assert page.locator("#shadow-publish .count").inner_text() == "1"
    assert "1 of them were later taken down" in page.locator("#shadow-summary").inner_text()
    listed = page.locator(f"#s{insult['id']}")
    assert "toxic" in listed.inner_text() and page.locator(f"#s{insult['id']} b").count() == 0  # escaped
    screenshot(page, "shadow-report")
