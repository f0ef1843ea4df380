"""A raw-socket message resource for ``TCPIP[n]::<host>::<port>::SOCKET`` (the CPX400DP's LAN port 9221).

pyvisa-py treats a socket the instrument closed as silence and waits out its whole timeout (its read loop
takes an empty ``recv`` for "no data yet"). The guardian must see a dropped connection at once to reconnect
and switch the output off, so the LAN resource is this small transport: the same ``write``/``read``/
``query``/``timeout`` (ms) surface as a pyvisa message resource, a read that returns at the terminator,
raises :class:`TimeoutError` at the deadline and :class:`ConnectionResetError` when the peer closes.
"""

from __future__ import annotations

import re
import select
import socket
import time

RESOURCE = re.compile(r"^\s*TCPIP\d*::([^:]+)::(\d+)::SOCKET\s*$", re.IGNORECASE)


def parse_socket_resource(name: str) -> tuple[str, int] | None:
    """(host, port) of a ``TCPIP::host::port::SOCKET`` resource name, or None for any other resource."""
    m = RESOURCE.match(name)
    if m is None:
        return None
    return m.group(1), int(m.group(2))


class SocketResource:
    """One TCP connection to an instrument, with pyvisa's message-resource surface."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout_ms: float = 2000.0,
        read_termination: str = "\r\n",
        write_termination: str = "\n",
    ) -> None:
        self.timeout = timeout_ms
        self.read_termination = read_termination
        self.write_termination = write_termination
        self.resource_name = f"TCPIP::{host}::{port}::SOCKET"
        self._buffer = b""
        self._sock = socket.create_connection((host, port), timeout=max(timeout_ms / 1000.0, 0.05))
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.setblocking(False)

    def write(self, message: str) -> int:
        """Send one whole message (the instrument takes a TCP frame as complete commands)."""
        data = (message + self.write_termination).encode("ascii")
        deadline = time.monotonic() + self.timeout / 1000.0
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.resource_name}: write timed out")
            _, writable, _ = select.select([], [self._sock], [], left)
            if writable:
                sent = self._sock.send(view)
                view = view[sent:]
        return len(data)

    def read(self) -> str:
        """Return the next reply line without its terminator."""
        term = self.read_termination.encode("ascii")
        deadline = time.monotonic() + self.timeout / 1000.0
        while term not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.resource_name}: no reply within {self.timeout:g} ms")
            readable, _, _ = select.select([self._sock], [], [], left)
            if not readable:
                continue
            chunk = self._sock.recv(4096)
            if not chunk:
                raise ConnectionResetError(f"{self.resource_name}: the instrument closed the connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(term, 1)
        return line.decode("ascii", "replace")

    def query(self, message: str) -> str:
        self.write(message)
        return self.read()

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass
