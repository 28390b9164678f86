"""`storyreel ui`: the studio (a Streamlit server) and its generation worker, started and watched together.

The worker is restarted if it dies; stopping the studio (Ctrl-C) stops both, and the batch in flight goes back
to the queue, so the next start goes on where this one stopped.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .errors import InputError, StoreError

LOCAL = ("127.0.0.1", "localhost", "::1")
APP = Path(__file__).parent / "ui" / "app.py"


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def streamlit_command(root: Path, host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", host, "--server.port", str(port), "--server.headless", "true",
        "--server.fileWatcherType", "none", "--server.maxUploadSize", "50", "--server.enableXsrfProtection", "true",
        "--browser.gatherUsageStats", "false", "--global.developmentMode", "false", "--client.showErrorDetails", "false",
        "--client.toolbarMode", "minimal", "--theme.base", "light",
    ]  # fmt: skip


def worker_command(root: Path) -> list[str]:
    return [sys.executable, "-m", "storyreel.cli", "worker", str(root)]


def _die_with_parent() -> None:
    """In the child: be sent SIGTERM when `storyreel ui` dies, even by kill -9 (Linux), so no orphan keeps the
    port or a batch; the worker then puts its batch back in the queue."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _start(cmd: list[str], env: dict[str, str], **kwargs: object) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent if sys.platform == "linux" else None, **kwargs)


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def serve(folder: Path, host: str, port: int, say: Callable[[str], None] = print) -> None:
    try:
        import streamlit  # noqa: F401
    except ImportError:
        raise InputError("the studio needs Streamlit: run `pip install 'storyreel[ui]'` (make demo installs it)") from None
    if not 1 <= port <= 65535:
        raise InputError(f"--port {port} is not a port number: give 1024 to 65535")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"cannot use {folder} as the projects folder: {err.strerror}") from None
    root = folder.resolve()
    if not _port_free(host, port):
        raise InputError(f"port {port} on {host} is in use (another studio?): give another with --port")
    env = {**os.environ, "STORYREEL_STUDIO_ROOT": str(root)}
    web = _start(streamlit_command(root, host, port), env, stdout=subprocess.DEVNULL)
    worker = _start(worker_command(root), env)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    if host not in LOCAL:
        say("[bold red]WARNING: the studio listens on " + host + ": anyone who can reach this machine on port "
            f"{port} can read, change and delete your projects. Use --host 127.0.0.1 to keep it to yourself.[/]")
    say(f"storyreel studio: {url}  (projects in {root}; Ctrl-C stops it)")
    restarts: list[float] = []
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stopped by a service manager: as Ctrl-C
    try:
        ready = False
        while True:
            code = web.poll()
            if code is not None:
                raise StoreError(f"the studio's web server stopped (exit {code}): see the messages above")
            if not ready:
                ready = _healthy(host, port)
                if ready:
                    say(f"ready: open {url} in your browser")
            if worker.poll() is not None:
                restarts = [t for t in restarts if time.time() - t < 60] + [time.time()]
                say(f"the generation worker stopped (exit {worker.returncode}); starting it again")
                if len(restarts) > 5:
                    time.sleep(10)  # it keeps dying: do not spin
                worker = _start(worker_command(root), env)
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping the studio; what was queued stays queued for next time")
    finally:
        _stop(worker)
        _stop(web)


def _healthy(host: str, port: int) -> bool:
    target = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    if ":" in target and not target.startswith("["):
        target = f"[{target}]"
    try:
        with urllib.request.urlopen(f"http://{target}:{port}/_stcore/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False

