"""The learning curve: AUC on a site's newest labels against the number of its labels the model has seen.

A *site* is simulated from a public source that the base model is **not** trained on at all (by default
toxicity-id-netifier: Indonesian tweets, Instagram comments and Kaskus posts, labelled under its own
definition of toxic — pornography, SARA, radicalism, defamation — the way a site's moderators have their
own policy). The base model is trained like ``train`` on the train split of every other source and
calibrated on their validation split. The source's rows are put in a seeded random order (the data has no
timestamps); the last ``eval_size`` rows are the "newest labels" every point is measured on, and the first
``n`` rows are the site labels available at point ``n``. Methods compared at each ``n``:

- ``global``: the base model alone (what every site gets before any label);
- ``retrain_w25``: today's ``retrain`` (public train + the n site labels at ``--site-weight 25``);
- ``retrain_w1``: the same at weight 1;
- ``site_head``: the base model + the service's online per-site head (``moderation.pipeline.site_model``,
  the serving code and its default blend), fed the n labels in order, one update each.

Only the source's *comments* (Instagram, Kaskus) play the site by default: they are the closest to news
comments. The site head's learning rate was chosen on an order (seed 1007) that is not one of the reported
ones.

Writes ``learning_curve.json`` and ``learning_curve.png`` (with n per point).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from moderation.artefacts import LoadedModel
from moderation.model import TextModel
from moderation.pipeline.site_model import SiteModelConfig, SiteModels

from .datasets import Record
from .evaluate import SEED, _score, by_split, labels_of, prepare
from .pipelines import calibrate, feature_lists, fit_text_model

HEAD = "toxic"
SIZES = (0, 25, 50, 100, 200, 300, 400, 600, 800, 1000)
RETRAIN_SIZES = (0, 100, 300, 600, 1000)  # a full fit per point: fewer of them


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return round(float(roc_auc_score(y, p)), 4)


def _fit(texts: Sequence[str], feats: Sequence[list[str]], y: Sequence[int | None], w: Sequence[float],
         val: Sequence[Record]) -> TextModel:
    model = fit_text_model(texts, {HEAD: list(y)}, sample_weight=list(w), seed=SEED, calib_folds=0, feats=feats)
    calibrate(model, [r.text for r in val], labels_of(val, (HEAD,)))
    return model


def _site_head_scores(base: LoadedModel, rows: list[dict[str, Any]], n_prev: int, n: int, models: SiteModels,
                      eval_texts: Sequence[str], base_scores: list[dict[str, float]]) -> np.ndarray:
    models.learn_rows(rows[n_prev:n])
    site = models.sites.get("site")
    out = np.array([s[HEAD] for s in base_scores])
    if site is None:
        return out
    for i, text in enumerate(eval_texts):
        adj = site.adjust(base, text, base_scores[i])
        if HEAD in adj:
            out[i] = adj[HEAD]["score"]
    return out


def learning_curve(data_root: Path, out_dir: Path, *, site_source: str = "toxicity-id-netifier",
                   kinds: Sequence[str] = ("comment",), sizes: Sequence[int] = SIZES,
                   retrain_sizes: Sequence[int] = RETRAIN_SIZES, eval_size: int = 1000, orders: int = 3,
                   retrain_orders: int = 1, config: SiteModelConfig | None = None,
                   progress: bool = True) -> dict[str, Any]:
    t0 = time.time()
    config = config or SiteModelConfig()
    _, records = prepare(data_root, progress=progress)
    public = [r for r in records if site_source not in r.sources]
    train, val = by_split(public, "train"), by_split(public, "val")
    site_rows = [r for r in records if site_source in r.sources and r.labels.get(HEAD) is not None
                 and r.kind in kinds]
    if len(site_rows) < max(sizes) + eval_size:
        raise ValueError(f"{site_source} has {len(site_rows)} labelled rows; need {max(sizes) + eval_size}")
    train_feats = feature_lists([r.text for r in train], progress=progress)
    base_model = _fit([r.text for r in train], train_feats, [r.labels.get(HEAD) for r in train],
                      [r.weight for r in train], val)
    base = LoadedModel(version="curve-base", model=base_model, thresholds={HEAD: 0.5}, manifest={})

    results: dict[str, dict[int, list[float]]] = {m: {n: [] for n in sizes} for m in
                                                  ("global", "retrain_w25", "retrain_w1", "site_head")}
    eval_stats = []
    for k in range(orders):
        order = np.random.default_rng(1000 + k).permutation(len(site_rows))
        newest = [site_rows[i] for i in order[-eval_size:]]
        pool = [site_rows[i] for i in order[: max(sizes)]]
        y_eval = np.array([int(r.labels[HEAD]) for r in newest])
        eval_texts = [r.text for r in newest]
        eval_stats.append({"rows": len(newest), "toxic": int(y_eval.sum())})
        p_global = _score(base_model, eval_texts)[:, 0]
        base_scores = [{HEAD: float(p)} for p in p_global]
        label_rows = [{"id": i + 1, "site_id": "site", "text": r.text, "label": "toxic" if r.labels[HEAD] else "ham",
                       "source": "moderator", "decided_at": f"{i:06d}"} for i, r in enumerate(pool)]
        pool_feats = feature_lists([r.text for r in pool]) if k < retrain_orders else []
        models = SiteModels(base, config)
        n_prev = 0
        for n in sizes:
            results["global"][n].append(_auc(y_eval, p_global))
            p_site = _site_head_scores(base, label_rows, n_prev, n, models, eval_texts, base_scores)
            n_prev = n
            results["site_head"][n].append(_auc(y_eval, p_site))
            if k >= retrain_orders or n not in retrain_sizes:
                continue
            for name, weight in (("retrain_w25", 25.0), ("retrain_w1", 1.0)):
                if n == 0:
                    results[name][n].append(results["global"][n][-1])
                    continue
                added = pool[:n]
                model = _fit([r.text for r in train] + [r.text for r in added], train_feats + pool_feats[:n],
                             [r.labels.get(HEAD) for r in train] + [r.labels[HEAD] for r in added],
                             [r.weight for r in train] + [weight] * n, val)
                results[name][n].append(_auc(y_eval, _score(model, eval_texts)[:, 0]))
            if progress:
                print(f"order {k} n={n}: " + ", ".join(f"{m} {v[n][-1]:.4f}" for m, v in results.items() if v[n]),
                      flush=True)

    summary = {m: [{"n_site_labels": n, "auc_mean": round(float(np.mean(v[n])), 4),
                    "auc_min": float(np.min(v[n])), "auc_max": float(np.max(v[n])), "orders": len(v[n]),
                    "auc_per_order": v[n]}
                   for n in sizes if v[n]] for m, v in results.items()}
    report = {
        "head": HEAD,
        "site_source": site_source,
        "site_rows": len(site_rows),
        "site_kinds": list(kinds),
        "public_train_rows": len(train),
        "eval": {"newest_rows_per_order": eval_size, "orders": orders, "per_order": eval_stats},
        "retrain_orders": retrain_orders,
        "site_model_config": config.__dict__,
        "curves": summary,
        "seconds": round(time.time() - t0, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "learning_curve.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    plot_curve(report, out_dir / "learning_curve.png")
    return report


LABELS = {"global": "shared model only", "retrain_w25": "retrain, site labels ×25 (today)",
          "retrain_w1": "retrain, site labels ×1", "site_head": "shared model + online site head"}


def plot_curve(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, points in report["curves"].items():
        xs = [p["n_site_labels"] for p in points]
        ys = [p["auc_mean"] for p in points]
        line = ax.plot(xs, ys, marker="o", ms=3, lw=1.4, label=f"{LABELS.get(name, name)} ({points[0]['orders']} orders)")
        lo = [p["auc_min"] for p in points]
        hi = [p["auc_max"] for p in points]
        if any(a != b for a, b in zip(lo, hi)):
            ax.fill_between(xs, lo, hi, color=line[0].get_color(), alpha=0.12)
    ev = report["eval"]
    ax.set_xlabel("site labels seen (n per point: 0, 25, … 1000)")
    ax.set_ylabel(f"ROC-AUC ({report['head']}) on the site's newest {ev['newest_rows_per_order']} labels")
    ax.set_title(f"site simulated from {report['site_source']} (never in the base model's training)", fontsize=9)
    for p in report["curves"]["site_head"]:
        ax.annotate(str(p["n_site_labels"]), (p["n_site_labels"], p["auc_mean"]), fontsize=6,
                    textcoords="offset points", xytext=(0, 5), ha="center")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
