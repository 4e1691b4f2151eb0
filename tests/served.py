"""The service as ops run it: ``python -m moderation serve`` in a subprocess on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_key(data_dir: Path, role: str = "site", site: str = "kompas-test") -> str:
    result = subprocess.run(
        [sys.executable, "-m", "moderation", "keys", "create", "--role", role, "--site", site,
         "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=120, check=True,
    )
    return result.stdout.strip().splitlines()[-1]


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def serve(data_dir: Path, models_dir: Path, **env: str) -> Iterator[Served]:
    """Run the service until the block ends; its stderr (the real log output) is kept in a file."""
    port = free_port()
    log_path = data_dir / f"serve-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "moderation", "serve", "--data-dir", str(data_dir), "--models-dir",
             str(models_dir), "--port", str(port)],
            stdout=log_file, stderr=subprocess.STDOUT, env={**os.environ, **env},
        )
    served = Served(process, port, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the service exited: {served.log_text()}")
            try:
                with urllib.request.urlopen(f"{served.url}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service did not start: {served.log_text()}")
            time.sleep(0.1)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
