"""CLI: ``python -m training train --data-root PATH --out DIR`` / ``python -m training evaluate ...``."""

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
    e.add_argument("--skip-slow", action="store_true", help="skip cross-source and 5-fold retraining")
    args = ap.parse_args(argv)
    if args.cmd == "train":
        from .evaluate import train

        if not args.data_root.is_dir():
            ap.error(f"--data-root {args.data_root} is not a directory")
        version = train(args.data_root.resolve(), args.out.resolve(), version=args.version)
        print(f"wrote model version {version} to {args.out}")
        return 0
    from .evaluate import evaluate

    rep = evaluate(args.data_root.resolve(), args.models.resolve(), args.out.resolve(), version=args.version,
                   skip_slow=args.skip_slow)
    print(json.dumps({"model_version": rep["model_version"], "thresholds": rep["thresholds"]}, indent=2))
    print(f"report written to {args.out}/README.md and report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
