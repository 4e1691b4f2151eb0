"""The real client: Debian's WordPress 6.1 with our plugin, and with its bundled Akismet 5.0.2 pointed at us.

One WordPress (MariaDB, ``php -S``) and one service (``moderation serve`` with a tiny model fitted in the
test) for the whole module; every comment goes through WordPress's own ``wp-comments-post.php``, every
wp-admin decision through WordPress's own functions, every /moderate decision through the page in Chromium.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..browser.conftest import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, _require_chromium
from ..served import Served, create_key, free_port, serve
from .site import ADMIN_PASSWORD, ADMIN_USER, WordPress, php, require_wordpress

pytestmark = pytest.mark.wordpress
SITE = "berita-test"
ORDINARY = "Semoga banjir cepat surut, terima kasih atas liputannya."
JUDOL = "𝐒𝐋𝐎𝐓 𝐆𝐀𝐂𝐎𝐑 hari ini maxwin, daftar sekarang di situs terpercaya"
INSULT = "dasar bodoh kamu goblok tidak tahu apa apa"


class Stack:
    """The service and WordPress, started once for the module."""

    def __init__(self, tmp: Path, models_dir: Path) -> None:
        self.tmp = tmp
        self.data_dir = tmp / "data"
        self.data_dir.mkdir()
        self.models_dir = models_dir
        self.exits = contextlib.ExitStack()
        self.service: Served | None = None
        self.wp: WordPress | None = None
        self.keys: dict[str, str] = {}
        self.akismet_alias = ""
        self.policy = tmp / "policy.toml"
        self.webhook_secret = ""
        self.post_id = 0

    # The WordPress under test listens on plain http on 127.0.0.1, which the webhook guard refuses unless
    # the operator allows it (moderation/webhook_targets.py).
    HOOK_ENV = {"MODERATION_WEBHOOK_ALLOW_HTTP": "true", "MODERATION_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"}

    def start(self) -> None:
        wp_port = free_port()
        policy = self.policy
        # One reader IP for every test comment: no flood interval. Thresholds are the tiny model's own. No outright
        # rejection: the plugin's walk through wp-admin starts from a held judol comment.
        policy.write_text("[default]\nflood_interval_seconds = 0\nmin_submit_seconds = 0\nreject = false\n",
                          encoding="utf-8")
        self.keys["site"] = create_key(self.data_dir, "site", SITE)
        self.keys["moderator"] = create_key(self.data_dir, "moderator", SITE)
        out = self.cli("keys", "create", "--role", "site", "--site", SITE, "--akismet")
        self.akismet_alias = next(line.rsplit(" ", 1)[1] for line in out.splitlines() if "Akismet API key" in line)
        self.keys["akismet_site"] = out.strip().splitlines()[-1]
        webhook = f"http://127.0.0.1:{wp_port}/?rest_route=/moderation/v1/webhook"
        self.webhook_secret = self.cli("sites", "set-webhook", "--site", SITE, "--url", webhook).strip().splitlines()[-1]
        self.service = self.exits.enter_context(
            serve(self.data_dir, self.models_dir, MODERATION_POLICY_FILE=str(policy), **self.HOOK_ENV)
        )
        self.wp = WordPress(port=wp_port, root=self.tmp / "wordpress", service_url=self.service.url)
        self.exits.callback(self.wp.stop)
        self.wp.install(title="Berita Uji")
        self.post_id = int(self.wp.eval(
            "return wp_insert_post(array('post_title' => 'Banjir di Jakarta mulai surut', 'post_status' => 'publish',"
            " 'post_content' => 'Air di sejumlah wilayah Jakarta mulai surut sejak Selasa pagi.',"
            " 'comment_status' => 'open', 'post_author' => 1));"
        ))

    def cli(self, *args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "moderation", *args, "--data-dir", str(self.data_dir)],
                                capture_output=True, text=True, timeout=120, check=True,
                                env={**os.environ, **self.HOOK_ENV})
        return result.stdout

    def restart_service(self) -> Served:
        """The service back, on a new port (the same data): WordPress's setting must follow it."""
        self.service = self.exits.enter_context(
            serve(self.data_dir, self.models_dir, MODERATION_POLICY_FILE=str(self.policy), **self.HOOK_ENV)
        )
        return self.service

    def stop_service(self) -> None:
        assert self.service is not None
        self.service.process.terminate()
        self.service.process.wait(timeout=30)

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data_dir / "moderation.sqlite3")

    def api(self, method: str, path: str, role: str = "site") -> Any:
        assert self.service is not None
        request = urllib.request.Request(self.service.url + path, method=method,
                                         headers={"Authorization": f"Bearer {self.keys[role]}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, tiny_models_dir: Path) -> Iterator[Stack]:
    require_wordpress()
    started = Stack(tmp_path_factory.mktemp("wordpress"), tiny_models_dir)
    try:
        started.start()
        yield started
    finally:
        started.exits.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_chromium()  # a skip, or a failure with MODERATION_REQUIRE_BROWSER=1
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def shoot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def webhook(wp: WordPress, secret: str, event: dict[str, Any], *, sign_with: str | None = None, age: int = 0) -> int:
    """POST an event to the plugin's REST route, signed as the service signs (or not quite)."""
    body = json.dumps(event)
    stamp = str(int(time.time()) - age)
    signature = hmac.new((sign_with or secret).encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", wp.port, timeout=30)
    try:
        conn.request("POST", "/?rest_route=/moderation/v1/webhook", body=body,
                     headers={"Content-Type": "application/json", "X-Moderation-Signature": f"t={stamp},v1={signature}"})
        return conn.getresponse().status
    finally:
        conn.close()


def wp_login(page: Any, wp: WordPress) -> None:
    page.goto(wp.url + "/wp-login.php")
    page.fill("#user_login", ADMIN_USER)
    page.fill("#user_pass", ADMIN_PASSWORD)
    with page.expect_navigation():
        page.click("#wp-submit")
    assert "/wp-admin" in page.url, page.url


def test_plugin_end_to_end(stack: Stack, browser: Any) -> None:
    wp = stack.wp
    assert wp is not None and stack.service is not None
    assert wp.eval("require_once ABSPATH . 'wp-admin/includes/plugin.php';"
                   "return activate_plugin('moderation/moderation.php');") is None
    context = browser.new_context(locale="id-ID", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)

    # Configured as a new user would: Settings → Moderation, saved through options.php (nonce, capability).
    wp_login(page, wp)
    page.goto(wp.url + "/wp-admin/options-general.php?page=moderation")
    assert page.locator("h1").inner_text() == "Moderasi komentar"  # the plugin's Indonesian translation
    page.fill("#moderation_service_url", stack.service.url + "/")
    page.fill("#moderation_site_key", stack.keys["site"])
    page.fill("#moderation_webhook_secret", stack.webhook_secret)
    page.fill("#moderation_timeout", "2")
    with page.expect_navigation():
        page.click("#submit")
    saved = wp.eval("return array(get_option('moderation_service_url'), get_option('moderation_site_key'),"
                    " get_option('moderation_timeout'));")
    assert saved == [stack.service.url, stack.keys["site"], "2"]  # trailing slash dropped by the sanitiser
    assert "rest_route=/moderation/v1/webhook" in page.content()
    shoot(page, "wordpress-settings")

    ordinary = wp.post_comment(stack.post_id, author="Budi Santoso", email="budi@example.co.id", content=ORDINARY)
    judol = wp.post_comment(stack.post_id, author="Gacor Official", email="promo@example.com", content=JUDOL)
    insult = wp.post_comment(stack.post_id, author="Anonim", email="anonim@example.com", content=INSULT)
    assert ordinary.status == judol.status == insult.status == 302
    assert ordinary.comment_id and judol.comment_id and insult.comment_id
    assert "unapproved=" not in ordinary.location and "unapproved=" in judol.location
    assert wp.comment(ordinary.comment_id)["status"] == "approved"
    held = {name: wp.comment(posted.comment_id) for name, posted in (("judol", judol), ("insult", insult))}
    assert {name: c["status"] for name, c in held.items()} == {"judol": "unapproved", "insult": "unapproved"}
    ours = {name: int(c["meta"]["_moderation_id"]) for name, c in held.items()}
    assert stack.api("GET", f"/v1/comments/{ours['judol']}")["status"] == "held"
    with stack.db() as conn:
        reasons = dict(conn.execute("SELECT id, reasons FROM comments").fetchall())
    assert '"spam"' in reasons[ours["judol"]] and '"toxic"' in reasons[ours["insult"]]
    with stack.db() as conn:  # the e-mail reached the service (moderators see it) but never the site's pages
        assert conn.execute("SELECT count(*) FROM comments WHERE author_email = 'budi@example.co.id'").fetchone() == (1,)

    # A field WordPress accepts but the service refuses: a 422, shown to the reader in Indonesian.
    refused = wp.post_comment(stack.post_id, author="Siti", email="siti@contoh.test", content="Beritanya bagus.")
    assert refused.status == 422 and refused.comment_id is None
    assert "Masukkan alamat email yang valid." in refused.body, refused.body[-2000:]

    # The insult approved on /moderate reaches WordPress through the signed webhook.
    mod = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    queue = mod.new_page()
    queue.set_default_timeout(15_000)
    queue.goto(stack.service.url + "/moderate/sign-in")
    queue.fill("#key", stack.keys["moderator"])
    queue.click("#sign-in")
    queue.wait_for_selector(f"#c{ours['insult']}")
    queue.click(f"#c{ours['insult']}")
    with queue.expect_navigation():
        queue.keyboard.press("a")
    assert stack.api("GET", f"/v1/comments/{ours['insult']}")["status"] == "published"
    approved = wp.wait_for_status(insult.comment_id, "approved")
    assert approved["status"] == "approved" and approved["meta"]["_moderation_revision"] == "2"
    mod.close()

    # The webhook route takes only what the service signed, recently.
    assert webhook(wp, stack.webhook_secret, {"event": "comment.status_changed", "comment_id": ours["judol"],
                                              "status": "published", "revision": 9}, sign_with="wrong") == 401
    assert webhook(wp, stack.webhook_secret, {"event": "comment.status_changed", "comment_id": ours["judol"],
                                              "status": "published", "revision": 9}, age=3600) == 401
    assert webhook(wp, stack.webhook_secret, {"event": "comment.status_changed", "comment_id": 987654,
                                              "status": "published", "revision": 2}) == 200  # not ours: ignored
    assert wp.comment(judol.comment_id)["status"] == "unapproved"

    # Spam in wp-admin, through WordPress's own function: the service records a spam decision and label.
    assert wp.eval(f"wp_set_current_user(1); return wp_spam_comment({judol.comment_id});") is True
    assert stack.api("GET", f"/v1/comments/{ours['judol']}")["status"] == "rejected"
    with stack.db() as conn:
        label = conn.execute("SELECT label, source FROM training_labels WHERE comment_id = ?",
                             (ours["judol"],)).fetchall()
    assert label == [("spam", "moderator")]
    audit = stack.api("GET", f"/v1/audit?comment_id={ours['judol']}", role="moderator")["items"][0]
    assert audit["action"] == "reject" and audit["label"] == "spam"
    time.sleep(1)  # the webhook echo of that decision must not flip anything back
    assert wp.comment(judol.comment_id)["status"] == "spam"
    assert wp.comment(judol.comment_id)["meta"].get("_moderation_conflict") is None

    # Either side can undo the other: approving it in wp-admin ("Not spam") restores it on the service, and
    # unapproving puts it back in the held queue there too; each webhook echo changes nothing back.
    for wp_status, ours_status, wp_name in (("approve", "published", "approved"), ("hold", "held", "unapproved"),
                                            ("spam", "rejected", "spam")):
        assert wp.eval(f"wp_set_current_user(1); return wp_set_comment_status({judol.comment_id}, '{wp_status}');")
        assert stack.api("GET", f"/v1/comments/{ours['judol']}")["status"] == ours_status
        time.sleep(1)
        assert wp.comment(judol.comment_id)["status"] == wp_name
        assert "_moderation_conflict" not in wp.comment(judol.comment_id)["meta"]
    with stack.db() as conn:
        actions = conn.execute("SELECT action FROM comment_events WHERE comment_id = ? AND actor LIKE 'key:%' "
                               "ORDER BY id", (ours["judol"],)).fetchall()
    assert [a for (a,) in actions] == ["reject", "restore", "reopen", "reject"]

    # A decision made on an old revision (the other queue decided meanwhile): a conflict, kept on the comment.
    assert wp.eval(f"update_comment_meta({judol.comment_id}, '_moderation_revision', 1); return true;") is True
    assert wp.eval(f"wp_set_current_user(1); return wp_set_comment_status({judol.comment_id}, 'approve');") is True
    assert stack.api("GET", f"/v1/comments/{ours['judol']}")["status"] == "rejected"
    assert "changed since" in wp.comment(judol.comment_id)["meta"]["_moderation_conflict"]
    page.goto(wp.url + "/wp-admin/edit-comments.php")  # and said so on the Comments screen, in Indonesian
    assert "1 komentar diputuskan di sini berbeda dari layanan moderasi" in page.locator(".notice-warning").inner_text()
    assert wp.eval(f"return wp_spam_comment({judol.comment_id});") is True  # back in line: the conflict is gone
    assert "_moderation_conflict" not in wp.comment(judol.comment_id)["meta"]

    # The editors' own replies (signed in, may moderate) are trusted as core trusts them: not sent.
    page.goto(wp.url + f"/?p={stack.post_id}")
    page.fill("#comment", "Terima kasih atas masukannya. Salam, Redaksi.")
    with page.expect_navigation():
        page.click("#submit")
    reply = wp.eval("return get_comments(array('author__in' => array(1), 'status' => 'all', 'fields' => 'ids'));")
    assert len(reply) == 1 and wp.comment(reply[0])["status"] == "approved"
    assert "_moderation_id" not in wp.comment(reply[0])["meta"]
    context.close()
    # What a reader sees (signed out): the published comments, never the held ones or an e-mail address.
    reader = browser.new_context(locale="id-ID", viewport={"width": 1200, "height": 900})
    post = reader.new_page()
    post.goto(wp.url + f"/?p={stack.post_id}")
    body = post.locator("body").inner_text()
    assert ORDINARY in body and INSULT in body and "maxwin" not in body and "Tinggalkan Balasan" in body
    assert "budi@example.co.id" not in post.content()
    shoot(post, "wordpress-post")
    reader.close()


def test_akismet_plugin_pointed_at_us(stack: Stack, browser: Any) -> None:
    wp = stack.wp
    assert wp is not None
    # Debian's Akismet 5.0.2, untouched: its key check (12 hex characters) passes with our alias.
    result = wp.eval(
        "require_once ABSPATH . 'wp-admin/includes/plugin.php';"
        "deactivate_plugins('moderation/moderation.php'); activate_plugin('akismet/akismet.php');"
        "require_once WP_PLUGIN_DIR . '/akismet/class.akismet.php';"
        "require_once WP_PLUGIN_DIR . '/akismet/class.akismet-admin.php';"
        f"$status = Akismet::verify_key({php(stack.akismet_alias)});"
        f"Akismet_Admin::save_key({php(stack.akismet_alias)});"
        "update_option('comment_previously_approved', 0);"  # Akismet, not core, decides first comments
        "return array($status, get_option('wordpress_api_key'), Akismet_Admin::get_akismet_user(get_option('wordpress_api_key'))->status);"
    )
    assert result == ["valid", stack.akismet_alias, "active"]
    # A site key of 52 characters is what the settings page mangles: it keeps only the hex characters.
    assert wp.eval(f"return Akismet::verify_key(preg_replace('/[^a-f0-9]/i', '', {php(stack.keys['site'])}));") == "invalid"

    ordinary = wp.post_comment(stack.post_id, author="Rina", email="rina@example.co.id", content=ORDINARY + " Salam.")
    judol = wp.post_comment(stack.post_id, author="Slot88", email="slot@example.com", content=JUDOL + " bonus")
    insult = wp.post_comment(stack.post_id, author="Anon", email="anon2@example.com", content=INSULT + " sekali")
    assert ordinary.comment_id and judol.comment_id and insult.comment_id
    assert wp.comment(ordinary.comment_id)["status"] == "approved"
    judol_state = wp.comment(judol.comment_id)
    assert judol_state["status"] == "spam" and judol_state["meta"]["akismet_result"] == "true"
    # Akismet answers about spam only: an insult that is not spam is not Akismet's to hold (docs/wordpress.md).
    assert wp.comment(insult.comment_id)["meta"]["akismet_result"] == "false"

    # Marked as spam with wp-admin's own "Spam" link (Akismet reports only what a person did there):
    # the plugin's submit-spam reaches us as a training label.
    context = browser.new_context(locale="id-ID", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    wp_login(page, wp)
    page.goto(wp.url + "/wp-admin/edit-comments.php")
    row = page.locator(f"#comment-{ordinary.comment_id}")
    row.hover()
    row.locator(".row-actions .spam a").click()
    assert wp.wait_for_status(ordinary.comment_id, "spam")["status"] == "spam"
    context.close()
    with stack.db() as conn:
        labels = conn.execute("SELECT label, source, text FROM training_labels WHERE source LIKE 'akismet.%'").fetchall()
    assert ("spam", "akismet.submit-spam", ORDINARY + " Salam.") in labels


def test_service_down_holds_new_comments(stack: Stack) -> None:
    wp = stack.wp
    assert wp is not None
    stack.stop_service()
    # Through the Akismet plugin (active from the previous test): held for a later check, not published.
    through_akismet = wp.post_comment(stack.post_id, author="Dewi", email="dewi@example.co.id",
                                      content="Semoga warga yang mengungsi segera bisa pulang.")
    assert through_akismet.comment_id and wp.comment(through_akismet.comment_id)["status"] == "unapproved"
    # Through our plugin: held at once, with the reason kept on the comment and shown on the settings page.
    wp.eval("require_once ABSPATH . 'wp-admin/includes/plugin.php';"
            "deactivate_plugins('akismet/akismet.php'); return activate_plugin('moderation/moderation.php');")
    started = time.monotonic()
    posted = wp.post_comment(stack.post_id, author="Agus", email="agus@example.co.id",
                             content="Terima kasih tim SAR yang sudah bekerja keras.")
    assert time.monotonic() - started < 10
    assert posted.status == 302 and posted.comment_id
    state = wp.comment(posted.comment_id)
    assert state["status"] == "unapproved" and "_moderation_unchecked" in state["meta"]
    assert "_moderation_id" not in state["meta"]
    assert wp.eval("return get_option('moderation_last_error');") != ""
    assert wp.eval("return (bool) wp_next_scheduled('moderation_recheck');") is True

    # Back up: the scheduled recheck sends it, and the service's decision is applied in WordPress.
    service = stack.restart_service()
    wp.eval(f"update_option('moderation_service_url', {php(service.url)}); do_action('moderation_recheck'); return 1;")
    state = wp.comment(posted.comment_id)
    assert state["status"] == "approved" and "_moderation_unchecked" not in state["meta"], state
    assert stack.api("GET", f"/v1/comments/{state['meta']['_moderation_id']}")["status"] == "published"
    assert wp.eval("return get_option('moderation_last_error');") == ""


def test_wp_admin_decision_made_while_the_service_is_down_is_sent_later(stack: Stack) -> None:
    wp = stack.wp
    assert wp is not None
    posted = wp.post_comment(stack.post_id, author="Rina", email="rina@example.co.id",
                             content="Semoga bantuan logistik cepat sampai ke desa kami.")
    state = wp.comment(posted.comment_id)
    assert state["status"] == "approved", state
    ours = int(state["meta"]["_moderation_id"])
    stack.stop_service()
    # A moderator marks it spam in wp-admin while the service is unreachable: kept and retried, not dropped.
    assert wp.eval(f"wp_set_current_user(1); return wp_spam_comment({posted.comment_id});") is True
    state = wp.comment(posted.comment_id)
    assert state["status"] == "spam"
    assert "_moderation_unsent" in state["meta"] and "_moderation_conflict" not in state["meta"], state
    assert wp.eval("return (bool) wp_next_scheduled('moderation_resend');") is True
    # A retry while it is still down keeps the decision waiting.
    wp.eval("do_action('moderation_resend'); return 1;")
    assert "_moderation_unsent" in wp.comment(posted.comment_id)["meta"]

    service = stack.restart_service()
    assert stack.api("GET", f"/v1/comments/{ours}")["status"] == "published"  # it never heard of the decision
    wp.eval(f"update_option('moderation_service_url', {php(service.url)}); do_action('moderation_resend'); return 1;")
    # Spam on a published comment takes it down (the service's "removed", a spam label for training).
    assert stack.api("GET", f"/v1/comments/{ours}")["status"] == "removed"
    state = wp.comment(posted.comment_id)
    assert state["status"] == "spam" and "_moderation_unsent" not in state["meta"], state
    assert int(state["meta"]["_moderation_revision"]) > 1
    assert wp.eval("return get_option('moderation_last_error');") == ""


def test_flood_is_refused_in_the_readers_language(stack: Stack) -> None:
    wp = stack.wp
    assert wp is not None
    # The service's own flood rule (by e-mail or IP: every test comment comes from 127.0.0.1) this time,
    # short enough to wait out the earlier tests' comments; policies are read at start-up.
    stack.stop_service()
    stack.policy.write_text("[default]\nflood_interval_seconds = 4\nmin_submit_seconds = 0\nreject = false\n",
                            encoding="utf-8")
    service = stack.restart_service()
    wp.eval(f"update_option('moderation_service_url', {php(service.url)}); return 1;")
    time.sleep(4.5)
    first = wp.post_comment(stack.post_id, author="Yanto", email="yanto@example.co.id",
                            content="Posko pengungsian di kelurahan kami butuh selimut.")
    second = wp.post_comment(stack.post_id, author="Yanto", email="yanto@example.co.id",
                             content="Juga butuh air bersih dan obat-obatan.")
    assert first.status == 302 and first.comment_id
    assert second.status == 429 and second.comment_id is None
    assert "Anda mengirim komentar terlalu cepat" in second.body, second.body[-2000:]


def test_outright_rejection_lands_in_wordpress_spam_and_unspam_reopens_it(stack: Stack) -> None:
    wp = stack.wp
    assert wp is not None
    # The default policy rejects near-certain spam outright; the tiny model's judol score is far above 0.6.
    stack.stop_service()
    stack.policy.write_text("[default]\nflood_interval_seconds = 0\nmin_submit_seconds = 0\nreject_spam_score = 0.6\n",
                            encoding="utf-8")
    service = stack.restart_service()
    wp.eval(f"update_option('moderation_service_url', {php(service.url)}); return 1;")
    posted = wp.post_comment(stack.post_id, author="Promo", email="promo@example.net", content=JUDOL + " kode 77")
    assert posted.status == 302 and posted.comment_id
    state = wp.comment(posted.comment_id)
    ours = int(state["meta"]["_moderation_id"])
    assert state["status"] == "spam"  # WordPress's own Spam folder, as the service's spam status
    assert stack.api("GET", f"/v1/comments/{ours}")["status"] == "spam"
    # "Not spam" in wp-admin: WordPress puts it back to pending, and the service reopens it for a moderator.
    assert wp.eval(f"wp_set_current_user(1); return wp_unspam_comment({posted.comment_id});") is True
    assert stack.api("GET", f"/v1/comments/{ours}")["status"] == "held"
    time.sleep(1)  # the webhook echo of that change flips nothing back
    assert wp.comment(posted.comment_id)["status"] == "unapproved"
    assert "_moderation_conflict" not in wp.comment(posted.comment_id)["meta"]


def test_uninstall_removes_options_and_meta(stack: Stack) -> None:
    wp = stack.wp
    assert wp is not None
    left = wp.eval(
        "define('WP_UNINSTALL_PLUGIN', 'moderation/moderation.php');"
        "include WP_PLUGIN_DIR . '/moderation/uninstall.php';"
        "global $wpdb; return array(get_option('moderation_site_key', 'gone'),"
        " (int) $wpdb->get_var(\"SELECT count(*) FROM $wpdb->commentmeta WHERE meta_key LIKE '\\\\_moderation%'\"));"
    )
    assert left == ["gone", 0]
