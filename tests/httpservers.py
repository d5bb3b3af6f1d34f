"""Real HTTP servers on 127.0.0.1 port 0 for tests: `routes[path] = Route(...)` decides each answer.

A module of its own (not a conftest) so tests in any directory can import it by a unique name.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Route:
    def __init__(self, status: int = 200, body: Any = b"ok", delay: float = 0.0, hang: bool = False) -> None:
        self.status = status
        self.body = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.delay = delay
        self.hang = hang


class HttpServer:
    """A real threaded HTTP server; `routes[path] = Route(...)` decides each answer."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.release = threading.Event()  # set at teardown so hanging handlers end
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                route = outer.routes.get(self.path, Route(404, b"not found"))
                if route.hang:
                    outer.release.wait(30)
                    return
                if route.delay:
                    outer.release.wait(route.delay)
                self.send_response(route.status)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            do_HEAD = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
