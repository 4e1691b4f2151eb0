"""Retrain on the public data plus the site's own labels, and gate the candidate against the current model.

The gate compares candidate and current model on two held-out sets that neither was trained on:
(a) the fixed public test split (the same split ``train`` and ``evaluate`` use), and
(b) the newest slice of the site's labels (time-ordered: the candidate trains only on older ones).
It says ``promote`` only when the candidate is measurably better on (b) and not worse than the
tolerance on (a). The candidate is written with ``set_current=False``: promotion is a separate step
(``moderation models promote latest``), so a scheduled run can never put a worse model live.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from moderation.artefacts import LoadedModel, load_model
from moderation.model import TextModel
from moderation.textnorm import normalize

from .datasets import HEADS, Record
from .evaluate import (
    _pr_png,
    _score,
    binary_metrics,
    by_split,
    choose_thresholds,
    labels_of,
    prepare,
    sources_manifest,
)
from .pipelines import calibrate, fit_text_model
from .site_labels import read_label_file, time_split

SEED = 0
SITE_HEADS = ("spam", "toxic")


@dataclass(frozen=True)
class GateConfig:
    # Weight of one site label against one public row when they are trained into the shared model.
    # 0 by default: the learning curve (docs/retraining.md) shows heavy re-weighting makes the model worse
    # on the site's newest labels, while the online per-site head (moderation/pipeline/site_model.py) learns
    # them within a request; the labels are used here to tune thresholds and to judge the candidate.
    site_weight: float = 0.0
    # Newest share of the site's labels kept out of training to judge the candidate.
    holdout_fraction: float = 0.25
    # The candidate may lose at most this much PR-AUC per head on the public test split.
    public_tolerance: float = 0.01
    # ...and must beat the current model's site score (mean F1 over heads) by at least this much.
    min_site_gain: float = 0.01
    # It may hold at most this much more of the site's ham than the current model does.
    false_hold_tolerance: float = 0.01
    # When set, re-tune spam/toxic thresholds so that at most this share of the site's (training-period)
    # ham comments would be held.
    target_false_hold: float | None = None
    # Thresholds tuned for F1 on the site's training-period labels, within ± this of the public-data
    # threshold (a floor and a ceiling, so a few odd labels cannot open or shut the gate on everything)...
    site_threshold_band: float = 0.1
    # ...and only for a head with this many site labels, this many of each class (0 turns tuning off).
    site_threshold_min_labels: int = 50
    site_threshold_min_per_class: int = 10


@dataclass
class PublicSplits:
    train: list[Record]
    val: list[Record]
    test: list[Record]
    sources: list[dict[str, Any]] = field(default_factory=list)


def public_splits(data_root: Path, *, progress: bool = True) -> PublicSplits:
    from .recipe import DEFAULT, relabel

    loaded, records = prepare(data_root, progress=progress)
    records = relabel(records, DEFAULT)  # the shipped targets: toxic = abusive language, no English toxicity
    return PublicSplits(by_split(records, "train"), by_split(records, "val"), by_split(records, "test"),
                        sources_manifest(loaded))


def _site_record(row: dict[str, Any], heads: Sequence[str]) -> Record:
    labels = {h: row["labels"].get(h) for h in heads}
    return Record(text=row["text"], language="id", source=f"site:{row.get('site', '?')}", kind="comment",
                  labels=labels, norm=normalize(row["text"]))


def _head_metrics(model: TextModel, thresholds: dict[str, float], records: Sequence[Record],
                  heads: Sequence[str]) -> tuple[dict[str, Any], np.ndarray]:
    P = _score(model, [r.text for r in records])
    out: dict[str, Any] = {}
    for h in heads:
        if h not in model.heads:
            continue
        j = model.heads.index(h)
        idx = [i for i, r in enumerate(records) if r.labels.get(h) is not None]
        if not idx:
            continue
        y = [int(records[i].labels[h]) for i in idx]
        out[h] = binary_metrics(y, P[idx, j], thresholds.get(h, 0.5))
    return out, P


def _site_score(metrics: dict[str, Any]) -> float | None:
    f1s = [m["f1"] if m["f1"] is not None else 0.0 for m in metrics.values() if m["positives"] > 0]
    return float(np.mean(f1s)) if f1s else None


def _false_hold(model: TextModel, thresholds: dict[str, float], records: Sequence[Record]) -> float | None:
    """Share of the site's ham comments that any spam/toxic head would hold."""
    ham = [r for r in records if r.labels.get("spam") == 0 and r.labels.get("toxic") == 0]
    if not ham:
        return None
    P = _score(model, [r.text for r in ham])
    held = np.zeros(len(ham), dtype=bool)
    for h in SITE_HEADS:
        if h in model.heads:
            held |= P[:, model.heads.index(h)] >= thresholds.get(h, 0.5)
    return round(float(held.mean()), 4)


