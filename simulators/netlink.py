"""A network link that can be cut: a TCP relay between a gate and its broker, for tests and benches.

The node is configured with the relay's port as its broker; ``cut()`` drops every connection
and refuses new ones (the site's switch lost power, a cable pulled: the node sees its
connection reset and cannot reconnect), ``restore()`` lets connections through again. What is
in flight when the link is cut is lost, as on a real network; the node's outbox, not TCP, is
what must carry its events across. One thread, ``selectors``; never used by product code.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading

_CHUNK = 65536


class Link:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._peers: dict[socket.socket, socket.socket] = {}
        self._up = True
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="netlink", daemon=True)
        self._thread.start()

    @property
    def up(self) -> bool:
        return self._up

    def cut(self) -> None:
        with self._lock:
            self._up = False
            for sock in list(self._peers):
                self._drop(sock)

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        with self._lock:
            for sock in list(self._peers):
                self._drop(sock)
        self._selector.close()
        self._listener.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.1):
                with self._lock:
                    if key.data is None:
                        self._accept()
                    else:
                        self._relay(key.fileobj)  # type: ignore[arg-type]

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        if not self._up:
            client.close()
            return
        try:
            server = socket.create_connection(self.upstream, timeout=2)
        except OSError:
            client.close()
            return
        server.settimeout(None)  # blocking sends; reads only when the selector says so
        self._peers[client], self._peers[server] = server, client
        self._selector.register(client, selectors.EVENT_READ, "peer")
        self._selector.register(server, selectors.EVENT_READ, "peer")

    def _relay(self, sock: socket.socket) -> None:
        if sock not in self._peers:
            return
        try:
            data = sock.recv(_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(sock)
            return
        try:
            self._peers[sock].sendall(data)
        except OSError:
            self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        other = self._peers.pop(sock, None)
        for each in (sock, other):
            if each is None:
                continue
            self._peers.pop(each, None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(each)
            each.close()
