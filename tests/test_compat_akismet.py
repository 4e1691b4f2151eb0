"""The Akismet-compatible /1.1/comment-check, submit-spam, submit-ham and verify-key.

Contract tests replay Akismet's published examples: the response examples of the OpenAPI spec in
Automattic/akismet-sdk-php (spec.yml), the key-verification sample on akismet.com/developers, and the
comment-check parameters and test values of akismet.com/developers/detailed-docs/comment-check. The
real-client test drives the ``akismet`` Python client (PyPI ``akismet``, by ubernostrum; not ``python-akismet``) against the test server.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from structlog.testing import capture_logs

from moderation.appkeys import CAMPAIGNS, SCORER, STORE
from moderation.auth import hash_key, new_akismet_alias
from moderation.domain import Role
from moderation.policy import Policy, PolicyBook
from moderation.settings import Settings

from .conftest import Api, FakeClock, MakeApi
from .test_authors import auth
from .test_campaigns import CAMPAIGN, report_and_reject
from .test_campaigns import post as post_comment

THANKS = "Thanks for making the web a better place."
EMAIL = "budi.santoso@example.co.id"
JUDOL = "slot gacor hari ini maxwin daftar sekarang situs judi terpercaya"
INSULT = "dasar bodoh kamu goblok tolol banget"
HAM = "Semoga banjir cepat surut dan warga bisa kembali ke rumah masing-masing."


def comment(content: str, **extra: str) -> dict[str, str]:
    """What the WordPress plugin sends for a comment (akismet.com comment-check parameters)."""
    return {
        "blog": "https://berita.example.co.id/",
        "user_ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "referrer": "https://berita.example.co.id/2026/11/25/banjir/",
        "permalink": "https://berita.example.co.id/2026/11/25/banjir/",
        "comment_type": "comment",
        "comment_author": "Budi Santoso",
        "comment_author_email": EMAIL,
        "comment_author_url": "",
        "comment_content": content,
        "blog_lang": "id_ID",
        "blog_charset": "UTF-8",
        **extra,
    }


async def post(api: Api, path: str, data: dict[str, str], *, key: str | None = None) -> Any:
    key = key if key is not None else await api.key()
    return await api.client.post(path, data={"api_key": key, **data} if key else data)


class Fixed:
    """A stand-in model with fixed scores (the tiny test model is very sure of everything)."""

    heads = ("spam", "toxic")

    def __init__(self, spam: float, toxic: float = 0.01) -> None:
        self.scores = {"spam": spam, "toxic": toxic}

    def predict_scores(self, texts: list[str]) -> list[dict[str, float]]:
        return [dict(self.scores) for _ in texts]

    def explain(self, text: str, head: str, top_k: int = 5) -> list[dict[str, Any]]:
        return []


@contextmanager
def serving(api: Api, model: Any) -> Iterator[None]:
    """Serve ``model`` for the duration, swapped in as a hot reload would swap it."""
    loaded = api.app[SCORER].current
    assert loaded is not None
    api.app[SCORER].current = dataclasses.replace(loaded, model=model)
    try:
        yield
    finally:
        api.app[SCORER].current = loaded


def labels(settings: Settings) -> list[tuple[str, str, str, str | None]]:
    path = settings.effective_database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT text, label, source, actor FROM training_labels ORDER BY id").fetchall()


# --- contract: verify-key ------------------------------------------------------------------------------


async def test_verify_key_example(api: Api) -> None:
    # akismet.com/developers/detailed-docs/key-verification, PHP example:
    #   $request = 'api_key='. $key .'&blog='. $blog;  ... POST /1.1/verify-key ... if ( 'valid' == $response[1] )
    # spec.yml (akismet-sdk-php) /1.1/verify-key: text/plain examples "valid" / "invalid", and
    # "If the verification returns "invalid", it usually includes ... X-akismet-debug-help".
    key = await api.key()
    resp = await api.client.post("/1.1/verify-key", data={"api_key": key, "blog": "http://www.yourblogdomainname.com/"})
    assert resp.status == 200 and resp.content_type == "text/plain"
    assert await resp.text() == "valid"
    # Older clients (and the akismet client) send the key as "key" (spec.yml KeyVerificationParameters).
    resp = await api.client.post("/1.1/verify-key", data={"key": key, "blog": "http://www.yourblogdomainname.com/"})
    assert await resp.text() == "valid"
    resp = await api.client.post("/1.1/verify-key", data={"key": "123YourAPIKey", "blog": "http://x.example/"})
    assert resp.status == 200 and await resp.text() == "invalid"
    assert resp.headers["X-akismet-debug-help"]
    moderator = await api.key(Role.MODERATOR)
    resp = await api.client.post("/1.1/verify-key", data={"key": moderator, "blog": "http://x.example/"})
    assert await resp.text() == "invalid"


# --- contract: comment-check ---------------------------------------------------------------------------


async def test_comment_check_spam_true_ham_false(api: Api) -> None:
    # spec.yml /1.1/comment-check: text/plain examples spam: "true", ham: "false", error: "invalid".
    spam = await post(api, "/1.1/comment-check", comment(JUDOL))
    assert spam.status == 200 and spam.content_type == "text/plain"
    assert await spam.text() == "true"
    assert "spam" in spam.headers["X-moderation-reasons"].split(",")
    ham = await post(api, "/1.1/comment-check", comment(HAM))
    assert await ham.text() == "false"
    assert "X-akismet-pro-tip" not in ham.headers


async def test_comment_check_invalid_key(api: Api) -> None:
    # spec.yml: error example "invalid", with X-akismet-debug-help giving "extra context for any error".
    resp = await post(api, "/1.1/comment-check", comment(HAM), key="123YourAPIKey")
    assert resp.status == 200 and await resp.text() == "invalid"
    assert resp.headers["X-akismet-debug-help"]
    resp = await post(api, "/1.1/comment-check", comment(HAM), key="")
    assert await resp.text() == "invalid"
    assert resp.headers["X-akismet-debug-help"] == 'Empty "api_key" value'


async def test_blatant_spam_gets_discard(api: Api) -> None:
    # spec.yml X-akismet-pro-tip: "If this header is set to 'discard', then Akismet has determined that the
    # comment is blatant spam, and you can safely discard it without saving it in any spam queue."
    # A filled honeypot (honeypot_field_name + that field) is blatant: a bot.
    resp = await post(api, "/1.1/comment-check",
                      comment(HAM, honeypot_field_name="hidden_website", hidden_website="http://bot.example/"))
    assert await resp.text() == "true"
    assert resp.headers["X-akismet-pro-tip"] == "discard"
    # A very high spam score too; ordinary spam is "true" without discard.
    with serving(api, Fixed(spam=0.999)):
        resp = await post(api, "/1.1/comment-check", comment(JUDOL))
    assert await resp.text() == "true" and resp.headers["X-akismet-pro-tip"] == "discard"
    with serving(api, Fixed(spam=0.8)):
        resp = await post(api, "/1.1/comment-check", comment(JUDOL))
    assert await resp.text() == "true" and "X-akismet-pro-tip" not in resp.headers


async def test_documented_test_values(api: Api) -> None:
    # akismet.com comment-check docs: comment_author "viagra-test-123" or comment_author_email
    # "akismet-guaranteed-spam@example.com" always answer "true"; user_role "administrator" always "false".
    for extra in ({"comment_author": "viagra-test-123"}, {"comment_author_email": "akismet-guaranteed-spam@example.com"}):
        resp = await post(api, "/1.1/comment-check", comment(HAM, **extra, is_test="1"))
        assert await resp.text() == "true"
    resp = await post(api, "/1.1/comment-check", comment(JUDOL, user_role="administrator", is_test="1"))
    assert await resp.text() == "false"


async def test_toxic_only_is_not_spam(api: Api) -> None:
    # We would hold this comment (toxic), but Akismet answers about spam only: "false".
    resp = await post(api, "/1.1/comment-check", comment(INSULT))
    assert await resp.text() == "false"
    assert "toxic" in resp.headers["X-moderation-reasons"].split(",")


async def test_disallowed_key_is_spam_moderation_key_is_not(make_api: MakeApi, settings: Settings) -> None:
    policy = Policy(disallowed_terms=("pinjol",), moderation_terms=("korupsi",))
    api = await make_api(Settings(data_dir=settings.data_dir, models_dir=settings.models_dir,
                                  policy=PolicyBook(default=policy)))
    resp = await post(api, "/1.1/comment-check", comment("Butuh dana cepat? P1nj0l tanpa jaminan, hubungi kami"))
    assert await resp.text() == "true"
    assert "policy.disallowed_key" in resp.headers["X-moderation-reasons"]
    resp = await post(api, "/1.1/comment-check", comment("Kasus korupsi ini harus diusut tuntas oleh aparat"))
    assert await resp.text() == "false"


async def test_no_model_answers_503_not_false(api: Api) -> None:
    api.app[SCORER].current = None
    resp = await post(api, "/1.1/comment-check", comment(HAM))
    assert resp.status == 503 and resp.content_type == "text/plain"
    assert resp.headers["X-akismet-debug-help"] == "classifier unavailable"
    # Evidence that needs no model still answers.
    resp = await post(api, "/1.1/comment-check", comment(HAM, honeypot_field_name="hp", hp="x"))
    assert resp.status == 200 and await resp.text() == "true"


async def test_comment_check_stores_nothing_and_never_logs_the_email(api: Api, settings: Settings) -> None:
    with capture_logs() as logs:
        resp = await post(api, "/1.1/comment-check", comment(JUDOL))
    assert await resp.text() == "true"
    assert labels(settings) == []
    path = settings.effective_database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM comments").fetchone()[0] == 0
    assert EMAIL not in repr(logs) and JUDOL not in repr(logs) and "203.0.113.7" not in repr(logs)
    line = next(e for e in logs if e.get("event") == "request")
    assert line["route"] == "/1.1/comment-check" and line["akismet"] in ("spam", "discard")


async def test_get_is_refused_in_plain_text(api: Api) -> None:
    resp = await api.client.get("/1.1/comment-check")
    assert resp.status == 405 and resp.content_type == "text/plain" and resp.headers["Allow"] == "POST"


# --- contract: submit-spam / submit-ham ----------------------------------------------------------------


async def test_submit_spam_and_ham_are_training_labels(api: Api, settings: Settings) -> None:
    # spec.yml ThanksResponse: text/plain "Thanks for making the web a better place."
    resp = await post(api, "/1.1/submit-spam", comment("Info slot anti rungkad, cek bio kami"))
    assert resp.status == 200 and await resp.text() == THANKS
    resp = await post(api, "/1.1/submit-ham", comment(HAM))
    assert await resp.text() == THANKS
    # is_test: Akismet learns nothing from a test call, neither do we; no content: nothing to learn.
    assert await (await post(api, "/1.1/submit-spam", comment(JUDOL, is_test="true"))).text() == THANKS
    assert await (await post(api, "/1.1/submit-ham", comment(""))).text() == THANKS
    rows = labels(settings)
    assert rows == [
        ("Info slot anti rungkad, cek bio kami", "spam", "akismet.submit-spam", "https://berita.example.co.id/"),
        (HAM, "ham", "akismet.submit-ham", "https://berita.example.co.id/"),
    ]
    path = settings.effective_database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        stored = repr(conn.execute("SELECT * FROM training_labels").fetchall())
    assert EMAIL not in stored and "Budi" not in stored and "203.0.113.7" not in stored
    resp = await post(api, "/1.1/submit-spam", comment(JUDOL), key="123YourAPIKey")
    assert await resp.text() == "invalid"


async def test_latin1_blog_charset(api: Api) -> None:
    key = await api.key()
    body = f"api_key={key}&blog=http%3A%2F%2Fx.example%2F&comment_content=caf%E9+enak&user_ip=1.2.3.4"
    resp = await api.client.post("/1.1/submit-ham", data=body.encode("ascii"),
                                 headers={"Content-Type": "application/x-www-form-urlencoded; charset=ISO-8859-1"})
    assert await resp.text() == THANKS


# --- a real client: the akismet client (PyPI akismet, ubernostrum) ---------------------------------------------------------


async def test_python_akismet_client_drives_every_endpoint(api: Api, settings: Settings) -> None:
    # The akismet client has no base-URL setting (its API URL is a constant); its documented http_client
    # argument takes an httpx client, and an httpx transport can send rest.akismet.com's URLs here.
    # Installed by the test extra; a missing install must fail here, not skip.
    import akismet
    import httpx
    server = api.client.server

    class ToThisService(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: Any) -> Any:
            request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=server.port)
            request.headers["Host"] = f"127.0.0.1:{server.port}"
            return await self.inner.handle_async_request(request)

        async def aclose(self) -> None:
            await self.inner.aclose()

    key = await api.key()
    config = akismet.Config(key=key, url="https://berita.example.co.id/")
    http = httpx.AsyncClient(transport=ToThisService(), headers={"User-Agent": akismet.USER_AGENT}, timeout=10)
    async with http:
        client = await akismet.AsyncClient.validated_client(config=config, http_client=http)  # verify-key
        assert await client.verify_key() is True
        assert await client.verify_key(key="123YourAPIKey", url="https://x.example/") is False
        fields = {k: v for k, v in comment(JUDOL).items() if k not in ("blog", "user_ip")}
        # The tiny test model is sure of this judol ad: blatant spam, "true" + discard for the client.
        assert await client.comment_check("203.0.113.7", **fields) in (
            akismet.CheckResponse.SPAM, akismet.CheckResponse.DISCARD)
        fields["comment_content"] = HAM
        assert await client.comment_check("203.0.113.7", **fields) == akismet.CheckResponse.HAM
        assert await client.comment_check("203.0.113.7", comment_content=HAM, honeypot_field_name="comment_context",
                                          comment_context="x") == akismet.CheckResponse.HAM
        assert await client.submit_spam("203.0.113.7", comment_content="Bandar togel terpercaya wd cepat") is True
        assert await client.submit_ham("203.0.113.7", comment_content=HAM) is True
        with pytest.raises(akismet.APIKeyError):
            bad = akismet.AsyncClient(config=akismet.Config(key="123YourAPIKey", url="https://x.example/"),
                                      http_client=http)
            await bad.comment_check("203.0.113.7", comment_content=HAM)
    assert [(row[1], row[2]) for row in labels(settings)] == [
        ("spam", "akismet.submit-spam"), ("ham", "akismet.submit-ham")]


class Slow(Fixed):
    """A model that takes longer than the policy lets the classifiers take."""

    def predict_scores(self, texts: list[str]) -> list[dict[str, float]]:
        time.sleep(0.5)
        return super().predict_scores(texts)


async def test_comment_check_scores_under_the_policy_classifier_timeout(make_api: MakeApi,
                                                                        settings: Settings) -> None:
    # The same timeout as /v1/comments (services.assess): a slow model is "unavailable", not waited for.
    policy = Policy(classifier_timeout_seconds=0.05)
    api = await make_api(Settings(data_dir=settings.data_dir, models_dir=settings.models_dir,
                                  policy=PolicyBook(default=policy)))
    with serving(api, Slow(spam=0.01)):
        started = time.perf_counter()
        resp = await post(api, "/1.1/comment-check", comment(HAM))
        waited = time.perf_counter() - started
    assert resp.status == 503 and resp.headers["X-akismet-debug-help"] == "classifier unavailable"
    assert waited < 0.4


# -- Akismet-shaped aliases and the account calls (the WordPress plugin's settings page) ----------------


async def alias_of_site_key(api: Api, site: str = "kompas-test") -> tuple[str, str]:
    """A site key and a 12-hex alias of it, as ``moderation keys create --akismet`` makes them."""
    key = await api.key(site=site)
    record = await api.app[STORE].find_api_key(hash_key(key))
    assert record is not None
    alias = new_akismet_alias()
    await api.app[STORE].create_akismet_alias(api_key_id=record.id, alias_hash=hash_key(alias),
                                              now=datetime.now(UTC))
    return key, alias


async def test_akismet_alias_stands_for_its_site_key_on_the_akismet_endpoints_only(api: Api) -> None:
    key, alias = await alias_of_site_key(api)
    assert len(alias) == 12
    # The plugin's settings page keeps only hex characters: the alias survives it, case and all.
    for sent in (alias, alias.upper()):
        resp = await api.client.post("/1.1/verify-key", data={"key": sent, "blog": "https://berita.example.co.id/"})
        assert await resp.text() == "valid"
    with serving(api, Fixed(spam=0.999)):
        checked = await post(api, "/1.1/comment-check", comment(JUDOL), key=alias)
        assert await checked.text() == "true"
    assert await (await post(api, "/1.1/submit-spam", comment(JUDOL), key=alias)).text() == THANKS
    # Not a bearer key of the API: 48 bits are enough for Akismet's calls, not for reading comments.
    bearer = await api.client.get("/v1/comments/1", headers={"Authorization": f"Bearer {alias}"})
    assert bearer.status == 401
    unknown = await api.client.post("/1.1/verify-key", data={"key": "0123456789ab"})
    assert await unknown.text() == "invalid" and "alias" in unknown.headers["X-akismet-debug-help"]


async def test_akismet_alias_dies_with_its_key(api: Api, settings: Settings) -> None:
    key, alias = await alias_of_site_key(api)
    with sqlite3.connect(settings.effective_database_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE api_keys SET revoked_at = '2026-01-01T00:00:00.000000Z'")
    resp = await api.client.post("/1.1/verify-key", data={"key": alias})
    assert await resp.text() == "invalid"


async def test_account_calls_answer_plainly(api: Api) -> None:
    _, alias = await alias_of_site_key(api)
    subscription = await api.client.post("/1.1/get-subscription", data={"key": alias, "blog": "https://b.example/"})
    assert subscription.status == 200
    assert (await subscription.json())["status"] == "active"
    stats = await (await api.client.post("/1.1/get-stats", data={"key": alias, "from": "all"})).json()
    assert stats["spam"] == 0 and stats["accuracy"] == 0
    assert await (await api.client.post("/1.1/deactivate", data={"key": alias})).text() == "deactivated"
    usage = await (await api.client.post("/1.2/usage-limit", data={"api_key": alias})).json()
    assert usage == {"limit": "none", "usage": 0, "percentage": "0", "throttled": False}
    sites = await (await api.client.post("/1.2/key-sites", data={"api_key": alias})).json()
    assert sites["sites"] == [] and sites["total"] == 0
    csv = await api.client.post("/1.2/key-sites", data={"api_key": alias, "format": "csv"})
    assert (await csv.text()).startswith("Site,Total API calls")
    wpcom = await api.client.post("/1.1/verify-wpcom-key", data={"api_key": alias, "user_id": "1"})
    assert await wpcom.text() == "invalid"
    for path in ("/1.1/get-subscription", "/1.2/usage-limit"):
        refused = await api.client.post(path, data={"key": "not-a-key"})
        assert await refused.text() == "invalid" and refused.headers["X-akismet-debug-help"]


# --- what the site's moderators taught counts in comment-check too ----------------------------------------


async def test_comment_check_counts_an_author_a_moderator_blocked(api: Api, clock: FakeClock) -> None:
    clock.advance(60)
    posted = await api.post_comment(content=HAM, author_email=EMAIL)
    assert posted.status == 201, await posted.text()
    comment_id = (await posted.json())["id"]
    assert await (await post(api, "/1.1/comment-check", comment(HAM))).text() == "false"
    mod = await api.key(Role.MODERATOR)
    resp = await api.client.put(f"/v1/comments/{comment_id}/author-block", headers=auth(mod))
    assert resp.status == 200, await resp.text()

    # The same address in another spelling: matched on the keyed hash; another author is not affected.
    blocked = await post(api, "/1.1/comment-check", comment(HAM, comment_author_email=EMAIL.upper()))
    assert await blocked.text() == "true"
    assert "author.blocked" in blocked.headers["X-moderation-reasons"].split(",")
    other = await post(api, "/1.1/comment-check", comment(HAM, comment_author_email="ani@example.com"))
    assert await other.text() == "false"


async def test_comment_check_counts_a_campaign_the_moderators_rejected(api: Api, clock: FakeClock) -> None:
    assert await (await post(api, "/1.1/comment-check", comment(CAMPAIGN[4]))).text() == "false"
    first = [await post_comment(api, clock, text, n) for n, text in enumerate(CAMPAIGN[:3])]
    for published in first:
        await report_and_reject(api, published["id"])
    indexed = api.app[CAMPAIGNS].index_size("kompas-test")
    checked = await post(api, "/1.1/comment-check", comment(CAMPAIGN[4]))
    assert await checked.text() == "true"
    assert "campaign" in checked.headers["X-moderation-reasons"].split(",")
    # comment-check only looked: nothing was added to the site's campaign memory.
    assert api.app[CAMPAIGNS].index_size("kompas-test") == indexed == 3
