"""`python -m service serve`: restarts and reloads that refuse no connection.

A small supervisor holds the listening socket and runs the application in a worker process
(uvicorn with the factory, serving that socket). Connections that arrive while no worker accepts
wait in the kernel's queue of the socket instead of being refused, because the socket stays open:

- **systemd socket activation** (deploy/timemoto-pointage.socket): systemd holds the socket and
  passes it (`LISTEN_FDS`, `LISTEN_PID`, fd 3); `systemctl restart` stops and starts the whole
  service while the socket stays open in systemd.
- **a reload** (`SIGHUP`: `systemctl reload`, `pm2 sendSignal SIGHUP timemoto-pointage`): a new
  worker starts on the same socket and, once it serves, the old one is stopped gracefully (its
  requests in flight finish). New code is loaded; a worker that fails to start is reported and
  the old one keeps serving.
- without an inherited socket the supervisor binds HOST:PORT itself.

SIGTERM and SIGINT (pm2's stop signal) both stop gracefully: the worker lets requests in flight
finish (up to GRACEFUL_SHUTDOWN_S), then the supervisor exits 0. A worker that dies is started
again; one that cannot start at all (a configuration error, said in one line) ends the service
with its exit status, so that systemd or pm2 see the failure.

The worker announces that it serves through a pipe (`--ready-fd`), once uvicorn has run the
application's start-up (which never waits for the database: see service/runtime.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("service.server.supervisor")

GRACEFUL_SHUTDOWN_S = 20  # requests in flight may finish this long after SIGTERM
STOP_WAIT_S = GRACEFUL_SHUTDOWN_S + 5  # then the worker is killed
READY_TIMEOUT_S = 120.0  # a new worker has this long to serve (the embedded server may start)
BACKLOG = 2048
SD_LISTEN_FDS_START = 3
RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)


class ServeError(Exception):
    """The listening socket cannot be had; the message is one line an operator can act on."""


def inherited_socket(environ: dict[str, str] | None = None) -> socket.socket | None:
    """The socket passed by systemd (sd_listen_fds: LISTEN_FDS, and LISTEN_PID naming us)."""
    env = os.environ if environ is None else environ
    count = env.get("LISTEN_FDS")
    if not count:
        return None
    pid = env.get("LISTEN_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None  # meant for another process
    if count != "1":
        raise ServeError(f"LISTEN_FDS={count}: the service takes exactly one socket")
    sock = socket.socket(fileno=SD_LISTEN_FDS_START)
    if sock.type != socket.SOCK_STREAM:
        raise ServeError("the socket passed by systemd is not a stream (TCP) socket")
    for name in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
        os.environ.pop(name, None)  # our workers get the socket by --fd, not by these
    return sock


def bound_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(BACKLOG)
    return sock


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    ready_fd: int
    ready: bool = False
    stop_asked: float | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll_ready(self, timeout: float) -> bool:
        if self.ready:
            return True
        readable, _, _ = select.select([self.ready_fd], [], [], timeout)
        if readable and os.read(self.ready_fd, 1):
            self.ready = True
            os.close(self.ready_fd)
        return self.ready

    def close(self) -> None:
        if not self.ready:
            with contextlib.suppress(OSError):
                os.close(self.ready_fd)


class Supervisor:
    def __init__(self, sock: socket.socket, worker_args: list[str]) -> None:
        self.sock = sock
        self.worker_args = worker_args
        self.signals: list[int] = []  # received, not yet acted upon
        self.workers: list[Worker] = []  # the serving one last
        self.stopping: list[Worker] = []

    def _on_signal(self, signum: int, _: Any) -> None:
        self.signals.append(signum)

    def spawn(self) -> Worker:
        read_end, write_end = os.pipe()
        self.sock.set_inheritable(True)
        command = [
            sys.executable,
            "-m",
            "service.server.supervisor",
            "--fd",
            str(self.sock.fileno()),
            "--ready-fd",
            str(write_end),
            *self.worker_args,
        ]
        process = subprocess.Popen(command, pass_fds=(self.sock.fileno(), write_end))
        os.close(write_end)
        return Worker(process, read_end)

    def wait_ready(self, worker: Worker) -> bool:
        """Until the worker serves (True), or it exits or a stop is asked (False)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if worker.poll_ready(0.2):
                return True
            if worker.process.poll() is not None:
                return False
            if any(s in (signal.SIGTERM, signal.SIGINT) for s in self.signals):
                return False
        log.error("the new worker %d did not serve within %.0f s", worker.pid, READY_TIMEOUT_S)
        return False

    def stop_worker(self, worker: Worker) -> None:
        worker.close()
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGTERM)
            worker.stop_asked = time.monotonic()
            self.stopping.append(worker)

    def reap(self) -> None:
        """Forget the stopped workers; kill one still running STOP_WAIT_S after its SIGTERM."""
        for worker in list(self.stopping):
            if worker.process.poll() is not None:
                self.stopping.remove(worker)
            elif worker.stop_asked and time.monotonic() - worker.stop_asked > STOP_WAIT_S:
                worker.process.kill()

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        first = self.spawn()
        if not self.wait_ready(first):
            return self._give_up(first)
        self.workers = [first]
        log.info(
            "serving on %s (worker %d); SIGHUP reloads without refusing connections",
            _where(self.sock),
            first.pid,
        )
        announce_ready_to_pm2()
        failures = 0
        while True:
            while self.signals:
                received = self.signals.pop(0)
                if received in (signal.SIGTERM, signal.SIGINT):
                    return self.shutdown()
                if received == signal.SIGHUP:
                    self.reload()
            serving = self.workers[-1]
            code = serving.process.poll()
            if code is not None:
                failures += 1
                delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS)) - 1]
                log.error(
                    "worker %d exited (%s): starting another in %.1f s", serving.pid, code, delay
                )
                time.sleep(delay)
                replacement = self.spawn()
                if self.wait_ready(replacement):
                    self.workers = [replacement]
                    failures = 0
                elif replacement.process.poll() is not None and failures >= len(RESTART_DELAYS):
                    return self._give_up(replacement)
                else:
                    self.workers = [replacement]
            self.reap()
            time.sleep(0.1)

    def reload(self) -> None:
        old = self.workers[-1]
        new = self.spawn()
        log.info("reload: worker %d starting beside worker %d", new.pid, old.pid)
        if not self.wait_ready(new):
            log.error(
                "reload failed: the new worker did not start; worker %d keeps serving", old.pid
            )
            self.stop_worker(new)
            return
        self.workers = [new]
        self.stop_worker(old)
        log.info("reload: worker %d serves; worker %d stops gracefully", new.pid, old.pid)

    def shutdown(self) -> int:
        for worker in self.workers:
            self.stop_worker(worker)
        deadline = time.monotonic() + STOP_WAIT_S
        while self.stopping and time.monotonic() < deadline:
            self.stopping = [w for w in self.stopping if w.process.poll() is None]
            time.sleep(0.05)
        for worker in self.stopping:
            worker.process.kill()
            worker.process.wait()
        self.sock.close()
        return 0

    def _give_up(self, worker: Worker) -> int:
        self.stop_worker(worker)
        code = worker.process.wait()
        self.sock.close()
        return code if code else 1


