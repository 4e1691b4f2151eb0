"""Scoring benchmark: batch throughput on one core, single-comment latency, model load time, RSS.

    python bench/bench_scoring.py --models models [--out docs/evaluation/bench.json] [--n 20000]

Texts are synthetic news-comment-like strings (ordinary Indonesian comments, insults, styled-letter judol ads),
so no data root is needed. Loading is measured in fresh subprocesses (cold: including imports).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ORDINARY = [
    "Pemerintah harus segera memperbaiki jalan rusak di desa kami, sudah bertahun-tahun tidak diperhatikan.",
    "Terima kasih atas beritanya, sangat bermanfaat untuk warga.",
    "Semoga korban banjir cepat mendapat bantuan dan bisa kembali ke rumah.",
    "Harga beras naik terus, petani juga tidak sejahtera. Mohon perhatian pemerintah.",
    "Timnas main bagus tadi malam, semoga lolos ke piala dunia 2026!",
    "Great article, thanks for the clear explanation.",
    "Kapan jadwal vaksinasi berikutnya di kecamatan kami?",
]
TOXIC = ["Dasar goblok, otak udang lu", "anjing lu bangsat, mending diam aja", "tolol banget komentatornya"]
SPAM = [
    "Sejak pagi tadi kami mengunjungi ✌𝗔𝗟𝗘𝗫𝗜𝗦17✌ dan langsung maxwin!",
    "𝐒𝐋𝐎𝐓 𝐆𝐀𝐂𝐎𝐑 hari ini cuma di P͟U͟L͟A͟U͟W͟I͟N͟ wd cepat",
    "main di s.l.o.t g4c0r 88 pasti jp, daftar di gacor88.com",
]


def make_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    pool = ORDINARY * 6 + TOXIC + SPAM * 2
    out = []
    for i in range(n):
        t = rng.choice(pool)
        out.append(f"{t} {i % 97}" if rng.random() < 0.5 else t)  # vary a little to defeat any caching
    return out


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "logical_cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


_CHILD = """
import sys, time, json
t0 = time.perf_counter()
sys.path.insert(0, {repo!r})
from moderation.artefacts import load_model
t1 = time.perf_counter()
m = load_model({models!r})
t2 = time.perf_counter()
m.model.predict_scores(["warm up"])
rss = [int(l.split()[1]) / 1024 for l in open('/proc/self/status') if l.startswith('VmRSS:')][0]
print(json.dumps({{"import_s": t1 - t0, "load_s": t2 - t1, "total_s": t2 - t0, "rss_mb": rss}}))
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=None, help="write results JSON here")
    ap.add_argument("--n", type=int, default=20000, help="comments for the batch test")
    ap.add_argument("--single", type=int, default=2000, help="comments for the single-comment latency test")
    ap.add_argument("--data-root", type=Path, default=None,
                    help="optional shared data root: also benchmark on real, diverse judol-yt comments (read only)")
    args = ap.parse_args()
    from tqdm import tqdm

    try:  # one core
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError):
        pass
    info = machine()
    print(f"machine: {info['cpu']} ({info['logical_cores']} logical cores; pinned to one) python {info['python']}")

    loads = []
    for _ in tqdm(range(3), desc="cold load (subprocess)"):
        out = subprocess.run([sys.executable, "-c", _CHILD.format(repo=str(REPO), models=str(args.models.resolve()))],
                             capture_output=True, text=True, check=True)
        loads.append(json.loads(out.stdout.strip().splitlines()[-1]))

    from moderation.artefacts import load_model

    rss0 = rss_mb()
    t = time.perf_counter()
    loaded = load_model(args.models)
    warm_load = time.perf_counter() - t
    model = loaded.model
    texts = make_texts(args.n)
    model.predict_scores(texts[:100])

    corpora = {"synthetic_templates": texts}
    if args.data_root:
        import csv

        with (args.data_root / "judol-yt-gbennnn" / "dataset_judol_labelled.csv").open(encoding="utf-8") as fh:
            real = [row["comment_text"] for row in csv.DictReader(fh)][: args.n]
        corpora["real_judol_yt_comments"] = real
    rates = {}
    bs = 1000
    for name, corpus in corpora.items():
        model.__dict__.pop("_chunk_cache", None)  # start cold: no cached word n-grams
        t = time.perf_counter()
        for i in tqdm(range(0, len(corpus), bs), desc=f"batch scoring {name} (bs={bs})"):
            model.predict_scores(corpus[i : i + bs])
        rates[name] = len(corpus) / (time.perf_counter() - t)
    if args.data_root:
        texts = corpora["real_judol_yt_comments"]
        model.__dict__.pop("_chunk_cache", None)

    lat = []
    for text in tqdm(texts[: args.single], desc="single-comment latency"):
        t = time.perf_counter()
        model.predict_scores([text])
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    expl = []
    for text in texts[:300]:
        t = time.perf_counter()
        model.explain(text, "spam")
        expl.append((time.perf_counter() - t) * 1000)
    expl.sort()
    res = {
        "machine": info,
        "model_version": loaded.version,
        "batch_size": bs,
        "batch_comments_per_s": {k: round(v) for k, v in rates.items()},
        "latency_corpus": "real_judol_yt_comments (cold word cache)" if args.data_root else "synthetic_templates",
        "single_latency_ms": {"p50": round(statistics.median(lat), 3), "p99": round(lat[int(0.99 * len(lat)) - 1], 3),
                              "max": round(lat[-1], 3)},
        "explain_latency_ms": {"p50": round(statistics.median(expl), 3), "p99": round(expl[int(0.99 * len(expl)) - 1], 3)},
        "load_s": {"cold_total_incl_imports_median": round(statistics.median(x["total_s"] for x in loads), 3),
                   "cold_load_model_only_median": round(statistics.median(x["load_s"] for x in loads), 3),
                   "warm_load_model": round(warm_load, 3)},
        "rss_mb": {"fresh_process_after_load": round(statistics.median(x["rss_mb"] for x in loads), 1),
                   "this_process_before_load": round(rss0, 1), "this_process_after_benchmark": round(rss_mb(), 1)},
        "targets": {"batch_comments_per_s": ">= 5000", "single_ms": "<= 1", "load_s": "<= 2", "rss_mb": "<= 250"},
    }
    print(json.dumps(res, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
