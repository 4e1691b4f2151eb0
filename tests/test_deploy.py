"""deploy/compose.yaml and deploy/haproxy.cfg agree with each other, with the service and with docs/deploy.md.

The real tools validate the files where they are installed (``haproxy -c``; ``docker compose config``);
what they would catch that can be checked without them is checked here in any case.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from moderation.app import create_app
from moderation.metrics import Metrics
from moderation.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def haproxy_servers() -> list[tuple[str, str, int]]:
    found = []
    for line in (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8").splitlines():
        if m := re.match(r"\s*server\s+(\S+)\s+([\w.-]+):(\d+)", line):
            found.append((m.group(1), m.group(2), int(m.group(3))))
    return found


def test_compose_runs_postgres_replicas_and_a_balancer() -> None:
    services = compose()["services"]
    replicas = {name: s for name, s in services.items() if name.startswith("moderation-")}
    assert "postgres" in services and "haproxy" in services and len(replicas) >= 2
    for name, service in replicas.items():
        env = service["environment"]
        assert re.match(r"postgresql://\w+:\$\{POSTGRES_PASSWORD[^}]*\}@postgres:5432/\w+$",
                        env["MODERATION_DATABASE_URL"]), name
        settings = Settings.from_env({k: str(v) for k, v in env.items()})  # every variable is one the service reads
        assert settings.database.pool_max * len(replicas) < 100  # below PostgreSQL's default max_connections
        assert "models:/opt/moderation/models" in service["volumes"]  # one models directory for all
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert {"pgdata", "models"} <= set(compose()["volumes"])
    mounted = [v.split(":")[0] for v in services["haproxy"]["volumes"]]
    assert "./haproxy.cfg" in mounted and (DEPLOY / "haproxy.cfg").is_file()
    assert (DEPLOY / compose()["services"]["moderation-1"]["build"]["context"] / "Dockerfile").is_file()


def test_haproxy_sends_to_every_replica_and_checks_readiness() -> None:
    services = compose()["services"]
    replicas = sorted(name for name in services if name.startswith("moderation-"))
    servers = haproxy_servers()
    assert sorted(host for _, host, _ in servers) == replicas
    port = int(services["moderation-1"]["environment"]["MODERATION_PORT"])
    assert all(p == port for _, _, p in servers)
    config = (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")
    assert "option httpchk GET /readyz" in config and "http-check expect status 200" in config
    routes = {r.resource.canonical for r in create_app(Settings()).router.routes() if r.resource is not None}
    assert "/readyz" in routes
    bound = re.search(r"timeout server (\d+)s", config)
    defaults = Settings().database
    assert bound and int(bound.group(1)) > defaults.call_timeout_seconds + Settings().body_timeout_seconds


def test_haproxy_accepts_the_config() -> None:
    if shutil.which("haproxy") is None:
        if os.environ.get("CI"):
            pytest.fail("haproxy is installed by .ci/run; it is missing")
        pytest.skip("haproxy not installed (the checks above still ran)")
    done = subprocess.run(["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


def test_docker_compose_accepts_the_file() -> None:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=30) \
        if shutil.which("docker") else None
    if probe is None or probe.returncode != 0:
        pytest.skip("docker compose not available here (the YAML and its names were checked above)")
    done = subprocess.run(["docker", "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "-q"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "POSTGRES_PASSWORD": "x"})
    assert done.returncode == 0, done.stderr


def test_the_guide_alerts_on_metrics_that_exist_and_names_real_settings() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    exposed = Metrics().render().decode()
    named = set(re.findall(r"`(moderation_[a-z_]+)", guide))
    assert len(named) >= 6
    for metric in named:
        assert re.search(rf"^# HELP {metric}(_total)? ", exposed, re.M), metric
    settings_source = (ROOT / "moderation" / "settings.py").read_text(encoding="utf-8")
    for variable in set(re.findall(r"`(MODERATION_[A-Z_]+)`", guide)):
        assert f'"{variable}"' in settings_source, variable
    for section in ("## Backups", "Restore", "## Sizing", "## Metrics to alert on", "## Upgrades",
                    "migrate-store", "POSTGRES_PASSWORD"):
        assert section in guide
