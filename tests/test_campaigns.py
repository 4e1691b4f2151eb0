"""The campaign memory end to end: clusters, signatures learned from moderators, the campaign reason,
the queue by cluster, rejecting a whole cluster, and the poisoning guarantees.

The tiny model (conftest) never saw the brand "ZORBA99" nor these templates: it publishes them, so
only the campaign memory can hold them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from moderation.campaigns import minhash_of, signature_keys
from moderation.domain import Role
from moderation.appkeys import STORE
from moderation.settings import CampaignSettings, Secret, Settings
from moderation.textnorm import normalize

from .conftest import Api, FakeClock, MakeApi

# One campaign, as it arrives: a fake testimonial with a styled brand, reworded a little each time.
CAMPAIGN = [
    "Sejak pagi tadi kami mengunjungi ✌𝗭𝗢𝗥𝗕𝗔𝟵𝟵✌ dan hasilnya luar biasa, terima kasih admin",
    "Sejak pagi tadi saya mengunjungi ✌𝗭𝗢𝗥𝗕𝗔𝟵𝟵✌ dan hasilnya luar biasa sekali, makasih min",
    "Sejak tadi pagi kami mengunjungi ✌𝗭𝗢𝗥𝗕𝗔𝟵𝟵✌ dan hasilnya luar biasa, terima kasih banyak admin",
    "Sejak pagi tadi kita mengunjungi ✌𝗭𝗢𝗥𝗕𝗔𝟵𝟵✌ dan hasilnya sungguh luar biasa, terima kasih admin",
    "Sejak pagi tadi kami mengunjungi ✌𝗭𝗢𝗥𝗕𝗔𝟵𝟵✌ dan hasilnya luar biasa, trimakasih admin ganteng",
    "Sejak pagi tadi kami mampir ke ✌𝗭𝗢𝗥𝗕𝗔𝟵𝟵✌ dan hasilnya luar biasa, terima kasih admin",
]
NORMAL = "Semoga pemerintah cepat memperbaiki jalan yang rusak di kampung kami, terima kasih beritanya."


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def post(api: Api, clock: FakeClock, content: str, n: int, *, site: str = "kompas-test") -> dict[str, Any]:
    """A comment from a new author on a new article (a campaign spreads across both)."""
    clock.advance(20)  # past the flood interval
    resp = await api.post_comment(content=content, author_email=f"reader{n}@example.co.id",
                                  article_id=f"2026/11/{n}/berita", key=await api.key(Role.SITE, site))
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def report_and_reject(api: Api, comment_id: int, *, site: str = "kompas-test", label: str = "spam",
                            moderator: str | None = None) -> None:
    """A reader reports a published comment; a moderator takes it down."""
    site_key = await api.key(Role.SITE, site)
    resp = await api.client.post(f"/v1/comments/{comment_id}/reports", json={"reason": "spam"}, headers=auth(site_key))
    assert resp.status == 201
    await decide(api, comment_id, "reject", label, key=moderator or await api.key(Role.MODERATOR, site))


async def decide(api: Api, comment_id: int, action: str, label: str, *, key: str) -> dict[str, Any]:
    current = await (await api.client.get(f"/v1/comments/{comment_id}", headers=auth(key))).json()
    resp = await api.client.post(f"/v1/comments/{comment_id}/decision", headers=auth(key),
                                 json={"action": action, "label": label, "revision": current["revision"]})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def signatures(api: Api, site: str = "kompas-test") -> list[dict[str, Any]]:
    resp = await api.client.get("/v1/campaigns/signatures", headers=auth(await api.key(Role.MODERATOR, site)))
    assert resp.status == 200
    return (await resp.json())["items"]


# -- fingerprints --------------------------------------------------------------------------------------


def test_signature_keys_find_brands_links_and_phones_but_not_amounts() -> None:
    text = ("Daftar di 𝐏𝐔𝐋𝐀𝐔𝐖𝐈𝐍 atau alexis17, WA 0812-3456-7890 / +62 812 3456 7891, "
            "https://Zorba99.vip/daftar?ref=1 dan www.zorba99.vip, modal 100rb jadi 5jt")
    keys = {(k.kind, k.value) for k in signature_keys(text)}
    assert {("brand", "pulauwin"), ("brand", "alexis17"), ("phone", "081234567890"), ("phone", "081234567891"),
            ("domain", "zorba99.vip"), ("url", "zorba99.vip/daftar")} <= keys
    assert not {v for k, v in keys if v in ("100rb", "5jt", "daftar", "modal")}
    assert signature_keys(NORMAL) == []


def test_minhash_finds_near_duplicates_and_skips_short_texts() -> None:
    a, b = (minhash_of(normalize(t)) for t in CAMPAIGN[:2])
    other = minhash_of(normalize(NORMAL))
    assert a is not None and b is not None and other is not None
    assert a.jaccard(b) >= 0.5 > a.jaccard(other)
    assert minhash_of(normalize("mantap pak")) is None


# -- done when: a new campaign is held after moderators reject its first few comments ---------------------------


async def test_an_unseen_brand_campaign_is_held_once_moderators_reject_its_first_comments(
    api: Api, clock: FakeClock,
) -> None:
    first = [await post(api, clock, text, n) for n, text in enumerate(CAMPAIGN[:3])]
    assert [c["status"] for c in first] == ["published"] * 3  # the model never saw this brand
    assert first[1]["comment"]["id"] and all(c["reasons"] == [] for c in first)

    await report_and_reject(api, first[0]["id"])
    await report_and_reject(api, first[1]["id"])
    learning = {s["kind"]: s for s in await signatures(api)}
    assert learning["brand"]["value"] == "zorba99" and not learning["brand"]["holds"]
    assert "learning: 2 rejection(s)" in learning["brand"]["explanation"]
    assert (await post(api, clock, CAMPAIGN[3], 3))["status"] == "published"  # two rejections are not enough

    await report_and_reject(api, first[2]["id"])
    held = await post(api, clock, CAMPAIGN[4], 4)
    assert held["status"] == "held"
    (reason,) = [r for r in held["reasons"] if r["code"] == "campaign"]
    assert reason["source"] == "campaign" and reason["threshold"] == 3.0 and reason["score"] >= 3
    assert "zorba99" in reason["message"] and "3 rejected by 1 moderator" in reason["message"]
    details = reason["details"]
    assert details["cluster_size"] >= 4  # the variants clustered together across authors and articles
    kinds = {s["kind"]: s for s in details["signatures"]}
    assert kinds["brand"]["value"] == "zorba99" and kinds["brand"]["rejections"] == 3
    assert "template" in kinds  # the template itself also learned
    assert "author_email" not in str(held) and "reader4@" not in str(held)  # the e-mail stays private

    # The reason is what the moderator sees in the queue too.
    mod = await api.key(Role.MODERATOR)
    queue = await (await api.client.get("/v1/queue", headers=auth(mod))).json()
    assert [r["code"] for r in queue["items"][0]["reasons"]] == ["campaign"]


async def test_an_approval_weakens_a_signature_and_a_removed_one_stops_holding(api: Api, clock: FakeClock) -> None:
    comments = [await post(api, clock, text, n) for n, text in enumerate(CAMPAIGN[:3])]
    for c in comments:
        await report_and_reject(api, c["id"])
    held = await post(api, clock, CAMPAIGN[3], 3)
    assert held["status"] == "held"

    mod = await api.key(Role.MODERATOR)
    await decide(api, held["id"], "approve", "ham", key=mod)  # the moderator says: this one is fine
    after = {s["kind"]: s for s in await signatures(api)}
    assert after["brand"]["approvals"] == 1 and not after["brand"]["holds"]
    assert (await post(api, clock, CAMPAIGN[4], 4))["status"] == "published"

    # Three more rejections outweigh the approval again (each approval cancels three).
    more = [await post(api, clock, CAMPAIGN[5] + f" {i}", 10 + i) for i in range(3)]
    for c in more:
        if c["status"] == "published":
            await report_and_reject(api, c["id"])
        else:
            await decide(api, c["id"], "reject", "spam", key=mod)
    assert (await post(api, clock, CAMPAIGN[0] + " lagi", 20))["status"] == "held"

    # A moderator removes every signature: nothing holds the campaign any more, and it is not relearned.
    for sig in await signatures(api):
        resp = await api.client.get(f"/v1/campaigns/signatures/{sig['id']}", headers=auth(mod))
        shown = await resp.json()
        assert shown["votes"] and {v["action"] for v in shown["votes"]} <= {"reject", "approve"}
        assert (await api.client.delete(f"/v1/campaigns/signatures/{sig['id']}", headers=auth(mod))).status == 200
    assert await signatures(api) == []
    assert (await api.client.delete("/v1/campaigns/signatures/1", headers=auth(mod))).status == 404
    assert (await post(api, clock, CAMPAIGN[1] + " lagi", 21))["status"] == "published"


# -- poisoning ---------------------------------------------------------------------------------------------


async def test_one_sites_moderators_affect_only_that_site(api: Api, clock: FakeClock) -> None:
    for n, text in enumerate(CAMPAIGN[:3]):
        c = await post(api, clock, text, n, site="site-b")
        await report_and_reject(api, c["id"], site="site-b")
    assert any(s["holds"] for s in await signatures(api, "site-b"))
    assert (await post(api, clock, CAMPAIGN[3], 3, site="site-b"))["status"] == "held"

    assert await signatures(api, "kompas-test") == []
    assert (await post(api, clock, CAMPAIGN[3], 4, site="kompas-test"))["status"] == "published"
    # Another site's moderator cannot see, explain or remove site-b's signatures.
    sig_id = (await signatures(api, "site-b"))[0]["id"]
    mod_a = await api.key(Role.MODERATOR, "kompas-test")
    assert (await api.client.get(f"/v1/campaigns/signatures/{sig_id}", headers=auth(mod_a))).status == 404
    assert (await api.client.delete(f"/v1/campaigns/signatures/{sig_id}", headers=auth(mod_a))).status == 404
    assert (await post(api, clock, CAMPAIGN[4], 5, site="site-b"))["status"] == "held"


async def test_readers_reports_alone_never_create_a_signature(api: Api, clock: FakeClock) -> None:
    site_key = await api.key(Role.SITE)
    for n, text in enumerate(CAMPAIGN[:4]):
        c = await post(api, clock, text, n)
        for reader in range(5):  # many readers, every reason
            resp = await api.client.post(f"/v1/comments/{c['id']}/reports", headers=auth(site_key),
                                         json={"reason": "spam", "reporter": f"reader-{reader}"})
            assert resp.status == 201
    assert await signatures(api) == []
    assert (await post(api, clock, CAMPAIGN[4], 9))["status"] == "published"


async def test_toxic_rejections_teach_no_campaign(api: Api, clock: FakeClock) -> None:
    for n, text in enumerate(CAMPAIGN[:3]):
        c = await post(api, clock, text, n)
        await report_and_reject(api, c["id"], label="toxic")
    assert await signatures(api) == []


async def test_a_second_moderator_can_be_required(make_api: MakeApi, settings: Settings, clock: FakeClock) -> None:
    api = await make_api(replace(settings, campaigns=CampaignSettings(min_moderators=2)))
    comments = [await post(api, clock, text, n) for n, text in enumerate(CAMPAIGN[:4])]
    for c in comments[:3]:
        await report_and_reject(api, c["id"])
    brand = {s["kind"]: s for s in await signatures(api)}["brand"]
    assert brand["rejections"] == 3 and brand["moderators"] == 1 and not brand["holds"]
    other = await api.key(Role.ADMIN)  # a second key of the site
    await report_and_reject(api, comments[3]["id"], moderator=other)
    assert {s["kind"]: s for s in await signatures(api)}["brand"]["holds"]
    assert (await post(api, clock, CAMPAIGN[4], 9))["status"] == "held"


# -- the queue by cluster, and one action for a whole cluster ---------------------------------------------------


SPAM_WAVE = "slot gacor hari ini maxwin daftar sekarang di situs terpercaya bonus {n}"


async def test_queue_by_cluster_and_rejecting_a_whole_cluster(api: Api, clock: FakeClock) -> None:
    held = [await post(api, clock, SPAM_WAVE.format(n=n), n) for n in range(5)]
    assert all(c["status"] == "held" for c in held)  # the tiny model holds these as spam
    other = await post(api, clock, "situs judi online terpercaya bonus deposit 100 persen wd cepat", 50)
    assert other["status"] == "held"
    mod = await api.key(Role.MODERATOR)

    resp = await api.client.get("/v1/queue/clusters", headers=auth(mod))
    assert resp.status == 200
    (cluster,) = (await resp.json())["items"]  # clusters of one are left out by default
    assert cluster["count"] == 5 and cluster["cluster_id"] == held[0]["id"]
    assert cluster["last_id"] == held[-1]["id"] and "bonus" in cluster["sample"]["comment"]["content"]
    late = await post(api, clock, SPAM_WAVE.format(n=99), 99)  # arrives after the moderator looked

    bad = await api.client.post(f"/v1/campaigns/clusters/{cluster['cluster_id']}/decision", headers=auth(mod),
                                json={"action": "reject", "label": "spam"})
    assert bad.status == 422 and "up_to_id" in (await bad.json())["error"]["fields"]
    bad = await api.client.post(f"/v1/campaigns/clusters/{cluster['cluster_id']}/decision", headers=auth(mod),
                                json={"action": "reject", "label": "ham", "up_to_id": cluster["last_id"]})
    assert bad.status == 422 and "label" in (await bad.json())["error"]["fields"]
    other_site = await api.key(Role.MODERATOR, "site-b")
    resp = await api.client.post(f"/v1/campaigns/clusters/{cluster['cluster_id']}/decision",
                                 headers=auth(other_site),
                                 json={"action": "reject", "label": "spam", "up_to_id": cluster["last_id"]})
    assert resp.status == 404

    resp = await api.client.post(f"/v1/campaigns/clusters/{cluster['cluster_id']}/decision", headers=auth(mod),
                                 json={"action": "reject", "label": "spam", "up_to_id": cluster["last_id"]})
    assert resp.status == 200
    body = await resp.json()
    assert body["succeeded"] == 5 and body["failed"] == 0
    assert [r["comment_id"] for r in body["results"]] == [c["id"] for c in held]
    # Each one is a normal decision: status, revision, audit event, training label.
    for c in held:
        state = await (await api.client.get(f"/v1/comments/{c['id']}", headers=auth(mod))).json()
        assert (state["status"], state["revision"]) == ("rejected", 2)
    audit = await (await api.client.get(f"/v1/audit?comment_id={held[2]['id']}", headers=auth(mod))).json()
    assert audit["items"][0]["action"] == "reject" and audit["items"][0]["label"] == "spam"
    labels = await api.app[STORE].list_training_labels()
    assert sum(1 for lab in labels if lab["label"] == "spam" and lab["source"] == "moderator") == 5
    state = await (await api.client.get(f"/v1/comments/{late['id']}", headers=auth(mod))).json()
    assert state["status"] == "held"  # not decided unseen
    # The whole-cluster rejection also taught the template: the next variant says why it is held.
    nxt = await post(api, clock, SPAM_WAVE.format(n=123), 123)
    assert "campaign" in [r["code"] for r in nxt["reasons"]]


# -- several workers, restarts ------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def shared_settings(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Settings]:
    """Settings whose database several workers can open at once: a SQLite file, or a PostgreSQL schema."""
    if request.param == "sqlite":
        yield settings
        return
    from .postgres import pg_schema

    async with pg_schema() as url:
        yield replace(settings, database_url=Secret(url))


async def test_memory_is_rebuilt_from_the_database_and_shared_by_workers(
    make_api: MakeApi, shared_settings: Settings, clock: FakeClock,
) -> None:
    quick = replace(shared_settings, campaigns=CampaignSettings(refresh_seconds=0.001))
    worker_a = await make_api(quick)
    worker_b = await make_api(quick)  # the same database: a second process would see the same
    first = [await post(worker_a, clock, text, n) for n, text in enumerate(CAMPAIGN[:3])]
    # Worker B, which never saw them, clusters the next variant with them (read from the database).
    seen_by_b = await post(worker_b, clock, CAMPAIGN[3], 3)
    for c in first:
        await report_and_reject(worker_a, c["id"])
    # Worker B's cache notices worker A's new signatures (the site's campaign version changed).
    held = await post(worker_b, clock, CAMPAIGN[4], 4)
    assert held["status"] == "held"
    (reason,) = [r for r in held["reasons"] if r["code"] == "campaign"]
    assert reason["details"]["cluster_id"] == first[0]["id"]
    assert reason["details"]["cluster_size"] >= 5
    assert seen_by_b["status"] == "published"

    restarted = await make_api(shared_settings)  # a fresh worker after a restart: everything comes back
    again = await post(restarted, clock, CAMPAIGN[5], 5)
    assert again["status"] == "held"
    (reason,) = [r for r in again["reasons"] if r["code"] == "campaign"]
    assert reason["details"]["cluster_id"] == first[0]["id"]


# -- the /moderate page: clusters tab ----------------------------------------------------------------------


async def test_moderate_page_lists_clusters_escaped_and_rejects_one_with_a_button(api: Api, clock: FakeClock) -> None:
    from .test_pages import csrf_of, sign_in

    wave = "<script>alert(1)</script> slot gacor hari ini maxwin daftar sekarang di situs terpercaya {n}"
    held = [await post(api, clock, wave.format(n=n), n) for n in range(3)]
    assert all(c["status"] == "held" for c in held)
    await sign_in(api)
    resp = await api.client.get("/moderate/clusters")
    assert resp.status == 200
    assert "script-src" in resp.headers["Content-Security-Policy"] and "'unsafe-inline'" not in resp.headers[
        "Content-Security-Policy"].split("script-src")[1].split(";")[0]
    page = await resp.text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f'value="{held[0]["id"]}:{held[-1]["id"]}"' in page

    # Without the CSRF token nothing is decided.
    refused = await api.client.post("/moderate/clusters/decide", allow_redirects=False,
                                    data={"cluster": f"{held[0]['id']}:{held[-1]['id']}", "button": "spam"})
    assert refused.status in (400, 403)
    resp = await api.client.post("/moderate/clusters/decide", allow_redirects=False, data={
        "csrf": csrf_of(page), "cluster": f"{held[0]['id']}:{held[-1]['id']}", "button": "spam"})
    assert resp.status == 303 and resp.headers["Location"] == "/moderate/clusters?done=3"
    mod = await api.key(Role.MODERATOR)
    for c in held:
        state = await (await api.client.get(f"/v1/comments/{c['id']}", headers=auth(mod))).json()
        assert state["status"] == "rejected"
    assert "clusters_empty" not in (after := await (await api.client.get("/moderate/clusters")).text())
    assert 'id="empty"' in after


async def test_hostile_requests_get_a_clear_4xx(api: Api, clock: FakeClock) -> None:
    mod = await api.key(Role.MODERATOR)
    site = await api.key(Role.SITE)
    for path in ("/v1/campaigns/signatures/abc", f"/v1/campaigns/signatures/{2**70}", "/v1/campaigns/signatures/-1"):
        assert (await api.client.get(path, headers=auth(mod))).status == 404
        assert (await api.client.delete(path, headers=auth(mod))).status == 404
    decide_url = "/v1/campaigns/clusters/{}/decision"
    resp = await api.client.post(decide_url.format(2**70), headers=auth(mod),
                                 json={"action": "reject", "label": "spam", "up_to_id": 1})
    assert resp.status == 404
    for body, field in (({"action": "delete", "label": "spam", "up_to_id": 1}, "action"),
                        ({"action": "reject", "label": "spam", "up_to_id": 2**70}, "up_to_id"),
                        ({"action": "reject", "label": "spam", "up_to_id": True}, "up_to_id"),
                        ({"action": "reject", "label": "spam", "up_to_id": 1, "note": 5}, "note")):
        resp = await api.client.post(decide_url.format(1), headers=auth(mod), json=body)
        assert resp.status == 422, body
        assert field in (await resp.json())["error"]["fields"]
    resp = await api.client.post(decide_url.format(1), headers={**auth(mod), "Content-Type": "application/json"},
                                 data=b"{not json")
    assert resp.status == 400
    for query in ("status=bogus", "min_size=0", "limit=1000"):
        resp = await api.client.get(f"/v1/queue/clusters?{query}", headers=auth(mod))
        assert resp.status == 422, query
    # The site's own key is not a moderator key.
    assert (await api.client.get("/v1/campaigns/signatures", headers=auth(site))).status == 403
    assert (await api.client.get("/v1/queue/clusters", headers=auth(site))).status == 403
    # And the service keeps serving.
    assert (await post(api, clock, CAMPAIGN[0], 1))["status"] == "published"


# -- the answers match moderation/openapi.json ------------------------------------------------------------------


async def test_campaign_answers_conform_to_the_description(api: Api, clock: FakeClock) -> None:
    from .test_openapi_conformance import Conformance

    conf = Conformance()
    mod = await api.key(Role.MODERATOR)
    comments = [await post(api, clock, text, n) for n, text in enumerate(CAMPAIGN[:3])]
    for c in comments:
        await report_and_reject(api, c["id"])
    clock.advance(20)
    resp = await api.post_comment(content=CAMPAIGN[3], author_email="late@example.co.id", article_id="x/1")
    held = await conf.check(resp, "POST", "/v1/comments")
    assert held["status"] == "held" and held["reasons"][0]["details"]["signatures"]

    listing = await conf.check(await api.client.get("/v1/campaigns/signatures", headers=auth(mod)),
                               "GET", "/v1/campaigns/signatures")
    sig_path = "/v1/campaigns/signatures/{signature_id}"
    first = listing["items"][0]["id"]
    shown = await conf.check(await api.client.get(f"/v1/campaigns/signatures/{first}", headers=auth(mod)),
                             "GET", sig_path)
    assert len(shown["votes"]) == 3
    for _ in range(2):
        clock.advance(20)
        await api.post_comment(content=CAMPAIGN[4] + f" {_}", author_email=f"l{_}@example.co.id", article_id="x/2")
    page = await conf.check(await api.client.get("/v1/queue/clusters", headers=auth(mod)), "GET", "/v1/queue/clusters")
    cluster = page["items"][0]
    decided = await conf.check(
        await api.client.post(f"/v1/campaigns/clusters/{cluster['cluster_id']}/decision", headers=auth(mod),
                              json={"action": "reject", "label": "spam", "up_to_id": cluster["last_id"]}),
        "POST", "/v1/campaigns/clusters/{cluster_id}/decision")
    assert decided["succeeded"] == cluster["count"]
    await conf.check(await api.client.delete(f"/v1/campaigns/signatures/{first}", headers=auth(mod)),
                     "DELETE", sig_path)
    await conf.check(await api.client.delete(f"/v1/campaigns/signatures/{first}", headers=auth(mod)),
                     "DELETE", sig_path)
    assert ("DELETE", sig_path, "404") in conf.seen


async def test_an_approval_right_after_the_rejections_still_weakens(api: Api, clock: FakeClock) -> None:
    comments = [await post(api, clock, text, n) for n, text in enumerate(CAMPAIGN[:4])]
    for c in comments[:3]:
        await report_and_reject(api, c["id"])
    # No comment arrives in between: the approval must see the signatures the rejections just made.
    site_key, mod = await api.key(Role.SITE), await api.key(Role.MODERATOR)
    await api.client.post(f"/v1/comments/{comments[3]['id']}/reports", json={"reason": "spam"}, headers=auth(site_key))
    await decide(api, comments[3]["id"], "approve", "ham", key=mod)
    brand = {s["kind"]: s for s in await signatures(api)}["brand"]
    assert brand["approvals"] == 1 and not brand["holds"]


class _EmptyStore:
    """The three reads the memory's refresh makes, for a site with nothing stored yet."""

    async def campaign_version(self, site_id: str) -> int:
        return 0

    async def list_campaign_signatures(self, site_id: str, *, now: Any) -> list[Any]:
        return []

    async def campaign_index_rows(self, site_id: str, **_: Any) -> list[Any]:
        return []