def retune_thresholds(model: TextModel, thresholds: dict[str, float], ham: Sequence[Record],
                      target: float) -> dict[str, float]:
    """Raise or lower spam/toxic thresholds so that at most ``target`` of these ham comments are held."""
    if len(ham) < 20:
        return thresholds  # too few to estimate a rate; keep the public-data thresholds
    P = _score(model, [r.text for r in ham])
    tuned = dict(thresholds)
    for h in SITE_HEADS:
        if h in model.heads:
            q = float(np.quantile(P[:, model.heads.index(h)], 1 - target))
            tuned[h] = round(float(np.clip(q + 1e-6, 0.3, 0.99)), 3)
    return tuned


def tune_site_thresholds(model: TextModel, thresholds: dict[str, float], site: Sequence[Record],
                         config: GateConfig) -> tuple[dict[str, float], dict[str, str]]:
    """Spam/toxic thresholds with the best F1 on the site's own labels, kept within the band around the public ones.

    Returns the thresholds and, per head, why (tuned, or why not).
    """
    tuned, why = dict(thresholds), {}
    if config.site_threshold_min_labels <= 0:
        return tuned, {h: "site threshold tuning off" for h in SITE_HEADS}
    P = _score(model, [r.text for r in site]) if site else np.zeros((0, len(model.heads)))
    for h in SITE_HEADS:
        if h not in model.heads:
            continue
        idx = [i for i, r in enumerate(site) if r.labels.get(h) is not None]
        y = np.array([int(site[i].labels[h]) for i in idx])
        pos = int(y.sum())
        if len(idx) < config.site_threshold_min_labels or min(pos, len(y) - pos) < config.site_threshold_min_per_class:
            why[h] = (f"kept the public threshold: {len(idx)} site labels ({pos} positive), need "
                      f"{config.site_threshold_min_labels} with {config.site_threshold_min_per_class} of each class")
            continue
        p = P[idx, model.heads.index(h)]
        public = thresholds.get(h, 0.5)
        lo = max(0.05, public - config.site_threshold_band)
        hi = min(0.99, public + config.site_threshold_band)
        grid = np.round(np.arange(lo, hi + 1e-9, 0.01), 3)
        f1 = [2 * int(((p >= t) & (y == 1)).sum()) / max(1, int((p >= t).sum()) + pos) for t in grid]
        best = float(grid[int(np.argmax(f1))])
        tuned[h] = best
        why[h] = (f"best F1 {max(f1):.3f} on {len(idx)} site labels at {best:.2f} "
                  f"(allowed {lo:.2f}–{hi:.2f} around the public {public:.2f})")
    return tuned, why


def site_head_metrics(loaded: LoadedModel, site_train_rows: Sequence[dict[str, Any]],
                      holdout: Sequence[Record]) -> dict[str, Any]:
    """ROC-AUC per head on the holdout with the service's online site head fed the training-period labels.

    This is what the site would be served once the model is live and the head is replayed.
    """
    from moderation.pipeline.site_model import SiteModelConfig, SiteModels

    models = SiteModels(loaded, SiteModelConfig())
    models.learn_rows([{"id": i + 1, "site_id": "site", "text": r["text"], "label": r.get("label"),
                        "source": "moderator", "decided_at": r.get("decided_at") or ""}
                       for i, r in enumerate(site_train_rows)])
    texts = [r.text for r in holdout]
    base = loaded.model.predict_scores(texts) if texts else []
    site = models.sites.get("site")
    served = [dict(s) for s in base]
    if site is not None:
        for i, text in enumerate(texts):
            for h, info in site.adjust(loaded, text, base[i]).items():
                served[i][h] = info["score"]
    out: dict[str, Any] = {}
    for h in SITE_HEADS:
        idx = [i for i, r in enumerate(holdout) if r.labels.get(h) is not None]
        y = [int(holdout[i].labels[h]) for i in idx]
        if h not in loaded.model.heads or not idx or sum(y) in (0, len(y)):
            continue
        from sklearn.metrics import roc_auc_score

        out[h] = {"roc_auc": round(float(roc_auc_score(y, [base[i][h] for i in idx])), 4),
                  "roc_auc_with_site_head": round(float(roc_auc_score(y, [served[i][h] for i in idx])), 4)}
    return out