def announce_ready_to_pm2(environ: dict[str, str] | None = None) -> bool:
    """Tell pm2 that this process serves (its `wait_ready`), as Node's `process.send('ready')`.

    pm2 gives a forked app an IPC channel (NODE_CHANNEL_FD, one JSON message a line). With
    `wait_ready` it takes an instance as started only on this message, so `pm2 reload` of several
    instances restarts the next only once this one serves: behind nginx, nothing is refused.
    """
    env = os.environ if environ is None else environ
    fd = env.get("NODE_CHANNEL_FD", "")
    if not fd.isdigit():
        return False
    try:
        os.write(int(fd), b'"ready"\n')
    except OSError:
        return False  # not pm2's channel after all: nothing to tell
    return True


# -- the worker --------------------------------------------------------------------------------


ARRIVAL_GRACE_S = 0.5  # seconds a just-accepted connection has to send its request at shutdown


def run_worker(fd: int, ready_fd: int, options: dict[str, Any]) -> int:
    import uvicorn

    sock = socket.socket(fileno=fd)

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                os.write(ready_fd, b"1")
                os.close(ready_fd)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # A connection accepted just before the signal may not have sent its request yet,
            # and uvicorn closes a connection without a request at once (its sender sees a
            # reset): stop accepting first, let those requests arrive, then shut down as usual.
            for server in self.servers:
                server.close()
            await asyncio.sleep(ARRIVAL_GRACE_S)
            await super().shutdown(sockets)

    config = uvicorn.Config(
        "service.app:create_app",
        factory=True,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        **options,
    )
    server = AnnouncingServer(config)
    server.run(sockets=[sock])
    return 0 if server.started else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.server.supervisor")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--ready-fd", type=int, required=True)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    from service.server.connections import uvicorn_options
    from service.settings import Settings

    settings = Settings.from_env()  # the supervisor's environment and .env, as it read them
    options = uvicorn_options(settings.keepalive_timeout, settings.limit_concurrency)
    return run_worker(args.fd, args.ready_fd, {"log_level": args.log_level, **options})


if __name__ == "__main__":
    sys.exit(main())


def _where(sock: socket.socket) -> str:
    """http://host:port of the listening socket (or its path, for a Unix socket)."""
    address = sock.getsockname()
    if isinstance(address, tuple):
        host = f"[{address[0]}]" if ":" in str(address[0]) else address[0]
        return f"http://{host}:{address[1]}"
    return str(address)
