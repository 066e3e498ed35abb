"""The production pair: nginx (deploy/nginx.conf) in front of gunicorn (web/gunicorn.conf.py), on loopback.

Run by `scripts/serve-prod.sh` (which installs the Debian `nginx` package if it is missing), by the tests
that need the real set-up and by the load test. gunicorn binds a free loopback port that only nginx uses and
trusts `X-Forwarded-For` from nginx alone (`KB_TRUSTED_PROXIES`); nginx listens where the customers come.

nginx runs under a private prefix (a temporary folder by default): its config, pid, logs and temp files live
there, so it needs no system paths. Run as root, its master keeps root and its workers run as `nobody`
(the `user` directive); run as anyone else, the whole of nginx runs as that user.

Limits come from `KB_NGINX_*` environment variables (README "Production deployment"):
`KB_NGINX_CONN_PER_ADDRESS`, `KB_NGINX_RATE`, `KB_NGINX_BURST`, `KB_NGINX_HEADER_TIMEOUT`,
`KB_NGINX_BODY_TIMEOUT`, `KB_NGINX_MAX_BODY`, `KB_NGINX_WORKERS`, `KB_NGINX_HSTS`.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "nginx.conf"
STATIC = ROOT / "web" / "static"
MIME_TYPES = Path("/etc/nginx/mime.types")


@dataclass(frozen=True)
class ProxyLimits:
    """What nginx allows one client address, and how long it waits for a slow one."""

    conn_per_address: int = 64
    rate: int = 30  # requests per second, per address
    burst: int = 120  # requests above the rate answered at once before 429s start
    header_timeout: int = 10  # seconds for a request's headers
    body_timeout: int = 10  # seconds between two reads of the body (and two writes of the answer)
    max_body: str = "1m"
    workers: str = "auto"
    hsts: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ProxyLimits:
        """Defaults, then `KB_NGINX_<FIELD>` variables, then `overrides`."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = env.get(f"KB_NGINX_{field.name.upper()}")
            if raw is None or raw.strip() == "":
                continue
            if field.type == "int":
                values[field.name] = _positive(field.name, raw)
            elif field.type == "bool":
                values[field.name] = raw.strip().lower() in {"1", "true", "yes", "on"}
            else:
                values[field.name] = raw.strip()
        values.update(overrides)
        return cls(**values)


def _positive(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"KB_NGINX_{name.upper()}: not a whole number: {raw!r}") from None
    if value < 1:
        raise SystemExit(f"KB_NGINX_{name.upper()}: must be at least 1, not {value}")
    return value


