"""TCP simulator server: the CPX400DP emulator on a raw socket (as LAN port 9221) and the pyrometer as
raw bytes for pyserial's ``socket://``. Loopback only; port 0 picks a free port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from sim.cpx400dp import Session
from sim.rig import SimRig

MAX_PSU_CLIENTS = 2  # the CPX400DP offers two sockets on 9221
LOOPBACK_PREFIXES = ("127.", "localhost", "::1")


class SimServer:
    """Serve one :class:`SimRig` over TCP until :meth:`stop`."""

    def __init__(
        self,
        rig: SimRig,
        host: str = "127.0.0.1",
        psu_port: int = 9221,
        pyrometer_port: int = 9222,
        log: Callable[[str], None] | None = None,
    ):
        if not host.startswith(LOOPBACK_PREFIXES):
            raise ValueError(f"the simulator serves on loopback only, got host {host!r}")
        self.rig = rig
        self.host = host
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._clients: list[socket.socket] = []
        self._psu_clients = 0
        self._psu_conns: list[socket.socket] = []
        self._guard = threading.Lock()
        self.log = log
        rig.psu.disconnect_listeners.append(self._drop_psu_clients)
        if log is not None:
            rig.psu.output_listeners.append(self._log_output)
        self._psu_sock = self._listen(psu_port)
        self._pyro_sock = self._listen(pyrometer_port)

    def _listen(self, port: int) -> socket.socket:
        sock = socket.create_server((self.host, port), reuse_port=False)
        sock.settimeout(0.2)
        return sock

    @property
    def psu_port(self) -> int:
        return int(self._psu_sock.getsockname()[1])

    @property
    def pyrometer_port(self) -> int:
        return int(self._pyro_sock.getsockname()[1])

    @property
    def psu_resource(self) -> str:
        return f"TCPIP::{self.host}::{self.psu_port}::SOCKET"

    @property
    def pyrometer_url(self) -> str:
        return f"socket://{self.host}:{self.pyrometer_port}"

    def start(self) -> SimServer:
        for target, args in (
            (self._accept_loop, (self._psu_sock, self._serve_psu)),
            (self._accept_loop, (self._pyro_sock, self._serve_pyrometer)),
            (self._tick_loop, ()),
        ):
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for sock in (self._psu_sock, self._pyro_sock, *self._clients):
            try:
                sock.close()
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=2.0)

    def _tick_loop(self) -> None:
        # Keep the physics close to the present (and output changes on time) between client requests.
        while not self._stop.wait(0.01):
            self.rig.sync()

    def _log_output(self, channel: int, live: bool) -> None:
        """Say when an output's terminals go live or dead, with this machine's monotonic time."""
        if self.log is not None:
            self.log(f"output {channel} {'on' if live else 'off'} {time.monotonic():.4f}")

    def drop_supply_connections(self) -> None:
        """Drop every supply client connection now (a network fault); the instrument keeps its state."""
        if self.log is not None:
            self.log(f"disconnect {time.monotonic():.4f}")
        with self.rig.lock:
            self.rig.psu.disconnect_all()

    def _drop_psu_clients(self) -> None:
        """The instrument dropped its connections (fault): close every supply client socket now."""
        with self._guard:
            conns = list(self._psu_conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept_loop(self, listener: socket.socket, serve: object) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(0.2)
            self._clients.append(conn)
            thread = threading.Thread(target=serve, args=(conn,), daemon=True)  # type: ignore[arg-type]
            thread.start()
            self._threads.append(thread)

    def _serve_psu(self, conn: socket.socket) -> None:
        with self._guard:
            if self._psu_clients >= MAX_PSU_CLIENTS:
                conn.close()
                return
            self._psu_clients += 1
            self._psu_conns.append(conn)
        with self.rig.lock:
            session: Session = self.rig.psu.open_session(f"tcp {conn.getpeername()}")
        try:
            self._pump(conn, lambda data: b"" if session.closed else session.feed(data, frame_end=True))
        finally:
            with self.rig.lock:
                session.close()
            with self._guard:
                self._psu_clients -= 1
                self._psu_conns.remove(conn)
            conn.close()

    def _serve_pyrometer(self, conn: socket.socket) -> None:
        with self.rig.lock:
            self.rig.pyrometer.reset_input()
        try:
            self._pump(conn, self.rig.pyrometer.feed)
        finally:
            conn.close()

    def _pump(self, conn: socket.socket, handle: object) -> None:
        while not self._stop.is_set():
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            with self.rig.lock:
                self.rig.sync()
                reply: bytes = handle(data)  # type: ignore[operator]
            if reply:
                try:
                    conn.sendall(reply)
                except OSError:
                    return
