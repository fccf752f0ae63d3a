"""A Hugging Face hub on loopback: the parts of the Hub's HTTP API that huggingface_hub and
datasets call to load a dataset or download a model, served from repositories built in memory,
plus plain files at mirrored URLs (the downloads XTREME-R's script reads: UD releases, LASER's
Tatoeba files, XQuAD-R).

Point a process at it with HF_ENDPOINT (read when huggingface_hub and datasets are imported, so
the process that loads must start with it set) and RAY_XR_DOWNLOAD_MIRROR. What it answers:

- GET  /api/{datasets|models}/{repo}[/revision/{rev}]       repository info: sha, siblings
- GET  /api/{datasets|models}/{repo}/tree/{rev}[/{path}]    a folder's entries (recursive=1: all)
- POST /api/{datasets|models}/{repo}/paths-info/{rev}       entries of the named paths
- HEAD/GET /{datasets/}{repo}/resolve/{rev}/{path}          a file, X-Repo-Commit and ETag set,
                                                            byte ranges honoured
- GET  /mirror/{host}/{path}                                 a mirrored download (404 if absent)

Errors carry the Hub's X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound), which
huggingface_hub turns into its typed errors. A revision is a branch name ("main",
"refs/convert/parquet", URL-quoted) or a commit's 40-hex id; commits are content hashes, so the
same files give the same commit. Standard library only; `Hub.requests` records what was asked.
"""
from __future__ import annotations

import hashlib
import http.server
import json
import threading
import urllib.parse
from dataclasses import dataclass, field


def commit_of(files: dict[str, bytes]) -> str:
    h = hashlib.sha1()
    for path in sorted(files):
        h.update(path.encode() + b"\0" + hashlib.sha1(files[path]).digest())
    return h.hexdigest()


@dataclass
class Repo:
    kind: str  # "datasets" or "models"
    name: str
    branches: dict[str, str] = field(default_factory=dict)  # branch -> commit
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit -> {path: bytes}

    def add(self, branch: str, files: dict[str, bytes]) -> str:
        commit = commit_of(files)
        self.commits[commit] = dict(files)
        self.branches[branch] = commit
        return commit

    def files(self, revision: str) -> tuple[str, dict[str, bytes]] | None:
        commit = self.branches.get(revision, revision)
        return (commit, self.commits[commit]) if commit in self.commits else None


class Hub:
    """The repositories and mirrored files one server answers from."""

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], Repo] = {}
        self.mirror: dict[str, bytes] = {}  # "host/path" -> bytes
        self.requests: list[str] = []

    def repo(self, kind: str, name: str) -> Repo:
        return self.repos.setdefault((kind, name), Repo(kind, name))

    def serve(self) -> "Server":
        return Server(self)


def _entry(path: str, data: bytes | None) -> dict:
    if data is None:
        return {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0, "path": path}
    return {"type": "file", "oid": hashlib.sha1(data).hexdigest(), "size": len(data), "path": path}


def _listing(files: dict[str, bytes], folder: str, recursive: bool) -> list[dict] | None:
    prefix = f"{folder}/" if folder else ""
    if folder and not any(p.startswith(prefix) for p in files):
        return None
    out, dirs = [], set()
    for path in sorted(files):
        if not path.startswith(prefix):
            continue
        parts = path[len(prefix):].split("/")
        for depth in range(1, len(parts)):
            d = prefix + "/".join(parts[:depth])
            if d not in dirs and (recursive or depth == 1):
                dirs.add(d)
                out.append(_entry(d, None))
        if recursive or len(parts) == 1:
            out.append(_entry(path, files[path]))
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    hub: Hub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet: the test reads hub.requests instead
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, head: bool = False) -> None:
        self.send_response(status)
        for k, v in {"Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _error(self, code: str, head: bool = False, status: int = 404) -> None:
        body = json.dumps({"error": code}).encode()
        self._send(status, body, {"X-Error-Code": code, "X-Error-Message": code, "Content-Type": "application/json"},
                   head)

    def _json(self, value) -> None:
        self._send(200, json.dumps(value).encode(), {"Content-Type": "application/json"})

    def _find(self, parts: list[str], kind: str) -> tuple[Repo | None, list[str]]:
        """The repository named by the leading parts ("ns/name", or a bare name), and the rest."""
        for n in (2, 1):
            repo = self.hub.repos.get((kind, "/".join(parts[:n])))
            if repo is not None:
                return repo, parts[n:]
        return None, parts

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        self._route(form=form)

    def _route(self, head: bool = False, form: dict | None = None) -> None:
        url = urllib.parse.urlsplit(self.path)
        self.hub.requests.append(f"{self.command} {url.path}")
        parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
        query = urllib.parse.parse_qs(url.query)
        if parts[0] == "mirror":
            data = self.hub.mirror.get("/".join(parts[1:]))
            return self._send(200, data, head=head) if data is not None else self._send(404, b"not found", head=head)
        if parts[0] == "api" and len(parts) > 2 and parts[1] in ("datasets", "models"):
            return self._api(parts[1], parts[2:], query, form)
        kind = "datasets" if parts[0] == "datasets" else "models"
        return self._resolve(kind, parts[1:] if kind == "datasets" else parts, head)

    def _api(self, kind: str, parts: list[str], query: dict, form: dict | None) -> None:
        repo, rest = self._find(parts, kind)
        if repo is None:
            return self._error("RepoNotFound", status=401)
        action = rest[0] if rest else "revision"
        revision = rest[1] if len(rest) > 1 else "main"
        found = repo.files(revision)
        if found is None:
            return self._error("RevisionNotFound")
        commit, files = found
        if action == "revision":
            return self._json({"id": repo.name, "sha": commit, "private": False, "disabled": False, "gated": False,
                               "siblings": [{"rfilename": p, "size": len(files[p])} for p in sorted(files)]})
        if action == "tree":
            listing = _listing(files, "/".join(rest[2:]), query.get("recursive", ["false"])[0].lower()
                               in ("1", "true"))
            return self._error("EntryNotFound") if listing is None else self._json(listing)
        if action == "paths-info":
            paths = (form or {}).get("paths", [])
            dirs = {"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)}
            return self._json([_entry(p, files.get(p)) for p in paths if p in files or p in dirs])
        return self._error("EntryNotFound")

    def _resolve(self, kind: str, parts: list[str], head: bool) -> None:
        repo, rest = self._find(parts, kind)
        if repo is None or len(rest) < 3 or rest[0] != "resolve":
            return self._error("RepoNotFound", head, status=401)
        found = repo.files(rest[1])
        if found is None:
            return self._error("RevisionNotFound", head)
        commit, files = found
        data = files.get("/".join(rest[2:]))
        if data is None:
            return self._error("EntryNotFound", head)
        headers = {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                   "Accept-Ranges": "bytes"}
        span = self.headers.get("Range", "")
        if span.startswith("bytes=") and not head:
            first, _, last = span[6:].partition("-")
            start, end = int(first or 0), min(int(last) if last else len(data) - 1, len(data) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return self._send(206, data[start:end + 1], headers)
        self._send(200, data, headers, head)


class Server:
    """The hub served on 127.0.0.1 from a thread; `url` is what HF_ENDPOINT takes."""

    def __init__(self, hub: Hub) -> None:
        handler = type("BoundHandler", (Handler,), {"hub": hub})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def mirror(self) -> str:
        return f"{self.url}/mirror"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
