"""The HTTP edges of `qualify serve` (gunicorn), over raw sockets: a refused body closes the connection and
says so, a chunked body over the limit is refused like an announced one, and the access log carries no webhook
secret and no API key."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

LIMIT = 1000


@dataclass
class Served:
    """A `qualify serve` process on a loopback port and the file its output goes to."""

    port: int
    log: Path
    key: str


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`qualify serve` on SQLite with a 1,000-byte body limit, migrated, with an admin key."""
    folder = tmp_path_factory.mktemp("served")
    env = {**os.environ, "QUALIFY_INSTANCE_PATH": str(folder / "instance"), "QUALIFY_MAX_BODY_BYTES": str(LIMIT),
           "QUALIFY_SECRET_KEY": Fernet.generate_key().decode(), "QUALIFY_LOG_LEVEL": "WARNING",
           "QUALIFY_ALLOW_LOOPBACK_CRM": "1"}
    env.pop("QUALIFY_DATABASE_URL", None)
    qualify = [sys.executable, "-m", "service.cli"]
    subprocess.run([*qualify, "migrate"], env=env, check=True, capture_output=True)
    key = subprocess.run([*qualify, "keys", "create", "--role", "admin"], env=env, check=True, capture_output=True,
                         text=True).stdout.strip()
    port, log = free_port(), folder / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen([*qualify, "serve", "--port", str(port)], env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"qualify serve did not start: {log.read_text()}")
        yield Served(port, log, key)
    finally:
        process.terminate()
        process.wait(timeout=15)


def exchange(sock: socket.socket, raw: bytes) -> bytes:
    """Send `raw` and read one answer (headers and its Content-Length of body)."""
    # The server may answer and close before the whole refused body is sent.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(raw)
    data = b""
    while True:
        head, _, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"content-length: (\d+)", head, re.I)
        if length and len(body) >= int(length.group(1)):
            return data
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def status_and_connection(answer: bytes) -> tuple[int, str]:
    """The status code and Connection header of a raw answer."""
    status = int(answer.split(b" ", 2)[1])
    connection = re.search(rb"\r\nconnection: ([^\r]+)", answer, re.I)
    return status, connection.group(1).decode().lower() if connection else ""


def closed(sock: socket.socket) -> bool:
    """Whether the server closed the connection (reading gives EOF or a reset)."""
    sock.settimeout(3)
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, TimeoutError):
        return True


@pytest.mark.parametrize("size", [LIMIT + 1, 3_000_000])
def test_given_a_body_over_the_limit_then_413_says_connection_close_and_closes(served: Served, size: int) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        answer = exchange(sock, b"POST /v1/webhooks/1 HTTP/1.1\r\nHost: q\r\nContent-Type: application/json\r\n"
                                b"Content-Length: %d\r\n\r\n" % size + b"x" * size)

        assert status_and_connection(answer) == (413, "close")
        assert closed(sock)


def test_given_a_chunked_body_over_the_limit_then_413_not_a_signature_error(served: Served) -> None:
    chunks = b"".join(b"%x\r\n%s\r\n" % (400, b"y" * 400) for _ in range(5)) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        answer = exchange(sock, b"POST /v1/webhooks/1 HTTP/1.1\r\nHost: q\r\nContent-Type: application/json\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n" + chunks)

    assert status_and_connection(answer) == (413, "close")


def test_given_a_chunked_body_within_the_limit_then_it_is_read_whole(served: Served) -> None:
    chunks = b"3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        answer = exchange(sock, b"POST /v1/webhooks/999 HTTP/1.1\r\nHost: q\r\nContent-Type: application/json\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n" + chunks)

    assert status_and_connection(answer)[0] == 404  # read and judged: no connection 999


def test_the_access_log_keeps_neither_webhook_secrets_nor_api_keys(served: Served) -> None:
    base = f"http://127.0.0.1:{served.port}"
    httpx.post(f"{base}/v1/webhooks/7?secret=hunter2-webhook-secret", content=b"[]")
    httpx.post(f"{base}/v1/webhooks/7?token=pipedrive-path-token", content=b"[]")
    httpx.get(f"{base}/v1/fields?page=1", headers={"Authorization": f"Bearer {served.key}"})

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "/v1/fields?page=1" not in served.log.read_text():
        time.sleep(0.1)
    log = served.log.read_text()
    assert "/v1/webhooks/7?[redacted]" in log
    assert "hunter2" not in log and "pipedrive-path-token" not in log
    assert served.key not in log
    assert "/v1/fields?page=1" in log  # other query strings stay, for debugging