def render_nginx_conf(
    *, listen: str, app: str, prefix: Path, limits: ProxyLimits, access_log: str | None = None
) -> str:
    """deploy/nginx.conf with its placeholders filled.

    Args:
        listen: where nginx listens (`127.0.0.1:8080`, `80`...).
        app: the gunicorn address nginx forwards to (`127.0.0.1:8000`).
        prefix: nginx's private folder (pid, logs, temp files).
        limits: the per-address limits and timeouts.
        access_log: a path, or None for no access log.
    """
    values = {
        "USER": "user nobody nogroup;"
        if os.geteuid() == 0
        else "# user: nginx runs as the user who started it",
        "WORKER_PROCESSES": limits.workers,
        "PREFIX": str(prefix),
        "MIME_TYPES": str(MIME_TYPES),
        "ACCESS_LOG": access_log or "off",
        "HEADER_TIMEOUT": str(limits.header_timeout),
        "BODY_TIMEOUT": str(limits.body_timeout),
        "MAX_BODY": limits.max_body,
        "RATE": str(limits.rate),
        "BURST": str(limits.burst),
        "CONN_PER_ADDRESS": str(limits.conn_per_address),
        "APP": app,
        "LISTEN": listen,
        "STATIC": str(STATIC),
        "HSTS": 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;'
        if limits.hsts
        else "# no HSTS (KB_NGINX_HSTS=1 once served over HTTPS)",
    }
    text = TEMPLATE.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text:
        raise ValueError(f"{TEMPLATE}: placeholder left unfilled near {text[text.index('{{') :][:40]!r}")
    return text


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise RuntimeError("nginx is not installed: run scripts/serve-prod.sh (installs the Debian package)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gunicorn_command(bind: str) -> list[str]:
    config = str(ROOT / "web" / "gunicorn.conf.py")
    return [sys.executable, "-m", "gunicorn", "-c", config, "--bind", bind, "web:create_app()"]


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


class ProductionPair:
    """gunicorn on a private loopback port and nginx in front of it; `port` is nginx's.

    Args:
        env: the app's environment (`KB_*` settings); `KB_TRUSTED_PROXIES` is set to nginx's address.
        port: nginx's port on `host` (0: a free one).
        host: nginx's address (loopback by default).
        limits: nginx's limits (default: from `KB_NGINX_*`).
        prefix: nginx's folder (default: a new temporary folder, removed on stop).
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        limits: ProxyLimits | None = None,
        prefix: Path | None = None,
    ) -> None:
        self.env = dict(os.environ if env is None else env)
        self.host = host
        self.port = port or free_port()
        self.app_port = free_port()
        self.limits = limits or ProxyLimits.from_env(self.env)
        self._own_prefix = prefix is None
        self.prefix = prefix or Path(tempfile.mkdtemp(prefix="kb-nginx-"))
        self.gunicorn: subprocess.Popen[bytes] | None = None
        self.nginx: subprocess.Popen[bytes] | None = None
        self._logs: list[IO[bytes]] = []

    @property
    def gunicorn_log(self) -> Path:
        return self.prefix / "gunicorn.log"

    @property
    def nginx_log(self) -> Path:
        return self.prefix / "error.log"

    def start(self) -> ProductionPair:
        self.prefix.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self.prefix.chmod(0o755)  # nginx's workers (nobody) create their temp files inside
        conf = self.prefix / "nginx.conf"
        conf.write_text(
            render_nginx_conf(
                listen=f"{self.host}:{self.port}",
                app=f"127.0.0.1:{self.app_port}",
                prefix=self.prefix,
                limits=self.limits,
                access_log=str(self.prefix / "access.log") if self.env.get("KB_NGINX_ACCESS_LOG") else None,
            ),
            encoding="utf-8",
        )
        binary = nginx_binary()
        check = subprocess.run(
            [binary, "-t", "-q", "-p", str(self.prefix), "-e", str(self.nginx_log), "-c", str(conf)],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise RuntimeError(f"nginx refused {conf}:\n{check.stderr}")
        # The app trusts X-Forwarded-For from nginx (loopback) only; anyone else's header is ignored.
        app_env = {**self.env, "KB_TRUSTED_PROXIES": self.env.get("KB_TRUSTED_PROXIES") or "127.0.0.1"}
        app_env.setdefault("KB_WEB_BIND", f"127.0.0.1:{self.app_port}")
        log = open(self.gunicorn_log, "wb")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        self.gunicorn = subprocess.Popen(
            gunicorn_command(f"127.0.0.1:{self.app_port}"),
            cwd=ROOT,
            env=app_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        out = open(self.prefix / "nginx.out", "wb")  # noqa: SIM115 - closed in stop()
        self._logs.append(out)
        self.nginx = subprocess.Popen(
            [binary, "-p", str(self.prefix), "-e", str(self.nginx_log), "-c", str(conf)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        return self

    def request(self, method: str, path: str, *, timeout: float = 30.0, **kwargs: Any) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, **kwargs)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def wait_ready(self, timeout: float = 180.0, workers: int = 0) -> None:
        """Until /healthz answers 200 through nginx (and `workers` gunicorn workers logged their warm-up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in (("gunicorn", self.gunicorn), ("nginx", self.nginx)):
                if proc is None or proc.poll() is not None:
                    raise RuntimeError(f"{name} stopped:\n{self.logs()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                warm = self.gunicorn_log.read_text(errors="replace").count(" warm in ")
                if self.request("GET", "/healthz", timeout=5)[0] == 200 and warm >= workers:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"not ready within {timeout:.0f}s:\n{self.logs()}")

    def logs(self) -> str:
        parts = []
        for path in (self.gunicorn_log, self.nginx_log, self.prefix / "nginx.out"):
            if path.exists():
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        if self.nginx is not None:
            _stop(self.nginx, signal.SIGQUIT)  # graceful: answers in flight finish
        if self.gunicorn is not None:
            _stop(self.gunicorn)
        for log in self._logs:
            log.close()
        self._logs.clear()
        if self._own_prefix:
            shutil.rmtree(self.prefix, ignore_errors=True)

    def __enter__(self) -> ProductionPair:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def production_pair(env: Mapping[str, str] | None = None, **kwargs: Any) -> Iterator[ProductionPair]:
    with ProductionPair(env, **kwargs) as pair:
        pair.wait_ready()
        yield pair


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/serve-prod.sh",
        description="nginx in front of gunicorn (README: Production deployment).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="nginx's address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port, 0 for a free one (%(default)s)")
    parser.add_argument("--prefix", type=Path, help="nginx's folder (default: a temporary one)")
    args = parser.parse_args(argv)
    pair = ProductionPair(port=args.port, host=args.host, prefix=args.prefix)
    stopping = False

    def _quit(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _quit)
    signal.signal(signal.SIGINT, _quit)
    with pair:
        pair.wait_ready()
        print(
            f"serving on http://{pair.host}:{pair.port} (gunicorn on 127.0.0.1:{pair.app_port})", flush=True
        )
        while not stopping:
            for name, proc in (("gunicorn", pair.gunicorn), ("nginx", pair.nginx)):
                if proc is not None and proc.poll() is not None:
                    print(f"{name} stopped (exit {proc.returncode}):\n{pair.logs()}", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
