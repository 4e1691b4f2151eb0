"""Issue 14: outcomes beyond publish/hold — the ``reject`` outcome and the ``spam`` status (the Spam tab)."""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from moderation.domain import Decision, Evidence, Role, Status, Submission, Verdict
from moderation.errors import StaleRevision
from moderation.appkeys import STORE
from moderation.policy import Policy, PolicyBook, PolicyError, load_policy
from moderation.settings import Settings
from moderation.store import ModeratorAction, ModeratorDecision, NewComment, QueueQuery, Store, open_store
from moderation.workflow import Edit, outcome

from .conftest import HAM, SPAM, TOXIC, FakeClock, MakeApi

# -- a judol wave and ordinary comments, written here -------------------------------------------------------

BRANDS = ["pulauwin88", "gacorjp77", "maxwin303", "slotraja99"]
HOOKS = ["slot gacor hari ini", "situs judi online terpercaya", "bocoran rtp slot", "pola gacor maxwin",
         "link alternatif slot"]
TAILS = ["daftar sekarang bonus new member 100%", "wd cepat tanpa potongan", "deposit pulsa tanpa potongan",
         "dijamin jp paus setiap hari", "cek link di bio"]
TOPICS = ["banjir", "harga beras", "timnas", "pemilu", "jalan rusak", "vaksinasi", "sekolah", "listrik padam",
          "kemacetan", "pasar"]
ORDINARY = ["Semoga {t} cepat ditangani oleh pemerintah daerah.",
            "Terima kasih beritanya soal {t}, sangat membantu warga.",
            "Di kampung kami {t} juga jadi masalah sejak minggu lalu.",
            "Saya kurang setuju dengan pendapat soal {t} di artikel ini.",
            "Kapan ada kabar terbaru tentang {t}? Mohon diliput lagi.",
            "Wah, {t} memang bikin repot, semoga ada solusi."]


def judol(rng: random.Random, i: int) -> str:
    return (f"{rng.choice(HOOKS)} di {rng.choice(BRANDS)} {rng.choice(TAILS)} "
            f"{rng.choice(['!!', 'bosku', 'gas', 'cuan'])} {i}")


def ordinary(rng: random.Random, i: int) -> str:
    return f"{rng.choice(ORDINARY).format(t=rng.choice(TOPICS))} ({i})"


