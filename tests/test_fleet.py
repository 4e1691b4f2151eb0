"""One model everywhere: promotions recorded in the database, followed by every replica (moderation.fleet)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from moderation.appkeys import FLEET, SCORER
from moderation.domain import Role
from moderation.settings import FleetSettings, Secret, Settings
from moderation.store.fleet import Promotion, rollback_target

from .conftest import MakeApi, fit_tiny_model, valid_comment
from .postgres import postgres_available, skip_without_postgres
from .served import free_port

V1, V2 = "2026.01.01-test", "2026.01.02-test"


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("two-versions")
    fit_tiny_model(out, version=V2)
    fit_tiny_model(out, version=V1)  # CURRENT ends on V1
    assert (out / "CURRENT").read_text().strip() == V1
    return out


@pytest.fixture
def models_dir(two_versions: Path, tmp_path: Path) -> Path:
    # A copy per test: promotion moves the directory's CURRENT pointer.
    target = tmp_path / "models"
    shutil.copytree(two_versions, target)
    return target


def fleet_settings(settings: Settings, models_dir: Path, **changes: Any) -> Settings:
    return replace(settings, models_dir=models_dir, fleet=FleetSettings(poll_seconds=0.2), **changes)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_promote_records_who_and_when_and_switches(make_api: MakeApi, settings: Settings,
                                                         models_dir: Path) -> None:
    api = await make_api(fleet_settings(settings, models_dir))
    admin = await api.key(Role.OPERATOR)  # the model is every site's: operators promote it
    assert api.app[SCORER].version == V1

    resp = await api.client.post("/v1/admin/models/promote", json={"version": V2}, headers=auth(admin))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["previous"] == V1 and body["serving"] == V2
    assert body["promotion"]["version"] == V2 and body["promotion"]["action"] == "promote"
    assert body["promotion"]["actor"].startswith("key:")
    assert (models_dir / "CURRENT").read_text().strip() == V2  # the shared pointer follows

    posted = await api.post_comment()
    assert (await posted.json())["models"]["spam"] == V2

    listing = await (await api.client.get("/v1/admin/models", headers=auth(admin))).json()
    assert listing["promoted"]["version"] == V2
    assert [r["serving"] for r in listing["replicas"]] == [V2]
    assert listing["replicas"][0]["replica_id"] == listing["this_replica"]
    # The first promotion recorded what served before it, so it can be rolled back.
    assert [(h["version"], h["actor"]) for h in listing["history"]][-1] == (V1, "baseline")

    resp = await api.client.post("/v1/admin/models/rollback", headers=auth(admin))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["serving"] == V1
    resp = await api.client.post("/v1/admin/models/rollback", headers=auth(admin))
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "nothing_to_roll_back"


async def test_promote_refuses_bad_requests_and_keys(make_api: MakeApi, settings: Settings, models_dir: Path) -> None:
    api = await make_api(fleet_settings(settings, models_dir))
    admin, site = await api.key(Role.OPERATOR), await api.key(Role.SITE)
    for refused in (site, await api.key(Role.ADMIN)):  # no site's key switches the shared model
        resp = await api.client.post("/v1/admin/models/promote", json={"version": V2}, headers=auth(refused))
        assert resp.status == 403
    for body in ({}, {"version": 3}, {"version": ""}, {"version": "../etc"}, {"version": "2099.01.01-none"}):
        resp = await api.client.post("/v1/admin/models/promote", json=body, headers=auth(admin))
        assert resp.status == 422, body
        assert "version" in (await resp.json())["error"]["fields"]
    assert api.app[SCORER].version == V1
    assert (models_dir / "CURRENT").read_text().strip() == V1
    resp = await api.client.post("/v1/admin/models/promote", data="nope", headers=auth(admin))
    assert resp.status == 415


async def test_replica_that_cannot_load_the_promoted_version_keeps_serving(
    make_api: MakeApi, settings: Settings, models_dir: Path,
) -> None:
    one = await make_api(fleet_settings(settings, models_dir))
    admin = await one.key(Role.ADMIN)
    # Promoted through the database while this replica's copy of V2 is damaged.
    fleet = one.app[FLEET]
    manifest = models_dir / V2 / "manifest.json"
    good = manifest.read_text()
    vocab = next(p for p in (models_dir / V2).iterdir() if p.name != "manifest.json")
    original = vocab.read_bytes()
    vocab.write_bytes(original + b"tampered")
    await fleet.store.record_promotion(V2, action="promote", actor="test", now=one.app[FLEET].clock())
    await fleet.sync()
    assert one.app[SCORER].version == V1
    ready = await one.client.get("/readyz")
    assert ready.status == 200  # still serving, so still in rotation...
    checks = (await ready.json())["checks"]
    assert checks["model_sync"].startswith("behind:") and V2 in checks["model_sync"]  # ...but it says so
    metrics = await (await one.client.get("/metrics")).text()
    assert "moderation_model_sync_failed 1.0" in metrics
    assert f'moderation_model_promoted_info{{version="{V2}"}} 1.0' in metrics
    listing = await (await one.client.get("/v1/admin/models", headers=auth(admin))).json()
    assert listing["replicas"][0]["serving"] == V1 and listing["replicas"][0]["error"]
    posted = await one.post_comment()
    assert posted.status == 201 and (await posted.json())["models"]["spam"] == V1
    # Repaired: the next retry switches.
    vocab.write_bytes(original)
    assert manifest.read_text() == good
    fleet._failed = None  # skip the retry pause
    await fleet.sync()
    assert one.app[SCORER].version == V2
    assert "moderation_model_sync_failed 0.0" in await (await one.client.get("/metrics")).text()


def test_rollback_walks_the_promotion_stack() -> None:
    def history(*steps: tuple[str, str]) -> list[Promotion]:
        from datetime import UTC, datetime

        return [Promotion(i, v, a, "t", datetime.now(UTC)) for i, (a, v) in enumerate(steps)]

    assert rollback_target(history()) is None
    assert rollback_target(history(("promote", "a"))) is None
    assert rollback_target(history(("promote", "a"), ("promote", "b"))) == "a"
    assert rollback_target(history(("promote", "a"), ("promote", "b"), ("promote", "c"),
                                   ("rollback", "b"))) == "a"
    assert rollback_target(history(("promote", "a"), ("promote", "b"), ("rollback", "a"))) is None


# -- two real replica processes on PostgreSQL ---------------------------------------------------------


def _request(url: str, *, key: str | None = None, body: dict[str, Any] | None = None,
             timeout: float = 10) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def start_replica(database_url: str, models_dir: Path, workdir: Path, name: str,
                  **extra_env: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "MODERATION_DATABASE_URL": database_url, "MODERATION_MODEL_POLL_SECONDS": "0.5",
           "MODERATION_LOG_JSON": "1", **extra_env}
    with (workdir / f"{name}.log").open("wb") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "moderation", "serve", "--port", str(port), "--data-dir", str(workdir / name),
             "--models-dir", str(models_dir)], stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError((workdir / f"{name}.log").read_text())
        try:
            if _request(f"{url}/readyz", timeout=1)[0] == 200:
                return process, url
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"{name} did not become ready: {(workdir / f'{name}.log').read_text()}")


def create_key(database_url: str, role: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "moderation", "keys", "create", "--role", role,
         *([] if role == "operator" else ["--site", "kompas-test"]),
         "--database-url", database_url], capture_output=True, text=True, timeout=120, check=True,
    )
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.postgres
def test_two_replicas_follow_one_promotion_without_a_failed_request(models_dir: Path, tmp_path: Path) -> None:
    from .postgres import PG_URL, drop_schema

    if not asyncio.run(postgres_available()):
        skip_without_postgres()
    schema = f"scaleout_fleet_{os.getpid()}"
    database_url = f"{PG_URL}?schema={schema}"
    replicas: list[subprocess.Popen[bytes]] = []
    try:
        first, url_a = start_replica(database_url, models_dir, tmp_path, "a")
        replicas.append(first)
        second, url_b = start_replica(database_url, models_dir, tmp_path, "b")
        replicas.append(second)
        site, admin = create_key(database_url, "site"), create_key(database_url, "operator")

        failures: list[Any] = []
        seen: dict[str, list[tuple[float, str]]] = {url_a: [], url_b: []}
        stop = threading.Event()

        def load(url: str, worker: int) -> None:
            n = 0
            while not stop.is_set() and n < 2000:  # bounded: at most 2,000 comments per loop
                n += 1
                body = valid_comment(author_email=f"w{worker}-{n}@example.co.id", author_ip=f"2001:db8::{worker}:{n:x}",
                                     content=f"Komentar nomor {n} dari pembaca {worker} tentang banjir.")
                try:
                    status, answer = _request(f"{url}/v1/comments", key=site, body=body)
                except OSError as exc:
                    failures.append((url, repr(exc)))
                    continue
                if status != 201:
                    failures.append((url, status, answer))
                else:
                    seen[url].append((time.monotonic(), answer["models"]["spam"]))

        threads = [threading.Thread(target=load, args=(u, i)) for i, u in enumerate((url_a, url_b))]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        status, promoted = _request(f"{url_a}/v1/admin/models/promote", key=admin, body={"version": V2})
        promoted_at = time.monotonic()
        assert status == 200, promoted
        deadline = promoted_at + 10
        while time.monotonic() < deadline:
            if all(s and s[-1][1] == V2 for s in seen.values()):
                break
            time.sleep(0.1)
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

        assert failures == []
        for url, served in seen.items():
            assert served[0][1] == V1, url  # served the old version before the promotion...
            switched = next(t for t, v in served if v == V2)
            assert switched - promoted_at < 5, url  # ...and the new one within seconds
            assert all(v == V2 for t, v in served if t > switched + 0.5), url  # and never went back
            print(f"\nfleet: {url} served {len(served)} comments, switched {switched - promoted_at:.2f} s "
                  "after the promotion answered")
        status, listing = _request(f"{url_b}/v1/admin/models", key=admin)
        assert status == 200
        assert listing["promoted"]["version"] == V2
        assert sorted(r["serving"] for r in listing["replicas"]) == [V2, V2]
    finally:
        for process in replicas:
            process.terminate()
        for process in replicas:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        asyncio.run(drop_schema(schema))


def test_settings_read_fleet_and_database_variables() -> None:
    env = {"MODERATION_MODEL_POLL_SECONDS": "0.5", "MODERATION_DB_POOL_MIN": "2", "MODERATION_DB_POOL_MAX": "4",
           "MODERATION_DB_CONNECT_TIMEOUT_SECONDS": "1.5", "MODERATION_DB_STATEMENT_TIMEOUT_SECONDS": "2"}
    settings = Settings.from_env(env, database_url=Secret("postgresql://x/y"))
    assert settings.fleet.poll_seconds == 0.5
    assert (settings.database.pool_min, settings.database.pool_max) == (2, 4)
    assert settings.database.call_timeout_seconds == 3.5
    from moderation.settings import SettingsError

    for bad in ({"MODERATION_DB_POOL_MIN": "5", "MODERATION_DB_POOL_MAX": "2"},
                {"MODERATION_DB_STATEMENT_TIMEOUT_SECONDS": "nan"}, {"MODERATION_DB_POOL_MAX": "0"},
                {"MODERATION_MODEL_POLL_SECONDS": "soon"}):
        with pytest.raises(SettingsError, match=next(iter(bad)) if len(bad) == 1 else "POOL_MIN"):
            Settings.from_env(bad)


def test_cli_promotion_goes_through_the_database(models_dir: Path, tmp_path: Path) -> None:
    import sqlite3

    database_url = f"sqlite:///{tmp_path / 'fleet.sqlite3'}"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "moderation", "models", *args, "--models-dir", str(models_dir),
                               "--database-url", database_url], capture_output=True, text=True, timeout=120)

    done = cli("promote", V2)
    assert done.returncode == 0, done.stderr
    assert "every replica switches" in done.stdout
    assert (models_dir / "CURRENT").read_text().strip() == V2
    with sqlite3.connect(tmp_path / "fleet.sqlite3") as conn:
        rows = conn.execute("SELECT version, action, actor FROM model_promotions ORDER BY id").fetchall()
    assert [r[:2] for r in rows] == [(V1, "promote"), (V2, "promote")]
    assert rows[1][2].startswith("cli:")
    refused = cli("promote", "2099.01.01-none")
    assert refused.returncode == 1 and "no such model version" in refused.stderr
    back = cli("rollback")
    assert back.returncode == 0, back.stderr
    assert (models_dir / "CURRENT").read_text().strip() == V1
