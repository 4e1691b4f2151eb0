"""CLI: ``python -m training train|evaluate|export-labels|retrain|learning-curve|convert ...`` (explicit paths only)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="fit the spam/toxicity model and write a versioned artefact")
    t.add_argument("--data-root", type=Path, required=True, help="folder holding the dataset folders (shared/data)")
    t.add_argument("--out", type=Path, required=True, help="models directory (gets <version>/ and CURRENT)")
    t.add_argument("--version", default=None, help="version string (default YYYY.MM.DD-NN)")
    e = sub.add_parser("evaluate", help="write the evaluation report for a trained model")
    e.add_argument("--data-root", type=Path, required=True)
    e.add_argument("--models", type=Path, required=True, help="models directory")
    e.add_argument("--version", default=None, help="model version (default: CURRENT)")
    e.add_argument("--out", type=Path, required=True, help="report directory (JSON, Markdown, PNG)")
    e.add_argument("--skip-slow", action="store_true", help="skip the protocol rows that retrain (brand CV, cross-source)")
    e.add_argument("--reuse-protocol", type=Path, default=None, help="take the retraining rows (brand CV, "
                   "cross-source, Ibrohim folds, --compare) from an earlier report.json of the same recipe")
    e.add_argument("--compare", default="", help="comma-separated recipe variants to run the protocol on as well "
                   "(training.recipe.VARIANTS, e.g. baseline_2026.11.25,no_evidence)")
    x = sub.add_parser("export-labels", help="write the site's moderator decisions as training rows (JSON lines)")
    x.add_argument("--database-url", required=True, help="sqlite:///path or postgresql://... of the service")
    x.add_argument("--out", type=Path, required=True, help="output file (.jsonl)")
    r = sub.add_parser("retrain", help="train a candidate on public data + site labels and gate it")
    r.add_argument("--data-root", type=Path, required=True)
    r.add_argument("--labels", type=Path, required=True, help="file written by export-labels")
    r.add_argument("--out", type=Path, required=True, help="models directory (the candidate is added, not made current)")
    r.add_argument("--report", type=Path, default=None, help="gate report directory (default <out>/<version>/gate)")
    r.add_argument("--version", default=None)
    r.add_argument("--site-weight", type=float, default=0.0,
                   help="weight of one site label vs one public row in the shared model (default 0: the labels "
                        "tune thresholds, judge the candidate and train the online site head)")
    r.add_argument("--site-threshold-band", type=float, default=0.1,
                   help="site-tuned thresholds stay within this of the public-data ones")
    r.add_argument("--site-threshold-min-labels", type=int, default=50,
                   help="site labels a head needs before its threshold is tuned on them (0: never)")
    r.add_argument("--holdout-fraction", type=float, default=0.25, help="newest share of site labels kept for the gate")
    r.add_argument("--public-tolerance", type=float, default=0.01, help="max PR-AUC loss per head on public test")
    r.add_argument("--min-site-gain", type=float, default=0.01, help="min mean-F1 gain on the site holdout")
    r.add_argument("--target-false-hold", type=float, default=None,
                   help="re-tune spam/toxic thresholds so at most this share of site ham is held")
    r.add_argument("--promote", action="store_true", help="make the candidate current if (and only if) it passes")
    c = sub.add_parser("convert", help="rewrite a model_format 1 (joblib) version as a new format 2 version")
    c.add_argument("--models", type=Path, required=True, help="models directory")
    c.add_argument("--from", dest="old", required=True, help="the format 1 version to read")
    c.add_argument("--to", dest="new", required=True, help="the new version to write (CURRENT is not moved)")
    lc = sub.add_parser("learning-curve", help="AUC on a simulated site's newest labels vs the number of site labels")
    lc.add_argument("--data-root", type=Path, required=True)
    lc.add_argument("--out", type=Path, required=True, help="directory for learning_curve.json and .png")
    lc.add_argument("--site-source", default="toxicity-id-netifier", help="public source held out to play the site")
    lc.add_argument("--orders", type=int, default=3, help="random label orders for the site head (cheap)")
    lc.add_argument("--retrain-orders", type=int, default=1, help="orders for the retrain baselines (a fit per point)")
    lc.add_argument("--eval-size", type=int, default=1000, help="newest site labels every point is measured on")
    args = ap.parse_args(argv)
    if args.cmd == "convert":
        from .convert import convert_joblib_version

        version = convert_joblib_version(args.models.resolve(), args.old, args.new)
        print(f"wrote model version {version} (model_format 2) from {args.old}; promote it with "
              f"`moderation models promote {version}`")
        return 0
    if args.cmd == "learning-curve":
        from .learning_curve import learning_curve

        rep = learning_curve(args.data_root.resolve(), args.out.resolve(), site_source=args.site_source,
                             orders=args.orders, retrain_orders=args.retrain_orders, eval_size=args.eval_size)
        print(json.dumps({m: [(p["n_site_labels"], p["auc_mean"]) for p in v] for m, v in rep["curves"].items()}))
        print(f"written to {args.out}/learning_curve.json and learning_curve.png")
        return 0
    if args.cmd == "export-labels":
        from .site_labels import export_labels

        n = export_labels(args.database_url, args.out.resolve())
        print(f"wrote {n} labelled rows to {args.out}")
        return 0
    if args.cmd == "retrain":
        return _retrain(args)
    if args.cmd == "train":
        from .evaluate import train

        if not args.data_root.is_dir():
            ap.error(f"--data-root {args.data_root} is not a directory")
        version = train(args.data_root.resolve(), args.out.resolve(), version=args.version)
        print(f"wrote model version {version} to {args.out}")
        return 0
    from .evaluate import evaluate

    rep = evaluate(args.data_root.resolve(), args.models.resolve(), args.out.resolve(), version=args.version,
                   skip_slow=args.skip_slow, compare=[c for c in args.compare.split(",") if c],
                   reuse_protocol=args.reuse_protocol)
    print(json.dumps({"model_version": rep["model_version"], "thresholds": rep["thresholds"]}, indent=2))
    print(f"report written to {args.out}/README.md and report.json")
    return 0


def _retrain(args: argparse.Namespace) -> int:
    from moderation.registry import promote

    from .retrain import GateConfig, public_splits, retrain
    from .site_labels import read_label_file

    config = GateConfig(site_weight=args.site_weight, holdout_fraction=args.holdout_fraction,
                        public_tolerance=args.public_tolerance, min_site_gain=args.min_site_gain,
                        target_false_hold=args.target_false_hold, site_threshold_band=args.site_threshold_band,
                        site_threshold_min_labels=args.site_threshold_min_labels)
    rows = read_label_file(args.labels.resolve())
    public = public_splits(args.data_root.resolve())
    out = args.out.resolve()
    report = retrain(public, rows, out, config=config, version=args.version,
                     report_dir=args.report.resolve() if args.report else None)
    print(f"candidate {report['candidate']}: {report['decision'].upper()}")
    for reason in report["reasons"]:
        print(f"  - {reason}")
    print(f"gate report: {report['report_dir']}/README.md")
    if report["decision"] != "promote":
        return 3  # a refused candidate is not an error, but scripts must be able to tell
    if args.promote:
        promote(out, report["candidate"])
        print(f"promoted {report['candidate']}; reload running services (POST /v1/admin/models/reload or SIGHUP)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
