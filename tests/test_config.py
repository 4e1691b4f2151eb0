"""Settings from the environment, the policy file, Accept-Language, and log redaction."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import structlog

from moderation import i18n
from moderation.log import configure_logging
from moderation.policy import PolicyError, load_policy
from moderation.settings import Settings, SettingsError


def test_settings_from_env_and_overrides(tmp_path: Path) -> None:
    env = {"MODERATION_DATA_DIR": str(tmp_path), "MODERATION_PORT": "9000",
           "MODERATION_DATABASE_URL": "postgresql://u:pw@db/x"}
    settings = Settings.from_env(env, port=9100)
    assert settings.data_dir == tmp_path
    assert settings.port == 9100  # the CLI option wins
    assert "pw" not in repr(settings)  # the DSN is masked when settings are logged
    assert settings.effective_database_url == "postgresql://u:pw@db/x"
    assert Settings.from_env({"MODERATION_DATA_DIR": str(tmp_path)}).effective_database_url == (
        f"sqlite:///{tmp_path.resolve()}/moderation.sqlite3"
    )


@pytest.mark.parametrize(("name", "value"), [("MODERATION_PORT", "eighty"), ("MODERATION_PORT", "-1"),
                                             ("MODERATION_LOG_JSON", "maybe"),
                                             ("MODERATION_BODY_TIMEOUT_SECONDS", "soon"),
                                             ("MODERATION_BODY_TIMEOUT_SECONDS", "0"),
                                             ("MODERATION_BODY_TIMEOUT_SECONDS", "nan")])
def test_bad_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_body_timeout_setting() -> None:
    assert Settings.from_env({}).body_timeout_seconds == 5.0
    assert Settings.from_env({"MODERATION_BODY_TIMEOUT_SECONDS": "2.5"}).body_timeout_seconds == 2.5


def test_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        '[default]\nmax_links = 1\ndisallowed_keys = ["Pinjol", "𝐒𝐋𝐎𝐓"]\n[default.thresholds]\nspam = 0.9\n'
        '[sites."kompas-id"]\nhold_all = true\n[sites."kompas-id".thresholds]\ntoxic = 0.7\n',
        encoding="utf-8",
    )
    book = load_policy(path)
    assert book.default.max_links == 1
    assert book.default.disallowed_terms == ("pinjol", "slot")  # normalised like comment text
    site = book.for_site("kompas-id")
    assert site.hold_all and site.max_links == 1  # inherits the default
    assert site.thresholds == {"spam": 0.9, "toxic": 0.7}
    assert book.for_site("other") is book.default


@pytest.mark.parametrize(
    "text",
    ['[default]\nmax_link = 2\n', '[default]\nmax_links = "two"\n', '[defaults]\n',
     '[default.thresholds]\nspam = 1.5\n', '[default]\nmoderation_keys = "x"\n', "not toml ["],
)
def test_invalid_policy_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match="policy.toml"):
        load_policy(path)


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, "en"), ("id", "id"), ("id-ID,id;q=0.9,en;q=0.8", "id"), ("en-US,en;q=0.9,id;q=0.8", "en"),
     ("fr, id;q=0.5", "id"), ("in-ID", "id"), ("de", "en"), ("id;q=0", "en"), ("en;q=0.1, id;q=0.9", "id")],
)
def test_accept_language(header: str | None, expected: str) -> None:
    assert i18n.pick_language(header) == expected


def test_log_redaction_drops_personal_data(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True)
    try:
        structlog.get_logger("t").info("submitted", author_email="rahasia@example.com", author_ip="10.1.2.3",
                                       user_agent="UA/1", route="/v1/comments")
        logging.getLogger("aiohttp.server").warning("stdlib too")
        err = capsys.readouterr().err
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert lines[0]["event"] == "submitted" and lines[0]["route"] == "/v1/comments"
    assert lines[0]["author_email"] == "[redacted]"
    assert "rahasia" not in err and "10.1.2.3" not in err and "UA/1" not in err
    assert lines[1]["event"] == "stdlib too"
