"""Throughput benchmark: the real service side by side with a bare aiohttp endpoint, in one run.

    python bench/throughput.py [--label TEXT] [--workers N] [--profile] [--quick]

Starts a bare aiohttp endpoint (bench/bare_server.py) and the real service (``moderation serve`` on a
fresh SQLite data dir, the shipped model in models/, a site key from ``moderation keys create``), drives
both with the same mix (bench/mix.py: every request a new author), and measures:

* max throughput of each, closed loop (wrk, 32 connections; a Python generator if wrk is missing),
  and their ratio;
* latency percentiles of the service at fixed open-loop offered rates (from the intended send time);
* errors, RSS per process, model load time, the per-stage latency budget (from /metrics) and the
  group-commit batch sizes.

Writes bench/runs/<stamp>.json and .md, appends the table to bench/RESULTS.md and prints it.
``--profile`` adds a py-spy phase (not counted in the figures) and a summary of where the time went.
``--quick`` is a few-second smoke test of the harness itself (its figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
from mix import templates

STAGES = ("parse", "validate", "normalise", "score", "store", "respond")


# -- processes --------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the service's workers)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children[ppid].append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_mb(pid: int) -> dict[str, float]:
    """Current and peak resident memory of one process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, value = line.split(":")
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields.get("VmRSS", 0.0), "peak_rss_mb": fields.get("VmHWM", 0.0)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its descendants so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def closed_with_cpu(load: Load, base: str, key: str, duration: float, pid: int) -> dict[str, Any]:
    """A closed-loop run plus the server's CPU time per answered request: a figure that other
    people's load on the machine disturbs far less than requests/s."""
    before = cpu_seconds(pid)
    out = load.closed(base, key, duration)
    used = cpu_seconds(pid) - before
    answered = out["rps"] * out["seconds"]
    out["server_cpu_ms_per_request"] = round(used / answered * 1000, 3) if answered else None
    return out


def tree_rss(pid: int) -> list[dict[str, Any]]:
    out = []
    for p in process_tree(pid):
        try:
            out.append({"pid": p, **rss_mb(p)})
        except OSError:
            pass
    return out


# -- load -------------------------------------------------------------------------------------------
def percentiles(latencies_s: list[float]) -> dict[str, float | None]:
    if not latencies_s:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "p999_ms": None, "max_ms": None}
    xs = sorted(latencies_s)

    def at(q: float) -> float:
        return round(xs[min(len(xs) - 1, int(q * len(xs)))] * 1000, 2)

    return {"p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "p999_ms": at(0.999),
            "max_ms": round(xs[-1] * 1000, 2)}


