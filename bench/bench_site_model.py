"""What the online per-site head costs: scoring latency added per comment, learning time per label, memory.

    python bench/bench_site_model.py --models models [--labels 1000] [--n 3000] [--out docs/evaluation/bench_site_model.json]

A site head is fed ``--labels`` moderator labels (synthetic comments from bench_scoring: ordinary, insults,
judol ads, each with a number so none repeats), then the same comments are scored through the service's
scoring function with and without the head. No data root needed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_scoring import ORDINARY, SPAM, TOXIC, machine, make_texts  # noqa: E402

from moderation.artefacts import load_model  # noqa: E402
from moderation.pipeline.scoring import _predict  # noqa: E402
from moderation.pipeline.site_model import SiteModel, SiteModelConfig, SiteModels  # noqa: E402
from moderation.textnorm import normalize  # noqa: E402


def score_one(loaded: object, text: str, site: SiteModel | None) -> dict[str, float]:
    """What the scorer's batch worker does for one comment: shared heads, then the site head's adjustment."""
    row = _predict(loaded.model, [text], [normalize(text)])[0]  # type: ignore[attr-defined]
    scores = {head: float(p) for head, p in row.items()}
    if site is not None:
        for head, info in site.adjust(loaded, text, scores).items():  # type: ignore[arg-type]
            scores[head] = info["score"]
    return scores


def label_of(text: str) -> str:
    if any(text.startswith(t) for t in SPAM):
        return "spam"
    return "toxic" if any(text.startswith(t) for t in TOXIC) else "ham"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", type=Path, default=REPO / "models")
    ap.add_argument("--labels", type=int, default=1000)
    ap.add_argument("--n", type=int, default=3000, help="comments scored per variant")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    loaded = load_model(args.models)
    texts = [f"{t} #{i}" for i, t in enumerate(make_texts(args.labels, seed=1))]
    rows = [{"id": i + 1, "site_id": "bench", "text": t, "label": label_of(t), "source": "moderator",
             "decided_at": ""} for i, t in enumerate(texts)]
    models = SiteModels(loaded, SiteModelConfig())
    t0 = time.perf_counter()
    for k in range(0, len(rows), 256):
        models.learn_rows(rows[k : k + 256])
    learn_s = time.perf_counter() - t0
    site = models.sites["bench"]
    probe = make_texts(args.n, seed=2)
    for t in probe[:200]:  # warm the word caches for both variants alike
        score_one(loaded, t, site)
    timings: dict[str, list[float]] = {"shared_only": [], "with_site_head": []}
    for t in probe:
        for name, head in (("shared_only", None), ("with_site_head", site)):
            s = time.perf_counter()
            score_one(loaded, t, head)
            timings[name].append((time.perf_counter() - s) * 1000)
    added = [b - a for a, b in zip(timings["shared_only"], timings["with_site_head"])]
    result = {
        "model_version": loaded.version,
        "labels": len(rows),
        "learn_ms_per_label": round(learn_s * 1000 / len(rows), 3),
        "site_head": site.summary(),
        "memory_bytes": site.slots.map.nbytes + sum(h.w.nbytes + h.g2.nbytes for h in site.heads.values()),
        "scoring_ms": {name: {"p50": round(statistics.median(v), 3), "p99": round(pct(v, 0.99), 3)}
                       for name, v in timings.items()},
        "added_ms": {"p50": round(statistics.median(added), 3), "p99": round(pct(added, 0.99), 3)},
        "comments_scored": len(probe),
        "ordinary_texts": len(ORDINARY),
        "machine": machine(),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
