"""A local stand-in for the Hugging Face Hub: the few endpoints huggingface_hub's downloads use.

``GET /api/models/{repo}[/revision/{rev}]`` answers the repository's files and sizes;
``HEAD`` / ``GET /{repo}/resolve/{rev}/{file}`` answer a file with the headers
``hf_hub_download`` needs (X-Repo-Commit, ETag, Content-Length). Every file served
is recorded, so a test can check what a download took.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """Serve ``repos`` ({"org/name": folder}) on localhost in a thread; ``served`` lists (repo, file) fetched."""

    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = {name: Path(folder) for name, folder in repos.items()}
        self.served: list[tuple[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_HEAD(self) -> None:
                hub.answer(self, body=False)

            def do_GET(self) -> None:
                hub.answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeHub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fetched(self, repo: str) -> set[str]:
        """The files of ``repo`` whose content was sent."""
        return {f for r, f in self.served if r == repo}

    def _split(self, path: str) -> tuple[str, str] | None:
        for name in self.repos:
            if path == name or path.startswith(name + "/"):
                return name, path[len(name):].lstrip("/")
        return None

    def answer(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        """Dispatch one request to the model-info or the file endpoint."""
        path = unquote(urlparse(handler.path).path).lstrip("/")
        if path.startswith("api/models/"):
            found = self._split(path.removeprefix("api/models/"))
            return self._info(handler, found[0]) if found else self._missing(handler)
        found = self._split(path)
        if not found or not found[1].startswith("resolve/"):
            return self._missing(handler)
        repo, rest = found
        filename = rest.split("/", 2)[2] if rest.count("/") >= 2 else ""
        file = self.repos[repo] / filename
        if not filename or not file.is_file():
            return self._missing(handler, "EntryNotFound")
        data = file.read_bytes()
        handler.send_response(200)
        handler.send_header("X-Repo-Commit", COMMIT)
        handler.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Content-Type", "application/octet-stream")
        handler.end_headers()
        if body:
            self.served.append((repo, filename))
            handler.wfile.write(data)

    def _info(self, handler: BaseHTTPRequestHandler, repo: str) -> None:
        files = sorted(p for p in self.repos[repo].iterdir() if p.is_file())
        siblings = [{"rfilename": p.name, "size": p.stat().st_size} for p in files]
        data = json.dumps({"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                           "siblings": siblings}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _missing(self, handler: BaseHTTPRequestHandler, code: str = "RepoNotFound") -> None:
        data = json.dumps({"error": "not found"}).encode()
        handler.send_response(404)
        handler.send_header("X-Error-Code", code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
