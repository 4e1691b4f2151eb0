"""``moderation serve --workers N``: one listening socket, N worker processes, a supervisor.

The supervisor applies the migrations once, binds the port, and starts N workers as fresh
interpreters (``moderation serve --listen-fd``) that inherit the listening socket: the kernel hands
each new connection to whichever worker accepts first. Each worker is a whole service (its own
model, store connection and group commits). A worker that dies is started again; the connections
waiting in the shared backlog are taken by the others meanwhile, so a SIGKILLed worker loses only
the requests it was in the middle of, none of which had been answered. SIGTERM/SIGINT stop the
workers gracefully (in-flight requests finish); SIGHUP is passed on (model reload).

Fresh interpreters rather than ``fork``: the supervisor never loads numpy or a model, and no
worker inherits another's threads or locks.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

import structlog

from .settings import Settings
from .store import open_store

log = structlog.get_logger("moderation.workers")

RESTART_PAUSE_SECONDS = 0.5  # a worker that cannot start must not spin the CPU


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


async def _migrate(settings: Settings) -> None:
    store = open_store(settings.effective_database_url)
    try:
        await store.migrate()
    finally:
        await store.close()


def supervise(settings: Settings, workers: int, argv: Sequence[str]) -> int:
    """Run ``workers`` copies of ``moderation serve argv`` on one socket until SIGTERM/SIGINT."""
    # Once, before any worker exists: workers migrating at the same time would race.
    asyncio.run(_migrate(settings))
    sock = listen(settings.host, settings.port)
    fd = sock.fileno()
    command = [sys.executable, "-m", "moderation", "serve", *argv, "--listen-fd", str(fd)]
    running: dict[int, subprocess.Popen[bytes]] = {}
    stopping = False

    def start(index: int) -> None:
        env = {**os.environ, "MODERATION_WORKER_INDEX": str(index)}
        proc = subprocess.Popen(command, pass_fds=[fd], env=env)
        running[index] = proc
        log.info("worker_started", worker=index, pid=proc.pid)

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        for proc in running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM if signum == signal.SIGINT else signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    for index in range(workers):
        start(index)
    log.info("serving", host=settings.host, port=settings.port, workers=workers, pid=os.getpid())
    try:
        while running:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            exited = next((i for i, p in running.items() if p.pid == pid), None)
            if exited is None:
                continue
            index = exited
            running[index].returncode = os.waitstatus_to_exitcode(status)
            del running[index]
            if stopping:
                continue
            log.error("worker_died", worker=index, pid=pid, exit_code=os.waitstatus_to_exitcode(status))
            time.sleep(RESTART_PAUSE_SECONDS)
            if not stopping:
                start(index)
    finally:
        sock.close()
    return 0
