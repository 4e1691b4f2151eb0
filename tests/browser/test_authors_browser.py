"""The moderator page's author block / unblock button in a real browser (issue 14 item 3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from moderation.domain import Role

from .conftest import LiveServer
from .test_moderate_browser import sign_in

pytestmark = pytest.mark.browser

EMAIL = "budi.santoso@example.co.id"


@pytest.fixture
def page(browser: Any, live: LiveServer) -> Iterator[Any]:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    try:
        yield tab
    finally:
        context.close()


def test_block_and_unblock_an_author_from_the_queue(page: Any, live: LiveServer, screenshot: Any) -> None:
    # The default live server holds every comment, so each one is on the page.
    first = live.comment("semoga banjir cepat surut dan warga bisa kembali ke rumah", author_email=EMAIL)
    other = live.comment("terima kasih atas beritanya, sangat bermanfaat", author_email="siti@example.com")
    sign_in(page, live)
    item = page.locator(f"#c{first['id']}")
    assert item.locator(".blocked-author").count() == 0
    with page.expect_navigation():
        item.locator("button.author-block").click()
    page.wait_for_selector(".notice-blocked")
    item = page.locator(f"#c{first['id']}")
    assert item.locator(".blocked-author").inner_text() == "Blocked author"
    assert item.locator("button.author-block").inner_text() == "Unblock author"
    assert page.locator(f"#c{other['id']} .blocked-author").count() == 0  # another author is not touched
    assert live.status(first["id"]) == "held"  # the comment itself is not decided by a block

    # The author's next comment (the address spelt otherwise) carries the block as a reason.
    second = live.comment("kapan jadwal vaksinasi berikutnya di kecamatan kami", author_email=EMAIL.upper())
    assert "author.blocked" in [r["code"] for r in second["reasons"]]
    page.reload()
    # Grouped by the keyed hash: both spellings of the address are one author with two held comments.
    assert "2 held" in page.locator(f"#c{second['id']} .history").inner_text()
    assert page.locator(f"#c{second['id']} .blocked-author").count() == 1
    screenshot(page, "queue-author-blocked")

    with page.expect_navigation():
        page.locator(f"#c{second['id']} button.author-block").click()
    page.wait_for_selector(".notice-unblocked")
    assert page.locator(".blocked-author").count() == 0
    third = live.comment("harga beras naik lagi, mohon pemerintah memperhatikan petani", author_email=EMAIL)
    assert "author.blocked" not in [r["code"] for r in third["reasons"]]
    actions = [e["action"] for e in live.api("GET", "/v1/audit", role=Role.MODERATOR)["items"]]
    assert actions.count("author_block") == 1 and actions.count("author_unblock") == 1
    assert EMAIL not in str(live.api("GET", f"/v1/comments/{second['id']}"))  # the site's view has no e-mail
