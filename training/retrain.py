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

from moderation.model import LoadedModel, TextModel, load_model
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
    # Site labels count this many times a public row, so a few hundred of them move the model.
    site_weight: float = 25.0
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

    train_rows = list(public.train) + site_train
    weights = [r.weight for r in public.train] + [config.site_weight] * len(site_train)
    labels = {h: [r.labels.get(h) for r in train_rows] for h in heads}
    candidate = fit_text_model([r.text for r in train_rows], labels, sample_weight=weights, seed=SEED,
                               calib_folds=0, progress=progress, lexicons=current.model.lexicons)
    val_X = candidate.transform([r.text for r in public.val])
    calibrate(candidate, None, labels_of(public.val, candidate.heads), X=val_X)
    thresholds, _why = choose_thresholds(candidate, public.val, candidate.proba(val_X))
    if config.target_false_hold is not None:
        ham = [r for r in site_train if r.labels.get("spam") == 0 and r.labels.get("toxic") == 0]
        thresholds = retune_thresholds(candidate, thresholds, ham, config.target_false_hold)

    report = gate(current, candidate, thresholds, public.test, holdout, config)
    candidate.info.update({"site_labels": {"train": len(site_train), "holdout": len(holdout),
                                           "weight": config.site_weight}, "base_model": current.version})
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
    for head, pr in curves.items():
        png = out / f"site_{head}_pr.png"
        _pr_png(png, f"site holdout: {head}", pr, {})
        lines += ["", f"![{head} precision-recall on the site holdout]({png.name})"]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_site_rows(path: Path) -> list[dict[str, Any]]:
    return read_label_file(path)
