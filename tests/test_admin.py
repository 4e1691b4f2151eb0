"""Hot reload, rollback on a running service, and model quality stats."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from moderation.domain import Role
from moderation.artefacts import load_model
from moderation.registry import promote, rollback
from moderation.settings import Settings

from .conftest import HAM, SPAM, MakeApi, fit_tiny_model


def two_versions(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    fit_tiny_model(models, version="2026.01.01-a")
    # The second version sees the texts with spam and ham swapped, so the two give clearly different scores.
    from training.export import write_model
    from training.pipelines import fit_text_model

    texts = SPAM + HAM
    model = fit_text_model(texts, {"spam": [0] * len(SPAM) + [1] * len(HAM), "toxic": [0] * len(texts)}, seed=0)
    write_model(model, models, version="2026.02.01-b", thresholds={"spam": 0.5, "toxic": 0.5}, set_current=False)
    (models / "CURRENT").write_text("2026.01.01-a\n")
    return models


async def test_reload_needs_an_operator_key(make_api: MakeApi) -> None:
    api = await make_api()
    resp = await api.client.post("/v1/admin/models/reload")
    assert resp.status == 401
    for role in (Role.SITE, Role.MODERATOR, Role.ADMIN):  # the model is every site's: no site's key switches it
        resp = await api.client.post("/v1/admin/models/reload",
                                     headers={"Authorization": f"Bearer {await api.key(role)}"})
        assert resp.status == 403, role
    operator = await api.key(Role.OPERATOR)
    assert operator.startswith("mod_op_")
    resp = await api.client.post("/v1/admin/models/reload", headers={"Authorization": f"Bearer {operator}"})
    assert resp.status == 200
    # An operator key manages no site: the site endpoints refuse it.
    for path in ("/v1/admin/stats", "/v1/admin/webhook", "/v1/queue"):
        assert (await api.client.get(path, headers={"Authorization": f"Bearer {operator}"})).status == 403


async def test_promote_reload_and_rollback_under_load(make_api: MakeApi, settings: Settings, tmp_path: Path,
                                                      clock: object) -> None:
    models = two_versions(tmp_path)
    api = await make_api(replace(settings, models_dir=models))
    admin = {"Authorization": f"Bearer {await api.key(Role.OPERATOR)}"}
    expected = {v: load_model(models, v).model for v in ("2026.01.01-a", "2026.02.01-b")}
    text = "slot gacor maxwin daftar sekarang"

    async def submit(i: int) -> dict[str, object]:
        resp = await api.post_comment(author_email=f"user{i}@example.com", content=f"{text} {i}")
        assert resp.status == 201, await resp.text()
        return await resp.json()

    async def swap() -> None:
        await asyncio.sleep(0.01)
        promote(models, "2026.02.01-b")
        resp = await api.client.post("/v1/admin/models/reload", headers=admin)
        assert resp.status == 200
        assert await resp.json() == {"previous": "2026.01.01-a", "version": "2026.02.01-b"}

    results = await asyncio.gather(*(submit(i) for i in range(40)), swap())
    answers = [r for r in results if r is not None]
    versions = {a["models"]["spam"] for a in answers}
    assert versions <= {"2026.01.01-a", "2026.02.01-b"}
    for answer in answers:  # every answer is scored by exactly the version it names
        version = answer["models"]["spam"]
        want = expected[version].predict_scores([answer["comment"]["content"]])[0]["spam"]
        assert abs(answer["scores"]["spam"] - want) < 1e-3
    after = await (await api.post_comment(author_email="late@example.com", content="komentar baru")).json()
    assert after["models"]["spam"] == "2026.02.01-b"

    rollback(models)
    resp = await api.client.post("/v1/admin/models/reload", headers=admin)
    assert (await resp.json())["version"] == "2026.01.01-a"
    listing = await (await api.client.get("/v1/admin/models", headers=admin)).json()
    assert listing["serving"] == "2026.01.01-a"
    assert [v["version"] for v in listing["versions"]] == ["2026.01.01-a", "2026.02.01-b"]


async def test_failed_reload_keeps_serving_old_model(make_api: MakeApi, settings: Settings, tmp_path: Path) -> None:
    models = two_versions(tmp_path)
    api = await make_api(replace(settings, models_dir=models))
    admin = {"Authorization": f"Bearer {await api.key(Role.OPERATOR)}"}
    (models / "2026.02.01-b" / "model.npz").write_bytes(b"tampered")
    (models / "CURRENT").write_text("2026.02.01-b\n")
    resp = await api.client.post("/v1/admin/models/reload", headers=admin)
    assert resp.status == 503
    assert (await resp.json())["error"]["code"] == "model_reload_failed"
    body = await (await api.post_comment()).json()
    assert body["models"]["spam"] == "2026.01.01-a" and body["decision"] == "publish"


async def test_stats_per_model_version(make_api: MakeApi) -> None:
    api = await make_api()
    await api.post_comment()
    await api.post_comment(author_email="x@example.com", content="https://a.x/1 https://b.x/2 https://c.x/3 lihat")
    resp = await api.client.get("/v1/admin/stats", headers={"Authorization": f"Bearer {await api.key(Role.ADMIN)}"})
    body = await resp.json()
    assert body["serving"] == "2026.01.01-test"
    row = body["models"][0]
    assert row["model_version"] == "2026.01.01-test"
    assert (row["comments"], row["auto_published"], row["auto_held"]) == (2, 1, 1)
