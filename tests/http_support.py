"""Local HTTP servers for the remote-input tests: a static file server that answers range requests (as cloud
storage does; GDAL's /vsicurl/ needs them) and records every request it receives, and a server that accepts
connections and never answers."""
from __future__ import annotations

import functools
import http.server
import io
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the files of ``directory`` with HTTP range requests; every request is appended to
    ``server.requests`` as (method, path, headers); ``server.claimed`` {path: bytes} makes those paths claim
    that size (their bytes are zeros)."""

    def log_message(self, *args) -> None:
        pass

    def send_head(self):
        requests = getattr(self.server, "requests", None)
        if requests is not None:
            requests.append((self.command, self.path, dict(self.headers)))
        claimed = getattr(self.server, "claimed", {}).get(self.path)
        if claimed is not None:
            return self._answer(claimed, lambda start, end: bytes(min(end - start + 1, 2**20)))
        spec = self.headers.get("Range", "")
        path = Path(self.translate_path(self.path))
        if not spec.startswith("bytes=") or not path.is_file():
            return super().send_head()
        data = path.read_bytes()
        return self._answer(len(data), lambda start, end: data[start:end + 1])

    def _answer(self, size: int, read) -> io.BytesIO:
        spec = self.headers.get("Range", "")
        if not spec.startswith("bytes="):
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            return io.BytesIO(b"" if self.command == "HEAD" else read(0, size - 1))
        start, _, end = spec[len("bytes="):].partition("-")
        start, end = int(start), min(int(end) if end else size - 1, size - 1)
        body = read(start, end)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{start + len(body) - 1}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return io.BytesIO(body)


@contextmanager
def serve(directory: Path, claimed: dict[str, int] | None = None) -> Iterator[tuple[str, list]]:
    """Serve ``directory`` on 127.0.0.1; yields (base URL ending in '/', the list of requests received)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(RangeHandler,
                                                                                 directory=str(directory)))
    server.requests, server.claimed = [], dict(claimed or {})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", server.requests
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_server() -> Iterator[tuple[str, list]]:
    """A server on 127.0.0.1 that accepts connections and never answers; yields (base URL, the list of
    accepted connections)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/", accepted
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        sock.close()