async def test_repeated_texts_count_once_each_in_the_majority_and_leave_the_index_with_their_comments() -> None:
    from datetime import UTC, datetime

    from moderation.campaigns import CampaignMemory

    at = datetime(2026, 12, 1, tzinfo=UTC)
    memory = CampaignMemory(_EmptyStore(), CampaignSettings(index_max_comments=4), lambda: at)  # type: ignore[arg-type]
    variant = CAMPAIGN[0] + " 7"  # a near-duplicate of CAMPAIGN[0]: the same candidates, another MinHash

    async def store(comment_id: int, text: str) -> int | None:
        seen = await memory.observe("s", text)
        memory.remember("s", comment_id, seen, at)
        return seen.cluster_id

    assert await store(1, variant) is None  # cluster 1
    assert await store(2, CAMPAIGN[0]) == 1
    # Comments 3 and 4 repeat CAMPAIGN[0] word for word (one index key) but are stored in cluster 3: each
    # counts, so it is 2 against cluster 1's 2 (one per key), a tie the oldest cluster wins.
    memory.remember("s", 3, replace(await memory.observe("s", CAMPAIGN[0]), cluster_id=3), at)
    memory.remember("s", 4, replace(await memory.observe("s", CAMPAIGN[0]), cluster_id=3), at)
    assert (await memory.observe("s", CAMPAIGN[0])).cluster_id == 1
    assert (await memory.observe("s", CAMPAIGN[0])).cluster_size == 3  # comments 1 and 2, and this one

    # A fifth comment evicts the oldest (the variant, cluster 1): cluster 3 now has 2 to cluster 1's 1.
    assert await store(5, NORMAL) is None
    assert memory.index_size("s") == 4
    assert (await memory.observe("s", variant)).cluster_id == 3
    # Once every comment of a key has left, nothing of it matches any more.
    for n in range(6, 10):
        await store(n, f"{NORMAL} {n} kali ini tentang harga beras di pasar yang lain sama sekali")
    assert (await memory.observe("s", CAMPAIGN[0])).cluster_id is None
