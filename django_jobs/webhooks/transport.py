"""POSTing to a receiver safely: checked schemes, checked addresses, bounded everything.

The host is resolved when the request is sent and the connection goes to the
address that was checked, never to a second lookup of the name: a DNS answer
that changes between check and connect (rebinding) cannot reach a private
address. Redirects are not followed unless ``WEBHOOK_MAX_REDIRECTS`` allows
them, and each hop is checked again.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from ..conf import jobs_settings
from . import config

REDIRECTS = {301, 302, 303, 307, 308}
# Checked in this order, so 127.0.0.1 reads "loopback", not "private".
_KINDS = (
    ("loopback", "is_loopback"),
    ("link-local", "is_link_local"),
    ("multicast", "is_multicast"),
    ("unspecified", "is_unspecified"),
    ("reserved", "is_reserved"),
    ("private", "is_private"),
)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedTarget(Exception):
    """The URL may not be sent to: its scheme or one of its addresses is not allowed."""


class DeliveryError(Exception):
    """The receiver could not be reached or did not answer in time."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    location: str = ""


def blocked_reason(address: Address) -> str | None:
    """Why ``address`` is refused ("loopback", "private", ...), or None when it may be used."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if any(address in network for network in config.allowed_networks()):
        return None
    for label, attribute in _KINDS:
        if getattr(address, attribute):
            return label
    return None if address.is_global else "not publicly routable"


def checked_addresses(url: str) -> list[str]:
    """Resolve the URL's host now; every address must be allowed (or ``BlockedTarget``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedTarget(f"refused {url!r}: only http(s) URLs are sent to")
    if parts.scheme == "http" and not jobs_settings.WEBHOOK_ALLOW_HTTP:
        raise BlockedTarget(
            f"refused {url!r}: plain http is not allowed (DJANGO_JOBS['WEBHOOK_ALLOW_HTTP'])"
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DeliveryError(f"cannot resolve {parts.hostname!r}: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
    for address in addresses:
        reason = blocked_reason(ipaddress.ip_address(address))
        if reason:
            article = "an" if reason[0] in "aeiou" else "a"
            raise BlockedTarget(
                f"refused {url!r}: {parts.hostname} resolves to {address}, {article} {reason} "
                "address "
                "(allow it with DJANGO_JOBS['WEBHOOK_ALLOWED_NETWORKS'])"
            )
    return addresses


def post(url: str, body: bytes, headers: dict[str, str]) -> Response:
    """POST ``body``, following at most ``WEBHOOK_MAX_REDIRECTS`` redirects, each checked."""
    deadline = time.monotonic() + float(jobs_settings.WEBHOOK_TIMEOUT)
    hops = int(jobs_settings.WEBHOOK_MAX_REDIRECTS)
    while True:
        response = _post_once(url, body, headers, deadline)
        if response.status not in REDIRECTS or not response.location or hops <= 0:
            return response
        hops -= 1
        url = urljoin(url, response.location)


def _post_once(url: str, body: bytes, headers: dict[str, str], deadline: float) -> Response:
    parts = urlsplit(url)
    addresses = checked_addresses(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    last: Exception | None = None
    for address in addresses:
        connection = _connection(parts.scheme, parts.hostname or "", parts.port, address, deadline)
        try:
            return _exchange(connection, path, body, headers, deadline)
        except (OSError, http.client.HTTPException) as exc:
            last = exc
        finally:
            connection.close()
    raise DeliveryError(f"could not deliver to {url}: {last}")


def _exchange(
    connection: http.client.HTTPConnection,
    path: str,
    body: bytes,
    headers: dict[str, str],
    deadline: float,
) -> Response:
    # The socket timeout bounds each read; the watchdog bounds the whole exchange.
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _abort, (connection,))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", path, body=body, headers=headers)
        answer = connection.getresponse()
        limit = int(jobs_settings.WEBHOOK_MAX_RESPONSE_BYTES)
        content = answer.read(limit) if answer.status != 204 else b""
        return Response(answer.status, content, answer.getheader("Location") or "")
    except OSError as exc:
        if time.monotonic() >= deadline:
            raise DeliveryError(
                f"no answer within {jobs_settings.WEBHOOK_TIMEOUT}s (WEBHOOK_TIMEOUT)"
            ) from exc
        raise
    finally:
        watchdog.cancel()


def _abort(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _connection(
    scheme: str, host: str, port: int | None, address: str, deadline: float
) -> http.client.HTTPConnection:
    timeout = max(0.01, deadline - time.monotonic())
    if scheme == "https":
        return _PinnedHTTPS(host, port, address, timeout)
    return _PinnedHTTP(host, port, address, timeout)


class _PinnedHTTP(http.client.HTTPConnection):
    """Sends ``Host: host`` but connects to the checked ``address``."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to the checked ``address``, with the certificate verified for ``host``."""

    def __init__(self, host: str, port: int | None, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]