@pytest.fixture(scope="module")
def wave_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model fitted on the shared test texts plus a few judol and ordinary comments (not the wave's)."""
    from training.export import write_model
    from training.pipelines import fit_text_model

    rng = random.Random(1)
    spam = SPAM + [judol(rng, i) for i in range(4)]
    ham = HAM + [ordinary(rng, i) for i in range(6)]
    texts = spam + TOXIC + ham
    labels = {"spam": [1] * len(spam) + [0] * (len(TOXIC) + len(ham)),
              "toxic": [0] * len(spam) + [1] * len(TOXIC) + [0] * len(ham)}
    out = tmp_path_factory.mktemp("wave-models")
    write_model(fit_text_model(texts, labels, seed=0), out, version="2026.01.01-wave",
                thresholds={"spam": 0.5, "toxic": 0.5})
    return out


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def db(settings: Settings) -> sqlite3.Connection:
    return sqlite3.connect(settings.effective_database_url.removeprefix("sqlite:///"))


# -- the rules, pure ---------------------------------------------------------------------------------------

SPAM_HIGH = Evidence("spam", "spam", "model:v", score=0.995, threshold=0.5)
SPAM_LOW = Evidence("spam", "spam", "model:v", score=0.7, threshold=0.5)
TOXIC_HIGH = Evidence("toxic", "toxic", "model:v", score=0.999, threshold=0.5)
CAMPAIGN = Evidence("campaign", "campaign", "campaign", score=3.0, threshold=3.0)


def test_only_spam_far_above_its_threshold_or_a_campaign_rejects_by_default() -> None:
    policy = Policy()
    assert outcome((), policy) == (Decision.PUBLISH, ())
    decision, reasons = outcome((SPAM_HIGH,), policy)
    assert decision is Decision.REJECT and reasons[0].reject and reasons[0].to_json()["reject"] is True
    assert outcome((SPAM_LOW,), policy)[0] is Decision.HOLD
    assert outcome((CAMPAIGN,), policy)[0] is Decision.REJECT
    # Toxicity never rejects outright, however sure the model is.
    decision, reasons = outcome((TOXIC_HIGH,), policy)
    assert decision is Decision.HOLD and not reasons[0].reject
    decision, reasons = outcome((TOXIC_HIGH, SPAM_HIGH), policy)
    assert decision is Decision.REJECT and [r.reject for r in reasons] == [False, True]
    # A reason shown for context (hold=False) rejects nothing.
    assert outcome((replace(SPAM_HIGH, hold=False),), policy)[0] is Decision.PUBLISH


def test_site_policy_chooses_what_rejects() -> None:
    strict = Policy(reject_reasons=("campaign", "honeypot"), reject_spam_score=0.9)
    honeypot = Evidence("honeypot", "bot", "form")
    assert outcome((honeypot,), strict)[0] is Decision.REJECT
    assert outcome((honeypot,), Policy())[0] is Decision.HOLD
    assert outcome((Evidence("spam", "s", "model:v", score=0.92, threshold=0.5),), strict)[0] is Decision.REJECT
    off = Policy(reject=False)
    assert outcome((SPAM_HIGH, CAMPAIGN), off)[0] is Decision.HOLD


def test_policy_file_refuses_toxicity_as_a_reject_reason(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[default]\nreject_reasons = ["toxic"]\n')
    with pytest.raises(PolicyError, match="reject_reasons.*toxicity never rejects"):
        load_policy(path)
    path.write_text('[default]\nreject_spam_score = 0.2\n')
    with pytest.raises(PolicyError, match="reject_spam_score"):
        load_policy(path)
    path.write_text('[default]\nreject = false\n[sites."a"]\nreject = true\nreject_reasons = ["honeypot"]\n'
                    'reject_spam_score = 0.95\n')
    book = load_policy(path)
    assert book.default.reject is False
    site = book.for_site("a")
    assert site.reject and site.reject_reasons == ("honeypot",) and site.reject_spam_score == 0.95


# -- through the API ----------------------------------------------------------------------------------------


@pytest.fixture
def wave_settings(tmp_path: Path, wave_models_dir: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", models_dir=wave_models_dir, policy=PolicyBook())


async def test_a_judol_wave_ends_in_spam_and_no_ordinary_comment_is_rejected(
        make_api: MakeApi, wave_settings: Settings, clock: FakeClock) -> None:
    api = await make_api(wave_settings)
    site, mod = await api.key(), await api.key(Role.MODERATOR)
    rng = random.Random(7)
    wave = [judol(rng, i) for i in range(500)]
    others = [ordinary(rng, i) for i in range(60)] + TOXIC
    posts = [("wave", t) for t in wave] + [("ordinary", t) for t in others]
    rng.shuffle(posts)
    statuses: dict[str, list[str]] = {"wave": [], "ordinary": []}
    for n, (kind, text) in enumerate(posts):
        resp = await api.post_comment(key=site, content=text, author_email=f"p{n}@example.com",
                                      article_id=f"artikel-{n % 7}")
        assert resp.status == 201, await resp.text()
        body = await resp.json()
        statuses[kind].append(body["status"])
        if body["status"] == "spam":
            assert body["decision"] == "reject" and any(r.get("reject") for r in body["reasons"])
        clock.advance(1)
    in_spam = statuses["wave"].count("spam")
    assert in_spam >= 0.9 * len(wave), statuses["wave"]
    assert "spam" not in statuses["ordinary"]
    counts = await (await api.client.get("/v1/queue/counts", headers=auth(mod))).json()
    assert counts["spam"] == in_spam == counts["by_status"]["spam"]
    assert counts["held"] == statuses["wave"].count("held") + statuses["ordinary"].count("held")
    with db(wave_settings) as conn:
        toxic_statuses = {row[0] for row in conn.execute(
            f"SELECT status FROM comments WHERE content IN ({', '.join('?' for _ in TOXIC)})", TOXIC)}
    assert toxic_statuses == {"held"}  # toxic comments wait for a person, never rejected outright
    # The held queue has none of the spam; the Spam tab has them all.
    held = await (await api.client.get("/v1/queue", params={"limit": "100"}, headers=auth(mod))).json()
    assert all(item["status"] == "held" for item in held["items"])
    seen, cursor = 0, None
    while True:
        params = {"status": "spam", "limit": "100", **({"cursor": cursor} if cursor else {})}
        page = await (await api.client.get("/v1/queue", params=params, headers=auth(mod))).json()
        assert all(item["status"] == "spam" for item in page["items"])
        seen += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == in_spam


async def test_rescue_publishes_and_teaches_ham(make_api: MakeApi, wave_settings: Settings,
                                                clock: FakeClock) -> None:
    api = await make_api(wave_settings)
    site, mod = await api.key(), await api.key(Role.MODERATOR)
    body = await (await api.post_comment(key=site, content=judol(random.Random(3), 1))).json()
    assert body["status"] == "spam" and body["decision"] == "reject"
    cid = body["id"]
    # Never shown: the site's view says spam; a reader's report is recorded closed, the queue does not grow.
    got = await (await api.client.get(f"/v1/comments/{cid}", headers=auth(site))).json()
    assert got["status"] == "spam" and got["revision"] == 1
    report = await api.client.post(f"/v1/comments/{cid}/reports", json={"reason": "spam"}, headers=auth(site))
    assert report.status in (200, 201), await report.text()
    counts = await (await api.client.get("/v1/queue/counts", headers=auth(mod))).json()
    assert counts["reported"] == 0 and counts["held"] == 0 and counts["spam"] == 1
    # Rescue = approve: published, a ham training label, an audit event from spam to published.
    resp = await api.client.post(f"/v1/comments/{cid}/decision", json={"action": "approve", "revision": 1},
                                 headers=auth(mod))
    assert resp.status == 200, await resp.text()
    decided = await resp.json()
    assert decided["status"] == "published" and decided["previous_status"] == "spam"
    with db(wave_settings) as conn:
        labels = conn.execute("SELECT label, source FROM training_labels WHERE comment_id = ?", (cid,)).fetchall()
        events = conn.execute("SELECT action, from_status, to_status FROM comment_events WHERE comment_id = ? "
                              "ORDER BY id", (cid,)).fetchall()
    assert labels == [("ham", "moderator")]
    assert events[0][0] == "submitted" and events[0][2] == "spam"
    assert events[-1] == ("approve", "spam", "published")
    metrics = await (await api.client.get("/metrics")).text()
    assert 'kind="rejected_then_rescued"' in metrics


async def test_confirming_spam_rejects_it(make_api: MakeApi, wave_settings: Settings, clock: FakeClock) -> None:
    api = await make_api(wave_settings)
    site, mod = await api.key(), await api.key(Role.MODERATOR)
    body = await (await api.post_comment(key=site, content=judol(random.Random(4), 2))).json()
    assert body["status"] == "spam"
    resp = await api.client.post(f"/v1/comments/{body['id']}/decision",
                                 json={"action": "reject", "label": "spam", "revision": 1}, headers=auth(mod))
    assert resp.status == 200 and (await resp.json())["status"] == "rejected"
    # A spam comment was never published: nothing to take down.
    clock.advance(60)
    other = await (await api.post_comment(key=site, content=judol(random.Random(5), 3),
                                          author_email="x@example.com")).json()
    resp = await api.client.post(f"/v1/comments/{other['id']}/decision",
                                 json={"action": "remove", "label": "spam", "revision": 1}, headers=auth(mod))
    assert resp.status == 409


# -- both backends store the new outcome (migration 0007) -----------------------------------------------------

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)




async def test_store_keeps_rejected_comments_out_of_the_held_queue(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    sub = Submission(article_id="a", author_name="Ani", author_email="ani@example.com", content="slot gacor")
    verdict = Verdict(Decision.REJECT, (replace(SPAM_HIGH, reject=True),), {"spam": 0.995}, "v1")
    new = NewComment(site_id="site-a", submission=sub, verdict=verdict, content_hash="h", signals={},
                     email_hash="h:ani")
    comment, _, _ = await store.insert_comment(new, now=NOW, flood_interval=0, idempotency=None,
                                               render=lambda c: {"id": c.id})
    assert comment.status is Status.SPAM and comment.decision is Decision.REJECT
    assert comment.reasons[0].reject
    assert (await store.list_queue("site-a", QueueQuery())).items == []
    spam = await store.list_queue("site-a", QueueQuery(statuses=(Status.SPAM,)))
    assert [i.comment.id for i in spam.items] == [comment.id]
    assert spam.items[0].history.spam == 1
    counts = await store.queue_counts("site-a")
    assert counts["spam"] == 1 and counts["held"] == 0
    done = await store.decide("site-a", ModeratorDecision(comment.id, ModeratorAction.APPROVE, "ham", 1),
                              actor="key:1", now=NOW + timedelta(minutes=1))
    assert done.previous_status is Status.SPAM and done.comment.status is Status.PUBLISHED


async def test_sqlite_migration_still_refuses_unknown_statuses(tmp_path: Path) -> None:
    backend = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    await backend.migrate()
    await backend.close()
    with sqlite3.connect(tmp_path / "store.sqlite3") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.execute("INSERT INTO sites (id, created_at) VALUES ('s', 'now')")
        row = ("s", "a", "n", "e", "c", "h", "{}", "[]", "{}", "t", "t")
        sql = ("INSERT INTO comments (site_id, article_id, author_name, author_email, content, content_hash, "
               "signals, reasons, scores, created_at, updated_at, status, decision) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        conn.execute(sql, (*row, "spam", "reject"))
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(sql, (*row, "deleted", "reject"))
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(sql, (*row, "spam", "discard"))


# -- shadow mode (item 4) ----------------------------------------------------------------------------------


async def test_shadow_mode_publishes_everything_and_reports_what_would_have_happened(
        make_api: MakeApi, wave_settings: Settings, clock: FakeClock) -> None:
    shadow = PolicyBook(sites={"kompas-test": Policy(shadow=True)})
    api = await make_api(replace(wave_settings, policy=shadow))
    site, mod = await api.key(), await api.key(Role.MODERATOR)
    posted = {}
    for name, text in (("judol", judol(random.Random(9), 1)), ("toxic", TOXIC[0]),
                       ("ordinary", ordinary(random.Random(9), 1)), ("ordinary2", ordinary(random.Random(8), 2))):
        resp = await api.post_comment(key=site, content=text, author_email=f"{name}@example.com")
        body = await resp.json()
        assert resp.status == 201 and body["decision"] == "publish" and body["status"] == "published", body
        posted[name] = body
        clock.advance(60)
    assert [posted[n]["shadow_decision"] for n in ("judol", "toxic", "ordinary")] == ["reject", "hold", "publish"]
    assert any(r["code"] == "toxic" for r in posted["toxic"]["reasons"])  # the evidence is kept
    counts = await (await api.client.get("/v1/queue/counts", headers=auth(mod))).json()
    assert counts["held"] == 0 and counts["spam"] == 0
    # Later: a moderator takes the judol ad down, readers report the insult and one ordinary comment.
    resp = await api.client.post(f"/v1/comments/{posted['judol']['id']}/decision",
                                 json={"action": "remove", "label": "spam", "revision": 1}, headers=auth(mod))
    assert resp.status == 200
    for name in ("toxic", "ordinary"):
        resp = await api.client.post(f"/v1/comments/{posted[name]['id']}/reports", json={"reason": "toxic"},
                                     headers=auth(site))
        assert resp.status == 201
    resp = await api.client.get("/v1/shadow/report", headers=auth(mod))
    assert resp.status == 200
    report = await resp.json()
    assert report["shadow"] is True and report["comments"] == 4
    assert report["would"]["reject"] == {"count": 1, "taken_down": 1, "reported": 0, "up": 0}
    assert report["would"]["hold"] == {"count": 1, "taken_down": 0, "reported": 1, "up": 1}
    assert report["would"]["publish"] == {"count": 2, "taken_down": 0, "reported": 1, "up": 2}
    assert (report["flagged"], report["confirmed"], report["missed"], report["precision"]) == (2, 2, 1, 1.0)
    assert report["would_hold_by_reason"]["spam"] == 1 and report["would_hold_by_reason"]["toxic"] == 1
    assert [c["id"] for c in report["recent"]] == [posted["toxic"]["id"], posted["judol"]["id"]]
    assert "judol@example.com" not in await resp.text()
    # The site's own key may not read it; another site sees nothing of this one.
    assert (await api.client.get("/v1/shadow/report", headers=auth(site))).status == 403
    other = await api.key(Role.MODERATOR, site="lain-test")
    other_report = await (await api.client.get("/v1/shadow/report", headers=auth(other))).json()
    assert other_report["comments"] == 0 and other_report["shadow"] is False and other_report["precision"] is None


def test_policy_file_takes_shadow_mode(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[sites."kompas-id"]\nshadow = true\n')
    book = load_policy(path)
    assert book.for_site("kompas-id").shadow and not book.default.shadow
    path.write_text('[default]\nshadow = "yes"\n')
    with pytest.raises(PolicyError, match="shadow"):
        load_policy(path)


# -- edits (item 1) ------------------------------------------------------------------------------------------


async def edit(api: Any, key: str, comment_id: int, **body: Any) -> Any:
    return await api.client.patch(f"/v1/comments/{comment_id}", json=body, headers=auth(key))


async def test_an_approved_comment_edited_into_a_judol_ad_goes_back_to_held(
        make_api: MakeApi, wave_settings: Settings, clock: FakeClock) -> None:
    api = await make_api(wave_settings)
    site, mod = await api.key(), await api.key(Role.MODERATOR)
    await api.app[STORE].set_webhook("kompas-test", "https://kompas.example/hook", "whsec_x",
                                     datetime.now(UTC))
    original = "Baca https://a.example/1 https://b.example/2 https://c.example/3 soal banjir di kampung kami"
    body = await (await api.post_comment(key=site, content=original)).json()
    assert body["status"] == "held"  # too many links
    cid = body["id"]
    resp = await api.client.post(f"/v1/comments/{cid}/decision", json={"action": "approve", "revision": 1},
                                 headers=auth(mod))
    assert (await resp.json())["status"] == "published"
    # A harmless edit stays up, at the next revision.
    resp = await edit(api, site, cid, content="Semoga banjir cepat surut, terima kasih beritanya.", revision=2)
    assert resp.status == 200, await resp.text()
    harmless = await resp.json()
    assert (harmless["status"], harmless["revision"], harmless["previous_status"]) == ("published", 3, "published")
    # Edited into a judol ad: re-scored by the same pipeline, back to held (a person decides again).
    ad = judol(random.Random(11), 5)
    resp = await edit(api, site, cid, content=ad, author_name="Admin Gacor", revision=3)
    assert resp.status == 200, await resp.text()
    edited = await resp.json()
    assert (edited["status"], edited["previous_status"], edited["revision"]) == ("held", "published", 4)
    assert edited["decision"] == "reject" and any(r["code"] == "spam" for r in edited["reasons"])
    assert edited["comment"]["content"] == ad and edited["comment"]["author_name"] == "Admin Gacor"
    queue = await (await api.client.get("/v1/queue", params={"reason": "spam"}, headers=auth(mod))).json()
    assert [i["id"] for i in queue["items"]] == [cid] and queue["items"][0]["revision"] == 4
    audit = await (await api.client.get("/v1/audit", params={"comment_id": str(cid)}, headers=auth(mod))).json()
    latest = audit["items"][0]
    assert (latest["action"], latest["actor"], latest["from_status"], latest["to_status"]) == (
        "edit", "site", "published", "held")
    assert latest["previous_content"] == "Semoga banjir cepat surut, terima kasih beritanya."
    assert audit["items"][1]["previous_content"] == original
    with db(wave_settings) as conn:
        hooks = [json.loads(p) for (p,) in conn.execute("SELECT payload FROM webhook_outbox ORDER BY id")]
    # The approval, then the edit that took it down again (label null: no moderator judged it).
    assert [(h["status"], h["previous_status"], h["label"], h["revision"]) for h in hooks] == [
        ("published", "held", "ham", 2), ("held", "published", None, 4)]
    assert all("budi.santoso@example.co.id" not in json.dumps(h) for h in hooks)


async def test_edit_refusals_name_the_field_and_store_nothing(make_api: MakeApi, wave_settings: Settings,
                                                              clock: FakeClock) -> None:
    api = await make_api(wave_settings)
    site, mod = await api.key(), await api.key(Role.MODERATOR)
    body = await (await api.post_comment(key=site)).json()
    cid = body["id"]
    for payload, field in (({"content": "  "}, "content"), ({"content": "ok", "author_email": "x@example.com"},
                                                              "author_email"),
                           ({"content": "ok", "revision": "2"}, "revision"),
                           ({"content": "ok", "author_url": "javascript:alert(1)"}, "author_url"),
                           ({"content": "a\u0000b"}, "content")):
        resp = await edit(api, site, cid, **payload)
        assert resp.status == 422, (payload, await resp.text())
        assert field in (await resp.json())["error"]["fields"]
    assert (await edit(api, site, cid, content="Versi baru", revision=7)).status == 409
    assert (await edit(api, mod, cid, content="Versi baru")).status == 403
    other = await api.key(Role.SITE, site="lain-test")
    assert (await edit(api, other, cid, content="Versi baru")).status == 404
    assert (await edit(api, site, 2**63, content="Versi baru")).status == 404
    got = await (await api.client.get(f"/v1/comments/{cid}", headers=auth(site))).json()
    assert got["revision"] == 1 and got["comment"]["content"] == body["comment"]["content"]
    # A comment a moderator took down stays as it was judged.
    await api.client.post(f"/v1/comments/{cid}/decision", json={"action": "remove", "label": "toxic",
                                                                 "revision": 1}, headers=auth(mod))
    resp = await edit(api, site, cid, content="Maaf, saya ubah")
    assert resp.status == 409 and (await resp.json())["error"]["status"] == "removed"


async def test_store_edit_keeps_the_previous_text_and_moves_the_queue_fields(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    sub = Submission(article_id="a", author_name="Ani", author_email="ani@example.com", content="Berita bagus")
    verdict = Verdict(Decision.PUBLISH, (), {"spam": 0.01}, "v1")
    new = NewComment(site_id="site-a", submission=sub, verdict=verdict, content_hash="h", signals={})
    comment, _, _ = await store.insert_comment(new, now=NOW, flood_interval=0, idempotency=None,
                                               render=lambda c: {"id": c.id})
    held = Verdict(Decision.REJECT, (replace(SPAM_HIGH, reject=True),), {"spam": 0.995}, "v2")
    later = NOW + timedelta(minutes=5)
    done = await store.edit_comment("site-a", Edit(comment.id, "slot gacor", "Ani", None, "h2", held, 1), now=later)
    assert done.previous_status is Status.PUBLISHED and done.comment.status is Status.HELD
    assert done.comment.revision == 2 and done.comment.content == "slot gacor" and done.comment.model_version == "v2"
    page = await store.list_queue("site-a", QueueQuery(reason="spam"))
    assert [i.comment.id for i in page.items] == [comment.id] and page.items[0].risk == pytest.approx(0.995)
    [event, _] = await store.list_events("site-a", before_id=None, limit=10, comment_id=comment.id)
    assert (event.action, event.previous_content, event.to_status) == ("edit", "Berita bagus", "held")
    with pytest.raises(StaleRevision):
        await store.edit_comment("site-a", Edit(comment.id, "lagi", "Ani", None, "h3", verdict, 1), now=later)


# -- reader reports: the per-site threshold (item 3, in part) ---------------------------------------------------


async def test_enough_open_reports_move_a_published_comment_to_held(make_api: MakeApi, settings: Settings,
                                                                   clock: FakeClock) -> None:
    book = PolicyBook(default=replace(settings.policy.default, report_hold_threshold=2))
    api = await make_api(replace(settings, policy=book))
    site, mod = await api.key(), await api.key(Role.MODERATOR)
    await api.app[STORE].set_webhook("kompas-test", "https://kompas.example/hook", "whsec_x",
                                     datetime.now(UTC))
    body = await (await api.post_comment(key=site)).json()
    assert body["status"] == "published"
    cid = body["id"]

    async def report(reporter: str) -> dict[str, Any]:
        resp = await api.client.post(f"/v1/comments/{cid}/reports", json={"reason": "toxic", "reporter": reporter},
                                     headers=auth(site))
        assert resp.status in (200, 201), await resp.text()
        return await resp.json()

    first = await report("pembaca-1")
    assert (first["status"], first["held"], first["open_reports"]) == ("published", False, 1)
    again = await report("pembaca-1")  # the same reader counts once
    assert again["duplicate"] and again["held"] is False
    second = await report("pembaca-2")
    assert (second["status"], second["held"], second["open_reports"]) == ("held", True, 2)
    got = await (await api.client.get(f"/v1/comments/{cid}", headers=auth(site))).json()
    assert (got["status"], got["revision"]) == ("held", 2)
    audit = await (await api.client.get("/v1/audit", params={"comment_id": str(cid)}, headers=auth(mod))).json()
    assert (audit["items"][0]["action"], audit["items"][0]["actor"], audit["items"][0]["to_status"]) == (
        "reports_threshold", "system", "held")
    with db(settings) as conn:
        [payload] = [json.loads(p) for (p,) in conn.execute("SELECT payload FROM webhook_outbox")]
    assert (payload["status"], payload["previous_status"], payload["label"]) == ("held", "published", None)
    # A moderator's approval puts it back up and closes the reports.
    resp = await api.client.post(f"/v1/comments/{cid}/decision", json={"action": "approve", "revision": 2},
                                 headers=auth(mod))
    assert (await resp.json())["status"] == "published" and (await resp.json())["reports_closed"] == 2