def gate(current: LoadedModel, candidate: TextModel, candidate_thresholds: dict[str, float],
         public_test: Sequence[Record], site_holdout: Sequence[Record], config: GateConfig) -> dict[str, Any]:
    """Compare the two models on data neither trained on; decide ``promote`` or ``refuse`` with reasons."""
    heads = [h for h in HEADS if h in candidate.heads and h in current.model.heads]
    cur_public, _ = _head_metrics(current.model, current.thresholds, public_test, heads)
    new_public, _ = _head_metrics(candidate, candidate_thresholds, public_test, heads)
    cur_site, cur_P = _head_metrics(current.model, current.thresholds, site_holdout, SITE_HEADS)
    new_site, new_P = _head_metrics(candidate, candidate_thresholds, site_holdout, SITE_HEADS)
    reasons: list[str] = []
    ok = True

    for h in heads:
        before, after = cur_public.get(h, {}).get("pr_auc"), new_public.get(h, {}).get("pr_auc")
        if before is None or after is None:
            continue
        if after < before - config.public_tolerance:
            ok = False
            reasons.append(f"public test {h}: PR-AUC fell {before:.4f} → {after:.4f} (tolerance {config.public_tolerance})")
        else:
            reasons.append(f"public test {h}: PR-AUC {before:.4f} → {after:.4f} (within tolerance)")

    cur_score, new_score = _site_score(cur_site), _site_score(new_site)
    if new_score is None or cur_score is None:
        ok = False
        reasons.append("site holdout has no positive labels: nothing shows the candidate is better")
    elif new_score < cur_score + config.min_site_gain:
        ok = False
        reasons.append(f"site holdout mean F1 {cur_score:.4f} → {new_score:.4f}: not better by "
                       f"{config.min_site_gain} or more")
    else:
        reasons.append(f"site holdout mean F1 {cur_score:.4f} → {new_score:.4f}")

    cur_fh = _false_hold(current.model, current.thresholds, site_holdout)
    new_fh = _false_hold(candidate, candidate_thresholds, site_holdout)
    if cur_fh is not None and new_fh is not None:
        if new_fh > cur_fh + config.false_hold_tolerance:
            ok = False
            reasons.append(f"site ham held {cur_fh:.2%} → {new_fh:.2%} (tolerance +{config.false_hold_tolerance:.0%})")
        else:
            reasons.append(f"site ham held {cur_fh:.2%} → {new_fh:.2%}")

    return {
        "decision": "promote" if ok else "refuse",
        "reasons": reasons,
        "compared_with": current.version,
        "config": {k: v for k, v in config.__dict__.items()},
        "public_test": {"current": cur_public, "candidate": new_public, "rows": len(public_test)},
        "site_holdout": {"current": cur_site, "candidate": new_site, "rows": len(site_holdout),
                         "current_false_hold": cur_fh, "candidate_false_hold": new_fh,
                         "current_score": cur_score, "candidate_score": new_score},
        "_curves": _site_curves(current.model, cur_P, candidate, new_P, site_holdout),
    }