class Load:
    def __init__(self, tmp: Path, tpl_file: Path, args: argparse.Namespace) -> None:
        self.tmp, self.tpl_file, self.args = tmp, tpl_file, args
        self.next_author = 1  # every request in the whole run gets a new author number
        self.wrk = shutil.which("wrk") if args.generator != "python" else None
        if args.generator == "wrk" and not self.wrk:
            raise SystemExit("wrk is not installed (apt-get install wrk), or use --generator python")

    def _take(self, count: int) -> int:
        start = self.next_author
        self.next_author += count
        return start

    def closed(self, base_url: str, key: str, duration: float) -> dict[str, Any]:
        """Max throughput: ``--connections`` connections, each sending as soon as it is answered."""
        start = self._take(10**6)
        if self.wrk:
            out = self.tmp / f"wrk-{start}.json"
            env = {**os.environ, "WRK_TEMPLATES": str(self.tpl_file), "WRK_OUT": str(out), "WRK_KEY": key,
                   "WRK_BASE": str(start)}
            subprocess.run(
                [self.wrk, f"-t{self.args.threads}", f"-c{self.args.connections}", f"-d{max(1, round(duration))}s", "--timeout",
                 "10s", "-s", str(BENCH / "wrk_post.lua"), base_url],
                env=env, check=True, stdout=subprocess.DEVNULL,
            )
            raw = json.loads(out.read_text())
            errors = sum(raw["errors"].values())
            seconds = raw["duration_us"] / 1e6
            lat = raw["latency_us"]
            return {
                "tool": f"wrk -t{self.args.threads} -c{self.args.connections}",
                "requests": raw["requests"], "seconds": round(seconds, 2),
                "rps": round((raw["requests"] - raw["errors"]["status"]) / seconds, 1),
                "errors": errors, "error_detail": raw["errors"],
                "p50_ms": lat["p50"] / 1000, "p99_ms": lat["p99"] / 1000,
            }
        results = self._python(base_url, key, ["--connections", str(self.args.connections // 2 or 1)], duration,
                               start, procs=2)
        ok = sum(r["statuses"].get("201", 0) for r in results)
        sent = sum(r["sent"] for r in results)
        seconds = max(r["elapsed_s"] for r in results)
        lats = [x for r in results for x in r["latencies_s"]]
        return {"tool": f"python loadgen x2, {self.args.connections} connections", "requests": sent,
                "seconds": round(seconds, 2), "rps": round(ok / seconds, 1), "errors": sent - ok,
                **{k: v for k, v in percentiles(lats).items() if k in ("p50_ms", "p99_ms")}}

    def open(self, base_url: str, key: str, rate: float, duration: float) -> dict[str, Any]:
        """``rate`` requests/s whatever the answers, split over the generator processes."""
        procs = max(1, min(self.args.generators, int(rate // 250) or 1))
        start = self._take(int(rate * duration) + 1000 * procs)
        results = self._python(base_url, key, ["--rate", str(rate / procs)], duration, start, procs=procs)
        statuses: Counter[str] = Counter()
        for r in results:
            statuses.update(r["statuses"])
        lats = [x for r in results for x in r["latencies_s"]]
        sent = sum(r["sent"] for r in results)
        ok = statuses.get("201", 0)
        elapsed = max(r["elapsed_s"] for r in results)
        return {"offered_rps": rate, "sent": sent, "ok": ok, "achieved_rps": round(ok / elapsed, 1),
                "errors": sent - ok, "statuses": dict(statuses), **percentiles(lats)}

    def _python(self, base_url: str, key: str, mode: list[str], duration: float, start: int,
                procs: int) -> list[dict[str, Any]]:
        running = []
        span = 10**7
        for n in range(procs):
            out = self.tmp / f"load-{start}-{n}.json"
            cmd = [sys.executable, str(BENCH / "loadgen.py"), "--url", f"{base_url}/v1/comments", "--key", key,
                   "--templates", str(self.tpl_file), "--start", str(start + n * span), "--duration",
                   str(duration), *mode, "--out", str(out)]
            running.append((subprocess.Popen(cmd), out))
        results = []
        for proc, out in running:
            if proc.wait() != 0:
                raise RuntimeError(f"load generator failed with {proc.returncode}")
            results.append(json.loads(out.read_text()))
        return results


# -- the service's own figures ----------------------------------------------------------------------
def scrape(base_url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Prometheus text → {metric name: {labels: value}} (only what the budget needs)."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m:
            continue
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")))
        out[m.group(1)][labels] = float(m.group(3))
    return out


def stage_budget(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any] | None:
    """Mean time per submission in each stage between two scrapes (None: the service has no stage timers)."""
    sums, counts = after.get("moderation_stage_seconds_sum"), after.get("moderation_stage_seconds_count")
    if not sums:
        return None
    out = {}
    for labels, total in sums.items():
        stage = dict(labels)["stage"]
        n = counts[labels] - before.get("moderation_stage_seconds_count", {}).get(labels, 0.0)
        s = total - before.get("moderation_stage_seconds_sum", {}).get(labels, 0.0)
        out[stage] = {"mean_ms": round(s / n * 1000, 3) if n else None, "count": int(n)}
    return dict(sorted(out.items(), key=lambda kv: STAGES.index(kv[0]) if kv[0] in STAGES else 99))


def batch_sizes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any] | None:
    """Group-commit batches between two scrapes: how many, mean size, and the share of requests per bucket."""
    name = "moderation_store_commit_batch_size"
    if f"{name}_count" not in after:
        return None
    n = sum(after[f"{name}_count"].values()) - sum(before.get(f"{name}_count", {}).values())
    rows = sum(after[f"{name}_sum"].values()) - sum(before.get(f"{name}_sum", {}).values())
    buckets = {dict(k)["le"]: v - before.get(f"{name}_bucket", {}).get(k, 0.0)
               for k, v in after.get(f"{name}_bucket", {}).items()}
    return {"commits": int(n), "rows": int(rows), "mean_batch": round(rows / n, 2) if n else None,
            "commits_by_size_le": {k: int(v) for k, v in buckets.items()}}


# -- profile ----------------------------------------------------------------------------------------
# Frames every sample passes through (threads, the event loop, the CLI): they say nothing about cost.
WRAPPERS = re.compile(r"\((threading|concurrent/futures/thread|asyncio/(base_events|events)|selectors)\.py\)$|"
                      r"^(<module>|main|cmd_serve|run_app|Thread\.|_worker|_WorkItem\.run|Handle\._run)")


def profile_summary(raw: Path, top: int = 25) -> dict[str, Any]:
    """py-spy's collapsed stacks → share of samples by function, inclusive and self."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        for f in set(frames):
            if not WRAPPERS.search(f):
                inclusive[f] += n
        own[frames[-1]] += n

    def share(c: Counter[str]) -> list[list[Any]]:
        return [[f, round(100 * n / total, 1)] for f, n in c.most_common(top)]

    return {"samples": total, "inclusive_pct": share(inclusive), "self_pct": share(own)}


# -- machine ------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "")
    except OSError:
        pass
    return {"cpu": model or platform.processor(), "cores": os.cpu_count(), "python": platform.python_version(),
            "kernel": platform.release()}


def load_now() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def busiest_others(exclude: set[int]) -> list[str]:
    """What else was using the CPU (top processes by CPU share, ours excluded)."""
    out = subprocess.run(["ps", "-eo", "pid,pcpu,comm", "--sort=-pcpu", "--no-headers"], capture_output=True,
                         text=True, check=False).stdout
    found = []
    for line in out.splitlines():
        pid, pcpu, comm = line.split(None, 2)
        if int(pid) in exclude or float(pcpu) < 5:
            continue
        found.append(f"{comm.strip()} {pcpu}%")
    return found[:6]


def model_load_seconds(models_dir: Path) -> float:
    """Cold load of the current model in a fresh interpreter (imports included), as a worker pays it."""
    code = ("import time; t = time.perf_counter(); from pathlib import Path; from moderation.artefacts import load_model; "
            f"load_model(Path({str(models_dir)!r})); print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return round(float(out.stdout.strip().splitlines()[-1]), 3)


# -- the run ------------------------------------------------------------------------------------------
def moderation_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "moderation"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "moderation"]


def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "label": args.label, "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                              text=True, check=False).stdout.strip(),
        "machine": machine(), "load_before": load_now(), "quick": args.quick, "workers": args.workers,
        "settings": {"connections": args.connections, "closed_seconds": args.closed_seconds,
                     "open_seconds": args.open_seconds, "rates": args.rates},
    }
    ours: set[int] = {os.getpid()}
    with tempfile.TemporaryDirectory(prefix="modbench-") as tmp_name:
        tmp = Path(tmp_name)
        tpl_file = tmp / "templates.jsonl"
        tpl_file.write_text("\n".join(templates()) + "\n", encoding="utf-8")
        load = Load(tmp, tpl_file, args)
        result["model_load_s"] = model_load_seconds(args.models_dir)

        # 1. The bare endpoint: the ceiling, and a check that the generators are not what limits us.
        port = free_port()
        bare = subprocess.Popen([sys.executable, str(BENCH / "bare_server.py"), str(port)])
        ours.add(bare.pid)
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz", bare)
            base = f"http://127.0.0.1:{port}"
            load.closed(base, "", min(2.0, args.closed_seconds))  # warm-up
            result["bare"] = {"closed": closed_with_cpu(load, base, "", args.closed_seconds, bare.pid)}
            top_rate = max(args.rates)
            result["bare"]["open_at_top_rate"] = load.open(base, "", top_rate, args.open_seconds)
            result["bare"]["rss"] = tree_rss(bare.pid)
        finally:
            stop(bare)

        # 2. The real service, as a new user starts it.
        data = tmp / "data"
        env = {**os.environ, "MODERATION_LOG_JSON": "true", "MODERATION_DATA_DIR": str(data),
               "MODERATION_MODELS_DIR": str(args.models_dir)}
        # One key sends the whole load: its token bucket (50/s by default) would throttle the benchmark.
        (Path(tmp) / "policy.toml").write_text("[default]\nkey_requests_per_second = 0\n", encoding="utf-8")
        env["MODERATION_POLICY_FILE"] = str(Path(tmp) / "policy.toml")
        created = subprocess.run([*moderation_cmd(), "keys", "create", "--role", "site", "--site", "bench"],
                                 env=env, capture_output=True, text=True, check=True)
        key = created.stdout.strip().splitlines()[-1]
        port = free_port()
        serve = [*moderation_cmd(), "serve", "--port", str(port)]
        if args.workers > 1:
            serve += ["--workers", str(args.workers)]
        log_file = (tmp / "service.log").open("wb")
        started = time.perf_counter()
        service = subprocess.Popen(serve, env=env, stdout=log_file, stderr=log_file)
        ours.add(service.pid)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(f"{base}/readyz", service)
            result["service_ready_s"] = round(time.perf_counter() - started, 2)
            ours.update(process_tree(service.pid))
            load.closed(base, key, min(2.0, args.closed_seconds))  # warm-up (caches, first fsyncs)
            m0 = scrape(base)
            svc: dict[str, Any] = {"closed": closed_with_cpu(load, base, key, args.closed_seconds, service.pid)}
            m1 = scrape(base)
            svc["open"] = []
            for rate in args.rates:
                time.sleep(args.pause)  # let the previous backlog drain
                svc["open"].append(load.open(base, key, rate, args.open_seconds))
            m2 = scrape(base)
            if args.workers > 1:
                # Each scrape reaches whichever worker accepts it, so differences between scrapes mix
                # workers: report the last scraped worker's totals since its start instead.
                svc["stage_budget"] = stage_budget({}, m2)
                svc["commit_batches_closed"] = None
                svc["commit_batches_open"] = batch_sizes({}, m2)
            else:
                svc["stage_budget"] = stage_budget(m0, m2)
                svc["commit_batches_closed"] = batch_sizes(m0, m1)
                svc["commit_batches_open"] = batch_sizes(m1, m2)
            svc["rss"] = tree_rss(service.pid)
            if args.profile:
                svc["profile"] = run_profile(load, base, key, service.pid, tmp, args)
            result["load_during"] = load_now()
            result["others"] = busiest_others(ours | set(process_tree(service.pid)))
            result["service"] = svc
        finally:
            stop(service)
            log_file.close()
        result["service_exit_code"] = service.returncode
    bare_rps = result["bare"]["closed"]["rps"]
    result["ratio"] = round(result["service"]["closed"]["rps"] / bare_rps, 3) if bare_rps else None
    result["load_after"] = load_now()
    return result


def run_profile(load: Load, base: str, key: str, pid: int, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """py-spy over a closed-loop phase of its own (sampling slows the service: not in the figures)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    raw = tmp / "profile.txt"
    duration = max(3, int(args.closed_seconds))
    cmd = [spy, "record", "--pid", str(pid), "--duration", str(duration), "--rate", "200", "--format", "raw",
           "--nonblocking", "--output", str(raw)]
    if args.workers > 1:
        cmd.append("--subprocesses")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    load.closed(base, key, duration)
    proc.wait(timeout=60)
    summary = profile_summary(raw)
    if args.profile_out:
        args.profile_out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(raw, args.profile_out)
        summary["raw"] = str(args.profile_out.relative_to(REPO) if args.profile_out.is_relative_to(REPO)
                             else args.profile_out)
    return summary


# -- report -------------------------------------------------------------------------------------------
def fmt(v: Any) -> str:
    return "–" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def markdown(r: dict[str, Any]) -> str:
    svc, bare = r["service"], r["bare"]
    m = r["machine"]
    lines = [
        f"### {r['at']} — {r['label']}{' (quick: not a measurement)' if r['quick'] else ''}",
        "",
        f"git `{r['git']}`; {m['cpu']}, {m['cores']} cores, Python {m['python']}; service workers: {r['workers']}; "
        f"load average before/during/after: {r['load_before']} / {r.get('load_during', '?')} / {r['load_after']}; "
        f"other busy processes: {', '.join(r.get('others') or []) or 'none above 5%'}.",
        "",
        "| closed loop | tool | req/s | server CPU ms/request | p50 ms | p99 ms | errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, c in (("bare aiohttp", bare["closed"]), ("service", svc["closed"])):
        lines.append(f"| {name} | {c['tool']} | {fmt(c['rps'])} | {fmt(c.get('server_cpu_ms_per_request'))} | "
                     f"{fmt(c['p50_ms'])} | {fmt(c['p99_ms'])} | {c['errors']} |")
    cpu_b, cpu_s = bare["closed"].get("server_cpu_ms_per_request"), svc["closed"].get("server_cpu_ms_per_request")
    cpu_ratio = f"; by CPU per request: {cpu_b / cpu_s:.3f}" if cpu_b and cpu_s else ""
    lines += ["", f"**Ratio service / bare: {fmt(r['ratio'])}**{cpu_ratio}", "",
              "| open loop offered/s | achieved/s | p50 ms | p95 ms | p99 ms | p99.9 ms | max ms | errors |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for o in svc["open"]:
        errs = o["errors"]
        detail = {k: v for k, v in o["statuses"].items() if k != "201"}
        lines.append(f"| {fmt(o['offered_rps'])} | {fmt(o['achieved_rps'])} | {fmt(o['p50_ms'])} | "
                     f"{fmt(o['p95_ms'])} | {fmt(o['p99_ms'])} | {fmt(o['p999_ms'])} | {fmt(o['max_ms'])} | "
                     f"{errs}{' ' + json.dumps(detail) if detail else ''} |")
    o = bare["open_at_top_rate"]
    lines.append(f"| bare at {fmt(o['offered_rps'])} (generator check) | {fmt(o['achieved_rps'])} | "
                 f"{fmt(o['p50_ms'])} | {fmt(o['p95_ms'])} | {fmt(o['p99_ms'])} | {fmt(o['p999_ms'])} | "
                 f"{fmt(o['max_ms'])} | {o['errors']} |")
    rss = ", ".join(f"{p['rss_mb']:g} MB (peak {p['peak_rss_mb']:g})" for p in svc["rss"])
    lines += ["", f"RSS per service process: {rss}; bare: {bare['rss'][0]['rss_mb']:g} MB. "
              f"Model load (cold, fresh interpreter): {r['model_load_s']} s; service ready after "
              f"{r.get('service_ready_s', '?')} s."]
    budget = svc.get("stage_budget")
    if budget:
        scope = " (one worker's figures: /metrics is answered by whichever worker accepts)" if r["workers"] > 1 else ""
        lines += ["", f"Per-stage budget{scope} (mean ms per submission over the whole service run, queueing included): "
                  + ", ".join(f"{k} {fmt(v['mean_ms'])}" for k, v in budget.items()) + "."]
    else:
        lines += ["", "Per-stage budget: the service has no stage timers (before issue 12)."]
    for phase in ("closed", "open"):
        b = svc.get(f"commit_batches_{phase}")
        if b:
            where = "one worker, since its start" if r["workers"] > 1 else f"{phase} loop"
            lines.append(f"Group commit ({where}): {b['commits']} commits for {b['rows']} rows, mean batch "
                         f"{fmt(b['mean_batch'])}; commits by batch size ≤: {json.dumps(b['commits_by_size_le'])}.")
    prof = svc.get("profile")
    if prof:
        lines += ["", f"<details><summary>Profile (py-spy, {prof['samples']} samples"
                  f"{', raw: ' + prof['raw'] if prof.get('raw') else ''})</summary>", "",
                  "| inclusive % | function | | self % | function |", "|---:|---|---|---:|---|"]
        for inc, own in zip(prof["inclusive_pct"], prof["self_pct"]):
            lines.append(f"| {inc[1]} | `{inc[0]}` | | {own[1]} | `{own[0]}` |")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="run", help="what this run measures (goes into RESULTS.md)")
    parser.add_argument("--workers", type=int, default=1, help="moderation serve --workers N (default 1)")
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto",
                        help="closed-loop generator: wrk when installed (auto), or the Python one")
    parser.add_argument("--generators", type=int, default=2, help="Python load generator processes (open loop)")
    parser.add_argument("--closed-seconds", type=float, default=10.0)
    parser.add_argument("--open-seconds", type=float, default=10.0)
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between open-loop rates")
    parser.add_argument("--rates", type=float, nargs="+", default=[250, 500, 1000, 2000])
    parser.add_argument("--profile", action="store_true", help="add a py-spy phase and its summary")
    parser.add_argument("--profile-out", type=Path, help="keep py-spy's raw collapsed stacks here")
    parser.add_argument("--out-dir", type=Path, default=BENCH / "runs")
    parser.add_argument("--results", type=Path, default=BENCH / "RESULTS.md", help="the Markdown log to append to")
    parser.add_argument("--quick", action="store_true", help="a few seconds: a smoke test of the harness")
    args = parser.parse_args(argv)
    if args.quick:
        args.closed_seconds, args.open_seconds, args.pause, args.rates = 1.0, 1.0, 0.2, [50.0, 100.0]
        args.connections = min(args.connections, 8)

    result = run(args)
    stamp = result["at"].replace(":", "").replace("-", "")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{stamp}.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    table = markdown(result)
    (args.out_dir / f"{stamp}.md").write_text(table, encoding="utf-8")
    with args.results.open("a", encoding="utf-8") as fh:
        fh.write("\n" + table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
