#!/usr/bin/env python
"""Take the admin screenshots in docs/images/ from the example project.

Starts the example on a throw-away SQLite database (migrate, seedjobs, a few
``runjobs --once`` passes for some history), serves it with runserver on a
free port, logs in with a session made for the seeded ``admin`` user and
drives headless Chromium through the DevTools protocol.

Needs the Debian ``chromium`` package and ``pip install websocket-client``.
Not run by CI:  python scripts/screenshots.py [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import websocket  # websocket-client

ROOT = Path(__file__).resolve().parent.parent
MANAGE = ROOT / "example_project" / "manage.py"
IMAGES = ROOT / "docs" / "images"
# The admin must read well in a 1400-px window.
WIDTH = 1400

MAKE_SESSION = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
user = get_user_model().objects.get(username="admin")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""

TRIGGER = """
from django_jobs.steering import trigger
from django_jobs.models import Job
for job in Job.objects.exclude(schedule="").exclude(name="Daily Reports"):
    trigger(job)
"""

JOB_ID = """
from django_jobs.models import Job
print(Job.objects.get(name="Heartbeat Notifications").pk)
print(Job.objects.get(name="Broken Notification").pk)
"""


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(MANAGE), *args], env=env, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@contextmanager
def process(args: list[str], **kwargs: Any):
    proc = subprocess.Popen(args, **kwargs)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def prepare(env: dict[str, str]) -> None:
    """A database with jobs, a failed one among them, and some history."""
    manage(env, "migrate", "--noinput")
    manage(env, "seedjobs")
    for _ in range(3):  # the broken job fails, waits for its retry, fails for good
        manage(env, "shell", "-c", TRIGGER)  # and recurring jobs run a few times
        manage(env, "runjobs", "--once")
        time.sleep(2.5)


class Browser:
    """Just enough of the DevTools protocol: cookies, navigation, screenshots."""

    def __init__(self, chromium: str, profile: str) -> None:
        self.proc = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = self._devtools_port(Path(profile) / "DevToolsActivePort")
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        target = next(page for page in pages if page["type"] == "page")
        self.ws = websocket.create_connection(
            target["webSocketDebuggerUrl"], timeout=30, suppress_origin=True
        )
        self.ids = itertools.count(1)
        self.call("Page.enable")
        self.call("Network.enable")
        # Fold the admin's navigation sidebar so the tables get the width.
        self.call(
            "Page.addScriptToEvaluateOnNewDocument",
            source="localStorage.setItem('django.admin.navSidebarIsOpen', 'false')",
        )

    def _devtools_port(self, path: Path) -> int:
        deadline = time.monotonic() + 30
        while not path.exists() or not path.read_text().strip():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("Chromium did not start its DevTools server")
            time.sleep(0.1)
        return int(path.read_text().split()[0])

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def wait_event(self, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if json.loads(self.ws.recv()).get("method") == name:
                return
        raise TimeoutError(name)

    def screenshot(self, url: str, path: Path, height: int = 900, full: bool = False) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=height,
                  deviceScaleFactor=1, mobile=False)  # fmt: skip
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        if full:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            height = min(int(size["height"]) + 20, 3000)
            self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=height,
                      deviceScaleFactor=1, mobile=False)  # fmt: skip
        time.sleep(0.3)
        shot = self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
        print(f"wrote {path} ({WIDTH}x{height})")

    def close(self) -> None:
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=IMAGES, help="Folder for the images.")
    args = parser.parse_args()
    images = args.out.resolve()
    images.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/example.sqlite3",
            "DEBUG": "1",
            "PYTHONUNBUFFERED": "1",
        }
        prepare(env)
        session = manage(env, "shell", "-c", MAKE_SESSION).splitlines()[-1]
        job_id, failed_id = manage(env, "shell", "-c", JOB_ID).splitlines()[-2:]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        server = [sys.executable, str(MANAGE), "runserver", "--noreload", f"127.0.0.1:{port}"]
        # AUTO_START is on in the example: the server runs the jobs itself.
        with process(server, **quiet):
            wait_for(f"{base}/admin/login/")
            browser = Browser(args.chromium, f"{tmp}/profile")
            try:
                browser.call("Network.setCookie", name="sessionid", value=session, url=base)
                jobs = f"{base}/admin/django_jobs/job/"
                browser.screenshot(jobs, images / "admin-jobs.png", 620)
                browser.screenshot(f"{jobs}{job_id}/change/", images / "admin-job.png", full=True)
                failed = f"{jobs}{failed_id}/change/"
                browser.screenshot(failed, images / "admin-failed-job.png", 900)
                browser.screenshot(f"{jobs}runner/", images / "admin-runner.png", 560)
                history = f"{base}/admin/django_jobs/jobhistory/"
                browser.screenshot(history, images / "admin-history.png", 620)
            finally:
                browser.close()


if __name__ == "__main__":
    main()
