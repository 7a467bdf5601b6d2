"""A TCP proxy on 127.0.0.1 that a test can cut, or freeze, in the middle of
a server's answer: a network failure on demand, at a known point.

    with Proxy(server.ports.imaps) as proxy:
        ... connect to proxy.port, log in, select ...
        proxy.cut_after(1000)   # the next 1000 bytes from the server pass, then both sides are closed
        ... fetch: raises ...
"""
import contextlib
import socket
import threading
from collections.abc import Callable

HOST = '127.0.0.1'
CHUNK = 65536
# How often the accepting thread looks whether the proxy is being stopped.
ACCEPT_POLL_SECONDS = 0.1


class Proxy:
    """Forwards every connection to ``HOST:target_port``, in threads."""

    def __init__(self, target_port: int,
                 rewrite_requests: Callable[[bytes], bytes] = lambda data: data):
        """``rewrite_requests`` changes what the client sends, e.g. to make a
        server look as if it lacked a command (each chunk as received)."""
        self.target_port = target_port
        self.rewrite_requests = rewrite_requests
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        # Bytes from the server still to forward, None for no limit; and what
        # happens when they are spent: 'cut' (close) or 'stall' (forward nothing more).
        self._budget: int | None = None
        self._when_spent = 'cut'

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def __enter__(self) -> 'Proxy':
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> 'Proxy':
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(ACCEPT_POLL_SECONDS)
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._close_all()
        for thread in self._threads:
            thread.join()
        if self._listener is not None:
            self._listener.close()

    def cut_after(self, nbytes: int) -> None:
        """Forward ``nbytes`` more bytes from the server, then close both sides
        of every connection: the client reads an end of stream mid-answer.
        Connections made after that pass freely."""
        self._limit(nbytes, 'cut')

    def stall_after(self, nbytes: int) -> None:
        """Forward ``nbytes`` more bytes from the server, then nothing, keeping
        the connections open: only the client's timeout can end its wait."""
        self._limit(nbytes, 'stall')

    def _limit(self, nbytes: int, when_spent: str) -> None:
        with self._lock:
            self._budget = nbytes
            self._when_spent = when_spent

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # listener closed
            server = socket.create_connection((HOST, self.target_port))
            with self._lock:
                self._sockets += [client, server]
            self._spawn(self._pump, client, server, False)
            self._spawn(self._pump, server, client, True)

    def _pump(self, source: socket.socket, sink: socket.socket, from_server: bool) -> None:
        while not self._stopping.is_set():
            try:
                data = source.recv(CHUNK)
            except OSError:
                return
            if not data:
                break
            passing, spent = self._spend(data) if from_server else (self.rewrite_requests(data), None)
            with contextlib.suppress(OSError):
                sink.sendall(passing)
            if spent == 'cut':
                self._close_all()
                return
            if spent == 'stall':
                self._stopping.wait()
                return
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def _spend(self, data: bytes) -> tuple[bytes, str | None]:
        """The part of ``data`` that may pass, and what to do next if that
        spent the budget ('cut' or 'stall'), else None."""
        with self._lock:
            budget = self._budget
            if budget is None or budget > len(data):
                self._budget = None if budget is None else budget - len(data)
                return data, None
            # A limit acts once: connections made afterwards pass freely.
            self._budget = None
            return data[:budget], self._when_spent

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            # shutdown first: it wakes a thread blocked in recv, close alone does not.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
