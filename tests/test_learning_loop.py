"""The learning loop on tiny data: moderator decisions → export → retrain → gate → promote → reload."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from moderation.domain import Role
from moderation.registry import list_versions, promote
from moderation.settings import Settings
from training.datasets import Record
from training.export import write_model
from training.pipelines import fit_text_model
from training.retrain import GateConfig, PublicSplits, retrain
from training.site_labels import export_labels_async, read_label_file, time_split

from .conftest import HAM, SPAM, TOXIC, MakeApi

# Insults in the slang of one site's readers, which the public data never saw.
SITE_INSULTS = ["cebong {n} kosong melompong", "kadrun {n} bisanya cuma nyinyir", "buzzer {n} dibayar nasi bungkus",
                "dungu {n} pikirannya sempit", "antek asing {n} pengkhianat bangsa"]
SITE_NORMAL = ["semoga kebijakan {n} ini membantu warga", "jalan di desa {n} sudah diperbaiki",
               "harga cabai di pasar {n} turun", "pelayanan puskesmas {n} makin baik", "sekolah {n} butuh guru baru"]


def record(text: str, spam: int, toxic: int, source: str = "tiny") -> Record:
    return Record(text=text, language="id", source=source, kind="comment", labels={"spam": spam, "toxic": toxic})


def public_splits() -> PublicSplits:
    rows = [record(t, 1, 0) for t in SPAM] + [record(t, 0, 1) for t in TOXIC] + [record(t, 0, 0) for t in HAM]
    return PublicSplits(train=rows, val=rows, test=rows, sources=[{"name": "tiny", "licence": "test"}])


def base_models(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    splits = public_splits()
    model = fit_text_model([r.text for r in splits.train],
                           {h: [r.labels[h] for r in splits.train] for h in ("spam", "toxic")}, seed=0)
    write_model(model, models, version="2026.01.01-base", thresholds={"spam": 0.5, "toxic": 0.5})
    return models


def site_rows(n: int, *, flip: bool = False) -> list[dict[str, Any]]:
    rng = random.Random(1)
    rows = []
    for i in range(n):
        toxic = i % 2 == 0
        text = rng.choice(SITE_INSULTS if toxic else SITE_NORMAL).format(n=i)
        label = "toxic" if toxic != flip else "ham"
        labels = {"spam": 0, "toxic": int(label == "toxic")}
        rows.append({"text": text, "label": label, "labels": labels, "site": "kompas-test",
                     "decided_at": f"2026-11-{1 + i // 20:02d}T{i % 20:02d}:00:00.000000Z"})
    return rows


def test_time_split_keeps_the_newest_for_the_gate() -> None:
    rows = site_rows(100)
    train, holdout = time_split(rows, 0.25)
    assert len(holdout) == 25 and len(train) == 75
    assert max(r["decided_at"] for r in train) < min(r["decided_at"] for r in holdout)


def test_candidate_that_learned_the_site_is_promoted(tmp_path: Path) -> None:
    models = base_models(tmp_path)
    # The tiny shared model has no features for the site's slang: only training the labels in can help.
    report = retrain(public_splits(), site_rows(200), models,
                     config=GateConfig(public_tolerance=0.2, site_weight=25.0),
                     version="2026.02.01-cand", progress=False)
    assert report["decision"] == "promote", report["reasons"]
    site = report["site_holdout"]
    assert site["candidate_score"] > site["current_score"]
    manifest = json.loads((models / "2026.02.01-cand" / "manifest.json").read_text())
    assert manifest["gate"]["decision"] == "promote"
    assert (models / "CURRENT").read_text().strip() == "2026.01.01-base"  # retraining never promotes by itself
    gate_dir = Path(report["report_dir"])
    assert (gate_dir / "README.md").read_text().count("PROMOTE") == 1
    assert (gate_dir / "site_toxic_pr.png").stat().st_size > 1000
    assert promote(models, "latest") == "2026.02.01-cand"


def test_worse_candidate_is_refused(tmp_path: Path) -> None:
    models = base_models(tmp_path)
    # Labels that contradict each other over time: what it learns from the old ones fails on the new ones.
    rows = site_rows(200)
    noisy = [dict(r, label="ham", labels={"spam": 0, "toxic": 1 - r["labels"]["toxic"]}) for r in rows[:150]]
    report = retrain(public_splits(), noisy + rows[150:], models, config=GateConfig(site_weight=25.0),
                     version="2026.02.01-bad", progress=False)
    assert report["decision"] == "refuse"
    assert any("site holdout" in reason for reason in report["reasons"])
    assert [v.gate["decision"] for v in list_versions(models) if v.gate] == ["refuse"]


def test_site_thresholds_move_only_within_the_band_and_only_with_enough_labels(tmp_path: Path) -> None:
    from moderation.artefacts import load_model
    from training.retrain import _site_record, tune_site_thresholds

    model = load_model(base_models(tmp_path)).model
    public = {"spam": 0.5, "toxic": 0.5}
    site = [_site_record(r, model.heads) for r in site_rows(200)]
    config = GateConfig()
    tuned, why = tune_site_thresholds(model, public, site, config)
    # The tiny model scores the site's slang insults low: F1 wants a far lower threshold than the floor allows.
    assert tuned["toxic"] == round(public["toxic"] - config.site_threshold_band, 3)
    assert "best F1" in why["toxic"]
    assert tuned["spam"] == public["spam"] and "kept the public threshold" in why["spam"]  # no spam positives
    few, why = tune_site_thresholds(model, public, site[:30], config)
    assert few == public and "need 50" in why["toxic"]
    wide, _ = tune_site_thresholds(model, public, site, replace(config, site_threshold_band=0.45))
    assert public["toxic"] - 0.45 <= wide["toxic"] < tuned["toxic"]


def test_gate_refuses_a_worse_model_even_with_site_tuned_thresholds(tmp_path: Path) -> None:
    models = base_models(tmp_path)
    good = public_splits()
    # A candidate trained on swapped public labels: worse everywhere, whatever its thresholds.
    swapped = [record(r.text, r.labels["toxic"], r.labels["spam"]) for r in good.train]
    bad = PublicSplits(train=swapped, val=good.val, test=good.test, sources=good.sources)
    report = retrain(bad, site_rows(200), models, version="2026.02.01-worse", progress=False)
    assert report["decision"] == "refuse"
    assert any(r.startswith("public test") and "fell" in r for r in report["reasons"])
    assert "toxic" in report["site_thresholds"]["why"]
    assert set(report["site_head"]["current"]) == {"toxic"}  # the served view: model + online site head
    assert (models / "CURRENT").read_text().strip() == "2026.01.01-base"


async def test_end_to_end_decisions_export_retrain_promote_reload(make_api: MakeApi, settings: Settings,
                                                                  tmp_path: Path, clock: Any) -> None:
    models = base_models(tmp_path)
    api = await make_api(replace(settings, models_dir=models, policy=settings.policy))
    moderator = {"Authorization": f"Bearer {await api.key(Role.MODERATOR)}"}
    admin = {"Authorization": f"Bearer {await api.key(Role.ADMIN)}"}
    operator = {"Authorization": f"Bearer {await api.key(Role.OPERATOR)}"}  # reloads the shared model
    # Readers post site-style comments; the base model publishes the insults (it never saw the slang).
    posted = []
    for i, row in enumerate(site_rows(160)):
        clock.advance(60)
        resp = await api.post_comment(author_email=f"r{i}@example.com", content=row["text"])
        assert resp.status == 201
        posted.append((await resp.json(), row))
    missed = [c for c, row in posted if row["label"] == "toxic" and c["decision"] == "publish"]
    assert len(missed) > 40
    # Moderators take down the insults and approve what was held wrongly.
    for comment, row in posted:
        action = None
        if row["label"] == "toxic" and comment["status"] == "published":
            action = {"action": "remove", "label": "toxic"}
        elif row["label"] == "toxic" and comment["status"] == "held":
            action = {"action": "reject", "label": "toxic"}
        elif comment["status"] == "held":
            action = {"action": "approve", "label": "ham"}
        if action:
            clock.advance(1)
            resp = await api.client.post(f"/v1/comments/{comment['id']}/decision",
                                         json={**action, "revision": 1}, headers=moderator)
            assert resp.status == 200, await resp.text()

    labels_file = tmp_path / "labels.jsonl"
    db_url = settings.effective_database_url
    n = await export_labels_async(db_url, labels_file)
    rows = read_label_file(labels_file)
    assert n == len(rows) > 60
    assert "example.com" not in labels_file.read_text()  # no e-mails in training rows

    report = retrain(public_splits(), rows, models,
                     config=GateConfig(public_tolerance=0.2, holdout_fraction=0.3, site_weight=25.0),
                     version="2026.03.01-site", progress=False)
    assert report["decision"] == "promote", report["reasons"]
    promote(models, "latest")
    resp = await api.client.post("/v1/admin/models/reload", headers=operator)
    assert (await resp.json())["version"] == "2026.03.01-site"
    fresh = await (await api.post_comment(author_email="new@example.com",
                                          content="cebong 999 kosong melompong")).json()
    assert fresh["models"]["toxic"] == "2026.03.01-site"
    assert fresh["decision"] == "hold" and "toxic" in [r["code"] for r in fresh["reasons"]]
    stats = await (await api.client.get("/v1/admin/stats", headers=admin)).json()
    base = next(m for m in stats["models"] if m["model_version"] == "2026.01.01-base")
    assert base["published_then_removed"] == len(missed)




def test_export_labels_cli(tmp_path: Path) -> None:
    import asyncio
    from datetime import datetime, timezone

    from moderation.store import TrainingLabel, open_store
    from training.__main__ import main

    db = f"sqlite:///{tmp_path / 'db.sqlite3'}"

    async def seed() -> None:
        store = open_store(db)
        await store.migrate()
        now = datetime(2026, 11, 1, tzinfo=timezone.utc)
        for text, label in (("komentar biasa", "ham"), ("slot gacor", "spam"), ("dasar dungu", "toxic"),
                            ("di luar topik", "other")):
            await store.add_training_label(TrainingLabel(site_id="s", text=text, label=label, source="moderator"), now)
        await store.close()

    asyncio.run(seed())
    out = tmp_path / "labels.jsonl"
    assert main(["export-labels", "--database-url", db, "--out", str(out)]) == 0
    rows = read_label_file(out)
    assert [(r["text"], r["labels"]) for r in rows] == [
        ("komentar biasa", {"spam": 0, "toxic": 0}), ("slot gacor", {"spam": 1, "toxic": None}),
        ("dasar dungu", {"spam": 0, "toxic": 1}),
    ]  # "other" teaches no head, so it is not exported
