"""A real HTTP receiver on 127.0.0.1 for webhook tests, and a record of every connect made.

The audit hook sees each ``socket.connect`` of the process, so a test can prove
that a refused target was never connected to.
"""

from __future__ import annotations

import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONNECTS: list[tuple] = []
_hooked = False


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect":
        CONNECTS.append(args[1])


def watch_connects() -> list[tuple]:
    global _hooked
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked = True
    CONNECTS.clear()
    return CONNECTS


class Receiver:
    """Answers each POST with the next planned (status, headers, delay), then 200."""

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        self.requests: list[dict] = []
        self.plan: list[tuple[int, dict[str, str], float]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "body": body,
                        "at": time.monotonic(),
                    }
                )
                status, headers, delay = receiver.plan.pop(0) if receiver.plan else (200, {}, 0)
                time.sleep(delay)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up waiting (timeout tests)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        if tls:  # (certificate file, key file): answer https instead
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://localhost:{self.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
