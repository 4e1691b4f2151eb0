"""Smoke test of the throughput harness (bench/throughput.py --quick): every phase runs and the report
holds every figure (with the Python generator, which a fresh machine has; wrk is used by hand).
Not a speed test: the numbers of a one-second run on a busy machine mean nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(240)


def test_quick_run_measures_every_phase(tmp_path: Path, tiny_models_dir: Path) -> None:
    results = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "throughput.py"), "--quick", "--label", "smoke test", "--generator", "python",
         "--models-dir", str(tiny_models_dir), "--out-dir", str(tmp_path / "runs"), "--results", str(results)],
        capture_output=True, text=True, timeout=220, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [report] = (tmp_path / "runs").glob("*.json")
    run = json.loads(report.read_text())
    assert run["bare"]["closed"]["rps"] > 0 and run["service"]["closed"]["rps"] > 0
    assert run["ratio"] == pytest.approx(run["service"]["closed"]["rps"] / run["bare"]["closed"]["rps"], abs=1e-3)
    assert [o["offered_rps"] for o in run["service"]["open"]] == [50.0, 100.0]
    for o in run["service"]["open"]:
        assert o["sent"] == o["ok"] + o["errors"] and o["p99_ms"] is not None
    assert set(run["service"]["stage_budget"]) == {"parse", "validate", "normalise", "score", "store", "respond"}
    assert run["service"]["commit_batches_closed"]["rows"] > 0
    assert all(p["rss_mb"] > 0 for p in run["service"]["rss"]) and run["model_load_s"] > 0
    assert run["service_exit_code"] == 0
    table = results.read_text()
    assert "smoke test" in table and "Ratio service / bare" in table and "| 100 |" in table