def _site_curves(current: TextModel, cur_P: np.ndarray, candidate: TextModel, new_P: np.ndarray,
                 holdout: Sequence[Record]) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Per site head: (labels, scores) of each model on the holdout, for the PR-curve plot."""
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for head in SITE_HEADS:
        idx = [i for i, r in enumerate(holdout) if r.labels.get(head) is not None]
        y = np.array([int(holdout[i].labels[head]) for i in idx])
        if not idx or y.sum() in (0, len(y)) or head not in current.heads or head not in candidate.heads:
            continue
        curves[head] = {"current": (y, cur_P[idx, current.heads.index(head)]),
                        "candidate": (y, new_P[idx, candidate.heads.index(head)])}
    return curves


def retrain(public: PublicSplits, site_rows: Sequence[dict[str, Any]], models_dir: Path, *,
            config: GateConfig = GateConfig(), version: str | None = None, report_dir: Path | None = None,
            progress: bool = True) -> dict[str, Any]:
    """Train a candidate, gate it, write it (not current) with its verdict and report; return the report.

    The report (JSON, Markdown, PR curves) goes to ``report_dir``, by default ``<models>/<version>/gate``.
    """
    from .export import write_model

    current = load_model(models_dir)
    site_train_rows, site_holdout_rows = time_split(site_rows, config.holdout_fraction)
    heads = current.model.heads
    holdout = [_site_record(r, heads) for r in site_holdout_rows]
    # A text in the holdout must not be trained on, even when a moderator labelled it twice.
    holdout_norms = {r.norm for r in holdout}
    site_train = [r for r in (_site_record(r, heads) for r in site_train_rows) if r.norm not in holdout_norms]

    # Heavy re-weighting is not the default any more (see GateConfig.site_weight); 0 leaves site rows out.
    weighted_site = site_train if config.site_weight > 0 else []
    train_rows = list(public.train) + weighted_site
    weights = [r.weight for r in public.train] + [config.site_weight] * len(weighted_site)
    labels = {h: [r.labels.get(h) for r in train_rows] for h in heads}
    candidate = fit_text_model([r.text for r in train_rows], labels, sample_weight=weights, seed=SEED,
                               calib_folds=0, progress=progress, lexicons=current.model.lexicons)
    val_X = candidate.transform([r.text for r in public.val])
    calibrate(candidate, None, labels_of(public.val, candidate.heads), X=val_X)
    thresholds, _why = choose_thresholds(candidate, public.val, candidate.proba(val_X))
    # The site's labels first as the threshold set (the holdout is never used to tune, only to judge).
    thresholds, site_threshold_why = tune_site_thresholds(candidate, thresholds, site_train, config)
    if config.target_false_hold is not None:
        ham = [r for r in site_train if r.labels.get("spam") == 0 and r.labels.get("toxic") == 0]
        thresholds = retune_thresholds(candidate, thresholds, ham, config.target_false_hold)

    report = gate(current, candidate, thresholds, public.test, holdout, config)
    report["site_thresholds"] = {"thresholds": {h: thresholds[h] for h in SITE_HEADS if h in thresholds},
                                 "why": site_threshold_why}
    candidate_loaded = LoadedModel(version="candidate", model=candidate, thresholds=thresholds, manifest={})
    report["site_head"] = {"current": site_head_metrics(current, site_train_rows, holdout),
                           "candidate": site_head_metrics(candidate_loaded, site_train_rows, holdout)}
    site_info: dict[str, Any] = {"train": len(site_train), "holdout": len(holdout), "weight": config.site_weight,
                                 "trained_on": len(weighted_site)}
    if weighted_site:
        # The online site heads of this model replay only labels decided after these (no double counting).
        site_info["trained_until"] = max(r.get("decided_at") or "" for r in site_train_rows)
    candidate.info.update({"site_labels": site_info, "base_model": current.version})
    version = write_model(candidate, models_dir, version=version, thresholds=thresholds,
                          metrics={"gate": {k: v for k, v in report.items() if not k.startswith("_")}},
                          sources=public.sources + [{"name": "site-labels", "rows": len(site_rows),
                                                     "licence": "the site's own moderator decisions"}],
                          set_current=False)
    report["candidate"] = version
    _record_gate(models_dir / version / "manifest.json", report)
    report["report_dir"] = str(report_dir or models_dir / version / "gate")
    write_gate_report(report, Path(report["report_dir"]))
    return report


def _record_gate(manifest_path: Path, report: dict[str, Any]) -> None:
    """Put the verdict in the candidate's manifest (not a hashed file), where ``promote latest`` reads it."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["gate"] = {"decision": report["decision"], "reasons": report["reasons"],
                        "compared_with": report["compared_with"]}
    tmp = manifest_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, manifest_path)


def write_gate_report(report: dict[str, Any], out: Path) -> None:
    """JSON, a Markdown page and PR curves (site holdout, current vs candidate)."""
    out.mkdir(parents=True, exist_ok=True)
    curves = report.pop("_curves", {})  # arrays: plotted, not saved
    (out / "gate.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    lines = [f"# Gate: candidate {report['candidate']} vs current {report['compared_with']}", "",
             f"**Decision: {report['decision'].upper()}**", ""]
    lines += [f"- {reason}" for reason in report["reasons"]]
    for part in ("site_holdout", "public_test"):
        lines += ["", f"## {part.replace('_', ' ')} ({report[part]['rows']} rows)", "",
                  "| head | model | precision | recall | F1 | PR-AUC | threshold |", "|---|---|---|---|---|---|---|"]
        for who in ("current", "candidate"):
            for head, m in report[part][who].items():
                lines.append(f"| {head} | {who} | {m['precision']} | {m['recall']} | {m['f1']} | "
                             f"{m.get('pr_auc', '–')} | {m['threshold']} |")
    if report.get("site_thresholds"):
        lines += ["", "## thresholds from the site's training-period labels", ""]
        lines += [f"- {h}: {why}" for h, why in report["site_thresholds"]["why"].items()]
    if report.get("site_head"):
        lines += ["", "## site holdout ROC-AUC, alone and with the online site head replayed (as served)", "",
                  "| head | model | ROC-AUC | with site head |", "|---|---|---|---|"]
        for who, heads in report["site_head"].items():
            for head, m in heads.items():
                lines.append(f"| {head} | {who} | {m['roc_auc']} | {m['roc_auc_with_site_head']} |")
    for head, pr in curves.items():
        png = out / f"site_{head}_pr.png"
        _pr_png(png, f"site holdout: {head}", pr, {})
        lines += ["", f"![{head} precision-recall on the site holdout]({png.name})"]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_site_rows(path: Path) -> list[dict[str, Any]]:
    return read_label_file(path)
