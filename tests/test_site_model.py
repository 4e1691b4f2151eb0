"""The online per-site head: moderator decisions on one site change how that site's comments are scored."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema_rs
import numpy as np
import pytest

from moderation.app import create_app
from moderation.domain import Role
from moderation.appkeys import SITE_LEARNER, SITE_MODEL_CONFIG
from moderation.artefacts import load_model
from moderation.pipeline.site_model import SiteModelConfig, SiteModels
from moderation.settings import CampaignSettings, Settings
from training.export import write_model
from training.pipelines import fit_text_model

from .conftest import HAM, SPAM, TOXIC, Api, FakeClock
from .test_openapi_conformance import DOC

# A kind of spam the tiny shared model has never seen: it scores these well under 0.01.
NEW_KIND = ["titip lapak kak, jual obat herbal murah {i}", "cek profil saya untuk obat kuat asli {i}",
            "jual akun game murah meriah {i} hubungi saya"]
NORMAL = ["warga desa {i} berharap jalan segera diperbaiki", "beritanya bagus, semoga pemerintah {i} mendengar",
          "harga bahan pokok di pasar {i} mulai naik"]


def label_rows(n: int, site: str = "site-a", start_id: int = 1) -> list[dict[str, Any]]:
    """Two rejections of the new kind for every approval of a normal comment, as a moderator would log them."""
    rows = []
    for i in range(n):
        spam = i % 3 != 2
        text = (NEW_KIND if spam else NORMAL)[i % 3].format(i=i)
        rows.append({"id": start_id + i, "site_id": site, "text": text, "label": "spam" if spam else "ham",
                     "source": "moderator", "decided_at": f"2026-11-25T08:{i // 60:02d}:{i % 60:02d}.000000Z"})
    return rows


def spam_of(models: SiteModels, site: str, text: str) -> float:
    loaded = models.loaded
    scores = loaded.model.predict_scores([text])[0]
    adjusted = models.sites[site].adjust(loaded, text, scores) if site in models.sites else {}
    return adjusted.get("spam", {}).get("score", scores["spam"])


@pytest.fixture
def loaded(tiny_models_dir: Path) -> Any:
    return load_model(tiny_models_dir)


def test_untrained_head_changes_nothing_until_enough_labels_of_both_classes(loaded: Any) -> None:
    models = SiteModels(loaded, SiteModelConfig())
    text = NEW_KIND[0].format(i=999)
    shared = loaded.model.predict_scores([text])[0]["spam"]
    only_rejections = [dict(r, label="spam", text=NEW_KIND[r["id"] % 3].format(i=r["id"])) for r in label_rows(60)]
    models.learn_rows(only_rejections)
    # 60 rejections and no approval: one class only, the head must not move (it could hold everything).
    assert models.sites["site-a"].heads["spam"].n == 60
    assert spam_of(models, "site-a", text) == shared
    models = SiteModels(loaded, SiteModelConfig())
    models.learn_rows(label_rows(15))  # both classes, but fewer than min_labels
    assert spam_of(models, "site-a", text) == shared


def test_rejections_of_a_new_kind_raise_it_on_that_site_only(loaded: Any) -> None:
    models = SiteModels(loaded, SiteModelConfig())
    probe, normal = NEW_KIND[1].format(i=5000), "semoga banjir cepat surut dan warga aman"
    shared = loaded.model.predict_scores([probe])[0]["spam"]
    assert shared < 0.05
    models.learn_rows(label_rows(90))
    assert spam_of(models, "site-a", probe) > 0.5 > shared
    assert spam_of(models, "site-a", normal) < 0.05  # the site's ordinary comments stay low
    assert "site-b" not in models.sites and spam_of(models, "site-b", probe) == shared
    # The blend is bounded: at most max_shift logits from the shared model's own answer.
    head = models.sites["site-a"].heads["spam"]
    z = np.log(shared / (1 - shared))
    assert spam_of(models, "site-a", probe) <= 1 / (1 + np.exp(-(z + head.config.max_shift))) + 1e-9


def test_only_moderator_labels_train_and_the_shared_models_own_labels_are_skipped(tiny_models_dir: Path) -> None:
    loaded = load_model(tiny_models_dir)
    models = SiteModels(loaded, SiteModelConfig())
    rows = label_rows(60)
    feedback = [dict(r, source="akismet.submit-spam") for r in rows]
    assert models.learn_rows(feedback) == 0 and not models.sites
    assert models.last_id == 60  # read, and not read again
    # A model retrained on labels up to some time replays only the newer ones.
    cutoff = rows[39]["decided_at"]
    manifest = dict(loaded.manifest, training={"site_labels": {"trained_until": cutoff}})
    models = SiteModels(replace(loaded, manifest=manifest), SiteModelConfig())
    assert models.learn_rows(rows) == 20


# -- through the service ---------------------------------------------------------------------------------


async def start(aiohttp_client: Any, settings: Settings, clock: FakeClock) -> Api:
    # The campaign memory would hold these near-duplicates after 3 rejections on its own: it is kept from
    # holding here so that what these tests see is the site head alone.
    settings = replace(settings, campaigns=CampaignSettings(min_rejections=1_000_000))
    app = create_app(settings, clock=clock)
    app[SITE_MODEL_CONFIG] = replace(SiteModelConfig(), poll_seconds=3600)  # tests sync by hand
    return Api(client=await aiohttp_client(app), app=app)


async def post(api: Api, clock: FakeClock, site: str, text: str, n: int) -> dict[str, Any]:
    clock.advance(30)
    resp = await api.post_comment(key=await api.key(Role.SITE, site), author_email=f"reader{n}@example.com",
                                  content=text)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def moderate(api: Api, clock: FakeClock, site: str, comment: dict[str, Any], spam: bool) -> None:
    """Take down a published spam comment, or approve a reported normal one (reports alone teach nothing)."""
    headers = {"Authorization": f"Bearer {await api.key(Role.MODERATOR, site)}"}
    if spam:
        body = {"action": "remove", "label": "spam", "revision": 1}
    else:
        site_key = {"Authorization": f"Bearer {await api.key(Role.SITE, site)}"}
        resp = await api.client.post(f"/v1/comments/{comment['id']}/reports", json={"reason": "spam"},
                                     headers=site_key)
        assert resp.status == 201
        body = {"action": "approve", "label": "ham", "revision": 1}
    clock.advance(1)
    resp = await api.client.post(f"/v1/comments/{comment['id']}/decision", json=body, headers=headers)
    assert resp.status == 200, await resp.text()


async def test_a_site_whose_moderators_reject_a_new_kind_holds_it_after_n_decisions(
    aiohttp_client: Any, settings: Settings, clock: FakeClock
) -> None:
    api = await start(aiohttp_client, settings, clock)
    learner = api.app[SITE_LEARNER]
    held_at = None
    for i in range(90):
        spam = i % 3 != 2
        text = (NEW_KIND if spam else NORMAL)[i % 3].format(i=i)
        comment = await post(api, clock, "site-a", text, i)
        if spam and comment["decision"] == "hold":
            held_at = held_at or i
            continue
        await moderate(api, clock, "site-a", comment, spam)
        await learner.sync()
    assert held_at is not None and held_at >= 20, held_at  # never before the head has enough labels

    probe = NEW_KIND[2].format(i=7777)
    on_a = await post(api, clock, "site-a", probe, 1000)
    assert on_a["decision"] == "hold"
    spam_reason = next(r for r in on_a["reasons"] if r["code"] == "spam")
    assert spam_reason["site_model"]["labels"] >= 20
    assert spam_reason["site_model"]["global_score"] < 0.05 < spam_reason["score"]
    assert "moderators" in spam_reason["message"]
    reason_schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": DOC["components"],
                     "$ref": "#/components/schemas/Reason"}
    assert not [e.message for r in on_a["reasons"] for e in jsonschema_rs.validator_for(reason_schema).iter_errors(r)]
    # Another site's readers post the same: its moderators decided nothing, the shared model alone scores it.
    on_b = await post(api, clock, "site-b", probe, 1001)
    assert on_b["decision"] == "publish" and on_b["scores"]["spam"] < 0.05
    # Site A's ordinary comments are still published.
    assert (await post(api, clock, "site-a", "semoga banjir cepat surut dan warga aman", 1002))["decision"] == "publish"

    # After a restart the heads come back from the database (the label table), not from a file.
    second = await start(aiohttp_client, settings, clock)
    await second.app[SITE_LEARNER].sync()
    again = await post(second, clock, "site-a", NEW_KIND[2].format(i=8888), 1003)
    assert again["decision"] == "hold"


async def test_readers_reports_never_train_the_head(aiohttp_client: Any, settings: Settings,
                                                    clock: FakeClock) -> None:
    api = await start(aiohttp_client, settings, clock)
    site_key = {"Authorization": f"Bearer {await api.key(Role.SITE, 'site-c')}"}
    for i in range(40):
        comment = await post(api, clock, "site-c", NEW_KIND[i % 3].format(i=i), i)
        for reader in ("r1", "r2", "r3"):
            resp = await api.client.post(f"/v1/comments/{comment['id']}/reports",
                                         json={"reason": "spam", "reporter": reader}, headers=site_key)
            assert resp.status == 201
    await api.app[SITE_LEARNER].sync()
    assert api.app[SITE_LEARNER].for_site("site-c") is None


async def test_promotion_resets_and_replays_the_heads(aiohttp_client: Any, settings: Settings, clock: FakeClock,
                                                      tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    texts = SPAM + TOXIC + HAM
    labels = {"spam": [1] * len(SPAM) + [0] * (len(TOXIC) + len(HAM)),
              "toxic": [0] * len(SPAM) + [1] * len(TOXIC) + [0] * len(HAM)}
    write_model(fit_text_model(texts, labels, seed=0), models_dir, version="2026.01.01-a")
    api = await start(aiohttp_client, replace(settings, models_dir=models_dir), clock)
    learner = api.app[SITE_LEARNER]
    for i in range(30):
        spam = i % 3 != 2
        comment = await post(api, clock, "site-a", (NEW_KIND if spam else NORMAL)[i % 3].format(i=i), i)
        await moderate(api, clock, "site-a", comment, spam)
    await learner.sync()
    before = learner.for_site("site-a")
    assert before is not None and before.version == "2026.01.01-a" and before.heads["spam"].n == 30

    write_model(fit_text_model(texts, labels, seed=1), models_dir, version="2026.01.02-b")
    operator = {"Authorization": f"Bearer {await api.key(Role.OPERATOR)}"}
    resp = await api.client.post("/v1/admin/models/reload", headers=operator)
    assert (await resp.json())["version"] == "2026.01.02-b"
    # The old version's head is never applied to the new model (the rebuild may or may not be done yet).
    meanwhile = learner.for_site("site-a")
    assert meanwhile is None or meanwhile.version == "2026.01.02-b"
    await learner.sync()
    after = learner.for_site("site-a")
    assert after is not None and after is not before
    assert after.version == "2026.01.02-b" and after.heads["spam"].n == 30
    json.dumps(after.summary())  # plain numbers, ready for an admin view


async def test_a_failing_site_head_falls_back_to_the_shared_score(aiohttp_client: Any, settings: Settings,
                                                                  clock: FakeClock, monkeypatch: Any) -> None:
    from datetime import datetime, timezone

    from moderation.appkeys import STORE
    from moderation.pipeline.site_model import SiteModel
    from moderation.store import TrainingLabel

    api = await start(aiohttp_client, settings, clock)
    store = api.app[STORE]
    for row in label_rows(60):
        await store.add_training_label(TrainingLabel(site_id="site-a", text=row["text"], label=row["label"],
                                                     source="moderator"), datetime.now(timezone.utc))
    await api.app[SITE_LEARNER].sync()  # the background task may have learnt some of them already
    site = api.app[SITE_LEARNER].for_site("site-a")
    assert site is not None and site.heads["spam"].n == 60 and site.active()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("site head broke")

    monkeypatch.setattr(SiteModel, "adjust", broken)
    probe = NEW_KIND[1].format(i=4242)
    comment = await post(api, clock, "site-a", probe, 1)
    shared = api.app[SITE_LEARNER].models.loaded.model.predict_scores([probe])[0]["spam"]
    assert comment["scores"]["spam"] == round(shared, 4)
    assert all("site_model" not in r for r in comment["reasons"])
