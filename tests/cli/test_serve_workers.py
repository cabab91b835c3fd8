"""`lendgate serve --workers N`: several processes share the port, and every one of them serves."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import (
    child_processes,
    demo_env,
    lendgate,
    stop,
    wait_until_serving,
)

START_SECONDS = 90.0
MAX_CONNECTIONS = 200


def _workers(pid: int) -> list[int]:
    # multiprocessing's resource tracker is a child too, and serves nothing.
    return [
        child
        for child, command in child_processes(pid).items()
        if "resource_tracker" not in command
    ]


def _socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets process `pid` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _server_side_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server's end of the loopback connection from `client_port`."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            return inode
    return None


def _get(connection: socket.socket, path: str) -> tuple[bytes, bytes]:
    """One HTTP/1.1 request on a kept-open connection: (status line, body)."""
    connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += connection.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head.split(b"\r\n", 1)[0], body


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`lendgate serve --workers 2` in development on an empty data directory: (process, port)."""
    env = demo_env(tmp_path)
    env["LENDGATE_ENVIRONMENT"] = "development"
    port = int(env["LENDGATE_PORT"])
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        lendgate("serve", "--workers", "2"), env=env, cwd=tmp_path, stdout=log, stderr=log
    )
    try:
        wait_until_serving(
            process, f"http://127.0.0.1:{port}", seconds=START_SECONDS, log=tmp_path / "serve.log"
        )
        yield process, port
    finally:
        stop([process])
        log.close()


def test_serve_with_two_workers_answers_from_both(
    two_workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = two_workers
    workers = _workers(process.pid)
    assert len(workers) == 2
    served_by: dict[int, int] = {}
    connections: list[socket.socket] = []
    try:
        # Keep every connection open, so that the worker holding its server side can be
        # read from /proc, until both workers have answered one.
        while len(set(served_by.values())) < 2 and len(connections) < MAX_CONNECTIONS:
            connection = socket.create_connection(("127.0.0.1", port), timeout=10)
            connections.append(connection)
            status, body = _get(connection, "/healthz")
            assert status == b"HTTP/1.1 200 OK"
            assert body == b'{"status":"ok"}'
            inode = _server_side_inode(port, connection.getsockname()[1])
            owner = [pid for pid in workers if inode in _socket_inodes(pid)]
            assert len(owner) == 1
            served_by[connection.getsockname()[1]] = owner[0]
        assert set(served_by.values()) == set(workers)
        # Errors render exactly as before, whichever worker answers.
        status, body = _get(connections[0], "/v1/no-such-route")
        assert status == b"HTTP/1.1 404 Not Found"
        assert body == b'{"error":"NotFound","detail":"Not Found"}'
    finally:
        for connection in connections:
            connection.close()
