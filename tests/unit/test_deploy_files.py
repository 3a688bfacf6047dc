"""The deployment files parse and name only settings that exist (Docker is not run here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {name.upper() for name in Settings.model_fields}


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_services_and_settings() -> None:
    services = compose()["services"]
    assert {"bot-1", "bot-2", "worker", "redis", "proxy", "postgres", "migrate"} <= set(services)
    # Exactly one replica registers the webhook.
    registering = [n for n, s in services.items() if s.get("environment", {}).get("WEBHOOK_REGISTER") == "1"]
    assert registering == ["bot-1"]
    for name in ("bot-1", "bot-2", "worker", "migrate"):
        service = services[name]
        assert service["env_file"] == ".env"  # secrets from the environment, never from this file
        unknown = set(service["environment"]) - SETTINGS
        assert not unknown, (name, unknown)
    assert services["worker"]["command"] == ["python", "-m", "bot.worker"]
    assert services["bot-2"]["depends_on"]["bot-1"]["condition"] == "service_healthy"
    # Records in PostgreSQL, migrated once before any replica starts; replicas refuse an old schema.
    assert services["migrate"]["command"] == ["python", "-m", "bot", "migrate"]
    for name in ("bot-1", "bot-2"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["DB_MIGRATE_ON_START"] == "0"
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    migrate_env = services["migrate"]["environment"]
    assert migrate_env["DATABASE_URL"] == services["bot-1"]["environment"]["DATABASE_URL"]


def test_nginx_upstreams_are_the_compose_replicas() -> None:
    conf = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    upstreams = set(re.findall(r"server (bot-\d+):8080", conf))
    assert upstreams == {n for n in compose()["services"] if n.startswith("bot-")}


def test_systemd_units() -> None:
    for unit in ("shiming-bot@.service", "shiming-worker.service"):
        text = (ROOT / "deploy" / "systemd" / unit).read_text(encoding="utf-8")
        sections = re.findall(r"^\[(\w+)\]$", text, flags=re.MULTILINE)
        assert sections == ["Unit", "Service", "Install"], unit
        assert re.search(r"^ExecStart=/\S+/python -m bot(\.worker)?$", text, flags=re.MULTILINE), unit
        for name in re.findall(r"^Environment=(\w+)=", text, flags=re.MULTILINE):
            assert name in SETTINGS, (unit, name)
