"""No personal data in the real log output, even when a request fails with an unhandled error."""

from __future__ import annotations

import json
import logging
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import structlog

from moderation.log import configure_logging, redact, scrub

from .served import create_key, serve

EMAIL = "siti.rahasia@example.co.id"
IP = "203.0.113.77"
NAME = "Siti Rahasiawati"
CONTENT = "Komentar pribadi Siti tentang banjir di Kemang"


@pytest.mark.parametrize("json_logs", ["true", "false"])
def test_unhandled_error_in_a_real_request_logs_no_personal_data(tmp_path: Path, tiny_models_dir: Path,
                                                                 json_logs: str) -> None:
    key = create_key(tmp_path)
    # Every insert fails inside the store, deep under the handler whose locals hold the whole submission.
    with sqlite3.connect(tmp_path / "moderation.sqlite3") as conn:
        conn.execute("CREATE TRIGGER forced_failure BEFORE INSERT ON comments "
                     "BEGIN SELECT RAISE(ABORT, 'forced failure for the test'); END")
    body = json.dumps({"article_id": "2026/11/25/banjir", "author_name": NAME, "author_email": EMAIL,
                       "content": CONTENT, "author_ip": IP}).encode()
    with serve(tmp_path, tiny_models_dir, MODERATION_LOG_JSON=json_logs) as served:
        request = urllib.request.Request(f"{served.url}/v1/comments", data=body, method="POST", headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/json", "X-Forwarded-For": IP,
        })
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(request, timeout=30)
        assert failed.value.code == 500
        answer = failed.value.read().decode()
        # The process keeps serving after the error.
        with urllib.request.urlopen(f"{served.url}/healthz", timeout=5) as health:
            assert health.status == 200
    log = served.log_text()
    assert "unhandled_error" in log and "forced failure for the test" in log  # the error itself is logged
    assert "Traceback" in log or '"frames"' in log
    for secret in (EMAIL, IP, NAME, key, CONTENT, "Rahasia"):
        assert secret not in log, secret
        assert secret not in answer, secret


def test_redaction_is_recursive_and_scrubs_strings() -> None:
    event = {
        "event": f"could not store comment of {EMAIL} from {IP}",
        "nested": {"author_email": EMAIL, "inner": [{"ip": IP}, f"Bearer mod_site_{'x' * 20}", "::ffff:10.0.0.1"]},
        "timestamp": "2026-12-02T06:02:43Z",
    }
    out = redact(None, "info", event)
    text = json.dumps(out)
    assert EMAIL not in text and IP not in text and "mod_site_" not in text and "10.0.0.1" not in text
    assert out["nested"]["author_email"] == "[redacted]"
    assert out["timestamp"] == "2026-12-02T06:02:43Z"  # times are not mistaken for IPv6 addresses
    assert scrub("at 06:02:43, see 2001:db8::1") == "at 06:02:43, see [ip]"


@pytest.mark.parametrize("json_logs", [True, False])
def test_exceptions_are_rendered_without_locals_and_scrubbed(json_logs: bool, tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    with path.open("w", encoding="utf-8") as stream:
        configure_logging(json=json_logs, stream=stream)
        try:
            private_name = NAME  # a local variable: must not be rendered
            try:
                raise ValueError(f"cannot insert {EMAIL} from {IP}")
            except ValueError:
                structlog.get_logger("moderation.test").exception("unhandled_error")
                assert private_name
                logging.getLogger("aiohttp.server").exception("Error handling request")
        finally:
            structlog.reset_defaults()
            logging.getLogger().handlers.clear()
    text = path.read_text(encoding="utf-8")
    assert text.count("cannot insert [email] from [ip]") == 2
    assert EMAIL not in text and IP not in text and NAME not in text
