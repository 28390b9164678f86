"""Drive the studio in a real browser: start `storyreel ui` on a free port, and Debian's Chromium through
Playwright (`playwright install` cannot download a browser here). Used by the browser test and bench/ui.py."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = os.environ.get("STORYREEL_CHROMIUM", "/usr/bin/chromium")
# flags for a closed network: no background requests that this machine refuses
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def studio_server(folder: Path, env: dict[str, str] | None = None, timeout: float = 90) -> Iterator[str]:
    """`storyreel ui FOLDER` on a free localhost port; yields its URL once it answers."""
    port = free_port()
    log = open(os.environ.get("STUDIO_LOG", folder.parent / f"studio-{port}.log"), "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "storyreel.cli", "ui", str(folder), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"storyreel ui stopped: {(folder.parent / f'studio-{port}.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("the studio did not answer in time")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in its terminal
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@contextmanager
def browser(width: int = 1400, height: int = 1000) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b.new_page(viewport={"width": width, "height": height})
        finally:
            b.close()


def settle(page, timeout: float = 60) -> None:
    """Wait until the script run the last action started has finished."""
    time.sleep(0.3)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout * 1000)


def open_page(page, name: str) -> None:
    page.locator('[data-testid="stSidebarNavLink"]').get_by_text(name, exact=True).click()
    page.wait_for_url(f"**/{name.lower()}*" if name != "Story" else "**/*")
    settle(page)


def create_project(page, url: str, name: str, story: str) -> None:
    page.goto(url)
    settle(page)
    page.get_by_label("Project name").fill(name)
    page.get_by_role("textbox", name="Story").fill(story)
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(f"**project={name}*", timeout=120_000)
    settle(page, 120)


def count(page, testid: str) -> int:
    return page.locator(f'[data-testid="{testid}"]').count()
