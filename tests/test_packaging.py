"""The Dockerfile and CI script refer to files that exist; the README keeps its two commands."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_dockerfile_copies_existing_paths() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copies = re.findall(r"^COPY (?!--from)(.+)$", dockerfile, flags=re.MULTILINE)
    assert copies
    for line in copies:
        *sources, _dest = line.split()
        for source in sources:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"
    assert "USER moderation" in dockerfile and "HEALTHCHECK" in dockerfile
    assert (ROOT / "models" / "CURRENT").is_file(), "the image bakes in models/ with a CURRENT pointer"


def test_readme_commands_match_ci() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.+?)\n```", readme, flags=re.DOTALL)
    run_command, test_command = blocks[0].strip(), blocks[1].strip()
    assert "moderation serve" in run_command
    assert "pytest" in test_command
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci, ".ci/run must run exactly the README's test command"


def test_runtime_never_reads_shared_data() -> None:
    for path in (ROOT / "moderation").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "shared/data" not in text, path
        assert "import training" not in text and "from training" not in text, f"{path} imports training code"
