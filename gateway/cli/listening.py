"""Where the commands that run services listen: sockets bound before serving, said in one line."""

from __future__ import annotations

import errno
import socket

from sqlalchemy.engine import make_url


class PortUnavailable(Exception):
    """A service's address cannot be bound; the message names the setting to change."""


def listening_socket(host: str, port: int, setting: str) -> socket.socket:
    """A socket listening on `host:port`, or `PortUnavailable` naming `setting`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            reason = "is already in use"
        else:
            reason = f"cannot be bound ({error.strerror})"
        raise PortUnavailable(
            f"{host}:{port} {reason}: set {setting} to a free port (or stop what listens there)"
        ) from error
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """`http://host:port` of a bound socket (the port the system chose when 0 was asked)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def database_shown(url: str) -> str:
    """The database URL as it may be printed: never its password."""
    return make_url(url).render_as_string(hide_password=True)
