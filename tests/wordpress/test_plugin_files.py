"""The plugin's files as WordPress will load them: valid PHP, every string translated, the .mo up to date."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .site import AKISMET_REDIRECT, PLUGIN, require_wordpress

LANGUAGES = PLUGIN / "languages"


def php_files() -> list[Path]:
    return sorted(PLUGIN.rglob("*.php")) + [AKISMET_REDIRECT]


def test_every_file_is_valid_php() -> None:
    require_wordpress()
    for path in php_files():
        result = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        # Loaded directly by a browser, a plugin file must do nothing (WordPress's own convention).
        assert "defined( 'ABSPATH' ) || exit;" in path.read_text() or path.name == "uninstall.php", path


def test_indonesian_translation_is_complete_and_compiled(tmp_path: Path) -> None:
    if shutil.which("xgettext") is None or shutil.which("msgfmt") is None:
        pytest.skip("gettext (xgettext, msgfmt) not installed")
    pot = tmp_path / "moderation.pot"
    subprocess.run(["xgettext", "--language=PHP", "--from-code=UTF-8", "--keyword=__", "--keyword=esc_html__",
                    "--keyword=esc_attr__", "--keyword=_n:1,2", "-o", str(pot), *map(str, sorted(PLUGIN.rglob("*.php")))],
                   check=True, timeout=60)
    assert len(re.findall(r"^msgid ", pot.read_text(), flags=re.M)) > 10
    # msgcmp: every string of the code has a (non-empty) translation in the .po.
    compared = subprocess.run(["msgcmp", str(LANGUAGES / "moderation-id_ID.po"), str(pot)], capture_output=True,
                              text=True, timeout=60)
    assert compared.returncode == 0, compared.stderr
    compiled = tmp_path / "moderation-id_ID.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(compiled), str(LANGUAGES / "moderation-id_ID.po")],
                   check=True, capture_output=True, timeout=60)
    assert compiled.read_bytes() == (LANGUAGES / "moderation-id_ID.mo").read_bytes(), \
        "run: msgfmt -o languages/moderation-id_ID.mo languages/moderation-id_ID.po"
