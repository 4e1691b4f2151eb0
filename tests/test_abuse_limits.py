"""Abuse limits: token buckets per key and per author (429 + Retry-After, per site), sign-in backoff on /moderate."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from moderation.domain import Role
from moderation.appkeys import STORE
from moderation.policy import Policy, PolicyBook, load_policy
from moderation.ratelimit import SignInLimits, SignInThrottle, TokenBuckets
from moderation.settings import Settings

from .conftest import FakeClock, MakeApi, valid_comment
from .test_pages import csrf_of


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(clock)
    assert [buckets.take("k", 2.0, 3) for _ in range(3)] == [None, None, None]
    assert buckets.take("k", 2.0, 3) == 0.5  # one token takes half a second at 2/s
    clock.advance(0.5)
    assert buckets.take("k", 2.0, 3) is None
    assert buckets.take("other", 2.0, 3) is None  # buckets are independent
    clock.advance(3600)
    assert [buckets.take("k", 2.0, 3) for _ in range(4)][-1] == 0.5  # refilled to the burst, not beyond
    assert all(buckets.take("k", 0, 3) is None for _ in range(10))  # 0 turns the limit off


def test_sign_in_delay_doubles_after_the_free_failures_and_success_resets() -> None:
    clock = FakeClock()
    throttle = SignInThrottle(clock, SignInLimits(free_failures=2, first_delay=1, max_delay=8))
    waits = []
    for _ in range(7):
        throttle.failed("client:a", "prefix:mod_mod_abcd")
        waits.append(throttle.wait("client:a"))
        clock.advance(waits[-1] or 0)
    assert waits == [None, None, 1, 2, 4, 8, 8]
    assert throttle.wait("client:b", "prefix:mod_mod_abcd") is None  # its lock has just run out
    throttle.failed("client:b", "prefix:mod_mod_abcd")
    assert throttle.wait("client:b", "prefix:mod_mod_abcd") == 8  # another client, same prefix: still slowed
    assert throttle.wait("client:b") is None
    throttle.succeeded("client:a", "prefix:mod_mod_abcd")
    assert throttle.wait("client:a", "prefix:mod_mod_abcd") is None


def test_policy_file_sets_limits_per_site(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[default]\nkey_requests_per_second = 10\nauthor_burst = 5\n'
                    '[sites."busy"]\nkey_requests_per_second = 0\n', encoding="utf-8")
    book = load_policy(path)
    assert (book.default.key_requests_per_second, book.default.author_burst) == (10, 5)
    assert (book.for_site("busy").key_requests_per_second, book.for_site("busy").author_burst) == (0, 5)


def limited(settings: Settings, **site_b: float) -> Settings:
    default = Policy(key_requests_per_second=1, key_burst=3, author_comments_per_hour=60, author_burst=2,
                     flood_interval_seconds=0)
    return replace(settings, policy=PolicyBook(default=default, sites={"site-b": replace(default, **site_b)}))


async def test_a_key_over_its_bucket_gets_429_with_retry_after(make_api: MakeApi, settings: Settings,
                                                                clock: FakeClock) -> None:
    api = await make_api(limited(settings, key_burst=6))
    mod = {"Authorization": f"Bearer {await api.key(Role.MODERATOR)}"}
    other = {"Authorization": f"Bearer {await api.key(Role.ADMIN)}"}
    statuses = [(await api.client.get("/v1/queue/counts", headers=mod)).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    resp = await api.client.get("/v1/queue/counts", headers=mod)
    assert resp.status == 429 and resp.headers["Retry-After"] == "1"
    body = await resp.json()
    assert body["error"]["code"] == "rate_limited" and body["error"]["limit"] == "key"
    assert (await api.client.get("/v1/queue/counts", headers=other)).status == 200  # each key has its own bucket
    clock.advance(1)
    assert (await api.client.get("/v1/queue/counts", headers=mod)).status == 200
    # Per site: site-b's policy gives its keys a burst of 6.
    mod_b = {"Authorization": f"Bearer {await api.key(Role.MODERATOR, 'site-b')}"}
    statuses = [(await api.client.get("/v1/queue/counts", headers=mod_b)).status for _ in range(7)]
    assert statuses == [200] * 6 + [429]


async def test_an_author_over_its_bucket_gets_429_and_nothing_is_stored(make_api: MakeApi, settings: Settings,
                                                                         clock: FakeClock) -> None:
    api = await make_api(limited(settings, key_requests_per_second=0))
    site = await api.key(Role.SITE, "site-b")  # no key limit on site-b: only the author bucket counts

    async def post(n: int, email: str, ip: str) -> int:
        resp = await api.post_comment(valid_comment(content=f"Komentar ke-{n} tentang banjir di kota kami",
                                                    author_email=email, author_ip=ip), key=site)
        if resp.status == 429:
            body = await resp.json()
            assert body["error"]["code"] == "rate_limited" and body["error"]["limit"] == "author"
            assert resp.headers["Retry-After"] == "60"  # 60 per hour: one token a minute
        return resp.status

    assert [await post(n, "ani@example.com", "203.0.113.5") for n in range(3)] == [201, 201, 429]
    # The same person with another e-mail but the same address (spelt as IPv4-mapped IPv6) is still limited...
    assert await post(3, "ani.lain@example.com", "::ffff:203.0.113.5") == 429
    # ...and the same e-mail from elsewhere too (any upper case in the domain is the same e-mail).
    assert await post(4, "ani@EXAMPLE.com", "198.51.100.9") == 429
    assert await post(5, "budi@example.com", "198.51.100.10") == 201
    clock.advance(60)
    assert await post(6, "ani@example.com", "203.0.113.5") == 201
    counts = await api.app[STORE].queue_counts("site-b")
    assert sum(counts["by_status"].values()) == 4  # the refused ones left nothing behind


async def test_sign_in_is_slowed_after_failures_then_works(make_api: MakeApi, settings: Settings,
                                                            clock: FakeClock) -> None:
    api = await make_api(settings)
    good = await api.key(Role.MODERATOR)

    async def attempt(key: str) -> tuple[int, str | None]:
        form = await (await api.client.get("/moderate/sign-in")).text()
        resp = await api.client.post("/moderate/sign-in", data={"csrf": csrf_of(form), "key": key},
                                     allow_redirects=False)
        return resp.status, resp.headers.get("Retry-After")

    wrong = "mod_mod_" + "x" * 43
    results = [await attempt(wrong) for _ in range(6)]
    assert results == [(401, None)] * 6  # five free failures; the sixth sets a 1 s wait
    assert await attempt(good) == (429, "1")  # while waiting, not even the right key is looked at
    clock.advance(1)
    assert await attempt(wrong) == (401, None)
    assert await attempt(wrong) == (429, "2")  # the wait doubles
    clock.advance(2)
    status, _ = await attempt(good)
    assert status == 303
    api.client.session.cookie_jar.clear()
    assert (await attempt(wrong))[0] == 401  # success forgot the failures


async def test_the_limit_answer_is_described(make_api: MakeApi, settings: Settings) -> None:
    """429 rate_limited carries retry_after in the body as the flood answer does."""
    api = await make_api(limited(settings))
    mod = {"Authorization": f"Bearer {await api.key(Role.MODERATOR)}"}
    for _ in range(3):
        await api.client.get("/v1/queue/counts", headers=mod)
    body = await (await api.client.get("/v1/queue/counts", headers=mod)).json()
    assert body["error"]["retry_after"] == 1


async def test_the_compat_endpoints_answer_429_in_their_own_shapes(make_api: MakeApi, settings: Settings) -> None:
    api = await make_api(limited(settings))
    key = await api.key(Role.SITE)
    body = {"comment": {"text": "Semoga banjir cepat surut"}, "requestedAttributes": {"SPAM": {}}}
    statuses = [(await api.client.post(f"/v1alpha1/comments:analyze?key={key}", json=body)).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    resp = await api.client.post(f"/v1alpha1/comments:analyze?key={key}", json=body)
    assert resp.status == 429 and resp.headers["Retry-After"] == "1"
    assert (await resp.json())["error"]["status"] == "RESOURCE_EXHAUSTED"
    resp = await api.client.post("/1.1/comment-check", data={"api_key": key, "blog": "https://kompas.example",
                                                             "comment_content": "Semoga banjir cepat surut"})
    assert resp.status == 429 and resp.headers["Retry-After"] == "1" and await resp.text() == "invalid"
