"""A log store that answers wrongly (a server that is not VictoriaLogs, or a broken one), for the
client's and the commands' handling of what comes back. One thread, 127.0.0.1, a free port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: How a handler answers: it gets the connected socket once the request's headers are read.
Answer = Callable[[socket.socket], None]


def body(data: bytes, status: str = "200 OK") -> Answer:
    """An answer with ``data`` as its whole body."""
    head = b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n" % (status.encode(), len(data))
    return lambda conn: conn.sendall(head + data)


def endless(conn: socket.socket) -> None:
    """200 OK, then 64 KiB chunks without end (until the client goes)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"10000\r\n" + b"x" * 65536 + b"\r\n"
    while True:
        conn.sendall(piece)


def trickle(conn: socket.socket) -> None:
    """200 OK with 100 MB announced, then a byte every 0.05 s."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
    while True:
        conn.sendall(b"\n")
        time.sleep(0.05)


def trickled_headers(conn: socket.socket) -> None:
    """A status line and headers a byte every 0.2 s, without end (each wait is short, the whole never ends)."""
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60000:
        conn.sendall(bytes([byte]))
        time.sleep(0.2)


def silent(conn: socket.socket) -> None:
    """Reads the request and never answers (until the client goes)."""
    while conn.recv(65536):
        pass


@contextmanager
def fake_store(answer: Answer) -> Iterator[str]:
    """The URL of a server answering every request with ``answer``; stopped on exit."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                request = b""
                while b"\r\n\r\n" not in request and not stop.is_set():
                    piece = conn.recv(65536)
                    if not piece:
                        return
                    request += piece
                answer(conn)
            except OSError:  # the client went away
                pass

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
