"""nginx with the shipped site (deploy/nginx/), a self-signed certificate and a stand-in for the
ERP's Node backend, all on loopback, for tests/system/test_nginx_edge.py.

The site is used as shipped, with only what an operator edits replaced: the listening ports, the
certificate's paths, the upstreams' addresses and the snippet's path (each replacement must
match exactly as often as the site says, so a changed site fails here rather than silently).
"""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx

from simulator.harness import free_port, terminate, wait_until

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "deploy" / "nginx" / "timemoto-pointage.conf"
SNIPPET = ROOT / "deploy" / "nginx" / "timemoto-pointage-proxy.conf"
ERP_ANSWER = b"the ERP's own backend"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and erp.example.com), and its key, made by openssl."""
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    command += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=erp.example.com"]
    command += ["-addext", "subjectAltName=IP:127.0.0.1,DNS:erp.example.com"]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def _replace(text: str, old: str, new: str, times: int) -> str:
    assert text.count(old) == times, f"the site should hold {old!r} {times} times"
    return text.replace(old, new)


def render_site(
    workdir: Path, http_port: int, https_port: int, instances: list[int], erp_port: int
) -> Path:
    cert, key = self_signed(workdir)
    snippet = workdir / "timemoto-pointage-proxy.conf"
    snippet.write_text(SNIPPET.read_text())
    site = SITE.read_text()
    site = _replace(site, "listen 80;", f"listen 127.0.0.1:{http_port};", 1)
    site = _replace(site, "listen [::]:80;", "", 1)
    site = _replace(site, "listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;", 1)
    site = _replace(site, "listen [::]:443 ssl http2;", "", 1)
    site = _replace(site, "/etc/letsencrypt/live/erp.example.com/fullchain.pem", str(cert), 1)
    site = _replace(site, "/etc/letsencrypt/live/erp.example.com/privkey.pem", str(key), 1)
    site = _replace(site, "/etc/nginx/snippets/timemoto-pointage-proxy.conf", str(snippet), 5)
    site = _replace(site, "127.0.0.1:3000", f"127.0.0.1:{erp_port}", 1)
    first, second = instances
    site = _replace(site, "server 127.0.0.1:8000 ", f"server 127.0.0.1:{first} ", 1)
    site = _replace(site, "server 127.0.0.1:8001 ", f"server 127.0.0.1:{second} ", 1)
    path = workdir / "site.conf"
    path.write_text(site)
    return path


MAIN = """
daemon off;
master_process on;
worker_processes 1;
user root;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
worker_rlimit_nofile 8192;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    include {site};
}}
"""


@dataclass
class Nginx:
    binary: str
    workdir: Path
    https_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def ca(self) -> ssl.SSLContext:
        """What verifies the self-signed certificate (httpx's `verify`, asyncio's `ssl`)."""
        return ssl.create_default_context(cafile=self.workdir / "fullchain.pem")

    def start(self, site: Path) -> Nginx:
        conf = self.workdir / "nginx.conf"
        conf.write_text(MAIN.format(work=self.workdir, site=site))
        check = subprocess.run(
            [self.binary, "-t", "-c", str(conf), "-p", str(self.workdir)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert check.returncode == 0, check.stderr
        log = (self.workdir / "nginx.out").open("wb")
        self.process = subprocess.Popen(
            [self.binary, "-c", str(conf), "-p", str(self.workdir)], stdout=log, stderr=log
        )

        def answers() -> bool:
            try:
                httpx.get(f"{self.base_url}/", verify=self.ca, timeout=2)
            except httpx.TransportError:
                return False
            return True

        assert wait_until(answers, 30), self.error_log()
        return self

    def error_log(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)


class _Erp(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(ERP_ANSWER)))
        self.end_headers()
        self.wfile.write(ERP_ANSWER)

    do_GET = do_POST = _answer

    def log_message(self, *_: object) -> None:
        pass


class ErpStandIn:
    """Any path answers 200 with ERP_ANSWER: the ERP's Node backend, as far as nginx can tell."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _Erp)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ErpStandIn:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
