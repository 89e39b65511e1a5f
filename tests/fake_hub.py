"""A fake Hugging Face Hub on 127.0.0.1, so tests run huggingface_hub's real code with no network.

It answers what huggingface_hub 2.x asks when it downloads (model info, HEAD and GET of /resolve/) and when
it publishes (create repo, validate README front matter, preupload, commit), from repos held in memory, with
the headers and error codes of the real Hub (see huggingface_hub.utils.hf_raise_for_status). Every request
is recorded; `hang = True` makes it accept connections and never answer; `stop()` closes the port.

Like the real Hub, repo ids are case-insensitive (model info answers with the id as it was created), and model
info lists each file's size (and LFS details for .safetensors) when asked with ?blobs=true. `sizes` makes it
report sizes other than the content's, to stand for files of gigabytes without holding them.

    with FakeHub() as hub:
        commit = hub.add_commit("org/name", {"config.json": b"{}"})
        use_fake_hub(monkeypatch, hub.url, tmp_path / "cache")
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from huggingface_hub import constants

TOKEN = "hf_fake_token_for_tests"  # reads private repos, writes anywhere
HANG_LIMIT = 10  # seconds a hanging request is held at most: a client with no timeout then fails, not hangs
GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"


@dataclass
class Repo:
    private: bool = False
    refs: dict[str, str] = field(default_factory=dict)  # branch or tag -> commit
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit -> {filename: content}
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)  # commit -> {filename: reported size}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case


class Reply(Exception):
    """An answer to send: returned by the routes, raised where a check fails deep inside one."""

    def __init__(self, status: int, headers: dict[str, str] | None = None, body: bytes = b""):
        self.status, self.headers, self.body = status, headers or {}, body


def hub_error(status: int, code: str, message: str, **headers: str) -> Reply:
    """An error as the Hub sends it: huggingface_hub picks its exception from X-Error-Code."""
    body = json.dumps({"error": message}).encode()
    return Reply(status, {"X-Error-Code": code, "X-Error-Message": message, **headers}, body)


def json_reply(data: object) -> Reply:
    return Reply(200, {"Content-Type": "application/json"}, json.dumps(data).encode())


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[Request] = []
        self.hang = False
        self.stopped = threading.Event()  # also lets hanging handlers go
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.hub = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving and close the port: connections to it are refused from then on."""
        if not self.stopped.is_set():
            self.stopped.set()
            self._server.shutdown()
            self._server.server_close()

    def add_commit(self, repo_id: str, files: dict[str, bytes], *, ref: str = "main",
                   private: bool = False, sizes: dict[str, int] | None = None) -> str:
        """Make `files` the whole content of a new commit that `ref` points at; return its sha.

        `sizes` overrides the size model info reports for some files (the content served stays `files`).
        """
        repo_id = self._canonical(repo_id)
        repo = self.repos.setdefault(repo_id, Repo(private=private))
        commit = secrets.token_hex(20)
        repo.commits[commit] = dict(files)
        repo.sizes[commit] = {name: len(content) for name, content in files.items()} | (sizes or {})
        repo.refs[ref] = commit
        return commit

    def _canonical(self, repo_id: str) -> str:
        """repo_id as it was first created, whatever its case (the Hub's ids are case-insensitive)."""
        return next((known for known in self.repos if known.lower() == repo_id.lower()), repo_id)

    def answer(self, method: str, path: str, auth: str | None, body: bytes, query: str = "") -> Reply:
        """The reply to one request; `auth` is its Authorization header."""
        parts = [unquote(part) for part in path.strip("/").split("/")]  # revisions come quoted, "/" as %2F
        api_repo = f"{parts[2]}/{parts[3]}" if parts[:2] == ["api", "models"] and len(parts) >= 4 else None
        api_call = parts[4] if api_repo and len(parts) == 6 else None  # revision, preupload or commit
        try:
            if method in ("GET", "HEAD") and len(parts) >= 5 and parts[2] == "resolve":
                return self._resolve(f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]), auth)
            if method == "GET" and api_repo and (len(parts) == 4 or api_call == "revision"):
                return self._model_info(api_repo, parts[5] if api_call else "main", auth,
                                        blobs="blobs=true" in query.lower())
            if method == "POST" and parts == ["api", "repos", "create"]:
                return self._create_repo(json.loads(body), auth)
            if method == "POST" and parts == ["api", "validate-yaml"]:
                return json_reply({"errors": [], "warnings": []})
            if method == "POST" and api_call == "preupload":
                self._find(api_repo, parts[5], auth, write=True)
                modes = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                         for f in json.loads(body)["files"]]
                return json_reply({"files": modes})
            if method == "POST" and api_call == "commit":
                return self._commit(api_repo, parts[5], body, auth)
            return Reply(404, {}, b"Not Found")
        except Reply as reply:
            return reply

    def _find(self, repo_id: str, revision: str, auth: str | None, *,
              write: bool = False) -> tuple[str, dict[str, bytes]]:
        """(commit, files) of repo_id at a branch, tag or commit; raises the Hub's error otherwise."""
        repo = self.repos.get(self._canonical(repo_id))
        allowed = auth == f"Bearer {TOKEN}" or not (write or (repo is not None and repo.private))
        if repo is None or not allowed:
            # Like the Hub: 401 without a token, 404 with one, for missing and for forbidden repos alike.
            raise hub_error(401 if auth is None else 404, "RepoNotFound", "Repository not found")
        commit = repo.refs.get(revision, revision)
        if commit not in repo.commits:
            raise hub_error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return commit, repo.commits[commit]

    def _resolve(self, repo_id: str, revision: str, filename: str, auth: str | None) -> Reply:
        commit, files = self._find(repo_id, revision, auth)
        if filename not in files:
            raise hub_error(404, "EntryNotFound", f"{filename} does not exist", **{"X-Repo-Commit": commit})
        content = files[filename]
        git_sha1 = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
        headers = {"X-Repo-Commit": commit, "ETag": f'"{git_sha1}"',
                   "Content-Type": "application/octet-stream"}
        if filename.endswith(".safetensors"):  # stored with LFS on the Hub: the blob is named by its sha256
            headers["X-Linked-Etag"] = f'"{hashlib.sha256(content).hexdigest()}"'
            headers["X-Linked-Size"] = str(len(content))
        return Reply(200, headers, content)

    def _model_info(self, repo_id: str, revision: str, auth: str | None, blobs: bool = False) -> Reply:
        commit, files = self._find(repo_id, revision, auth)
        repo_id = self._canonical(repo_id)
        sizes = self.repos[repo_id].sizes[commit]
        siblings = []
        for name in sorted(files):
            sibling: dict = {"rfilename": name}
            if blobs:  # what the Hub adds with ?blobs=true (huggingface_hub's files_metadata=True)
                content = files[name]
                sibling |= {"size": sizes[name], "blobId": hashlib.sha1(content).hexdigest()}
                if name.endswith(".safetensors"):
                    sibling["lfs"] = {"size": sizes[name], "sha256": hashlib.sha256(content).hexdigest(),
                                      "pointerSize": 134}
            siblings.append(sibling)
        return json_reply({"id": repo_id, "sha": commit, "private": self.repos[repo_id].private,
                           "siblings": siblings})

    def _create_repo(self, payload: dict, auth: str | None) -> Reply:
        if auth != f"Bearer {TOKEN}":
            raise hub_error(401, "Unauthorized", "Invalid credentials in Authorization header")
        repo_id = f"{payload['organization']}/{payload['name']}"
        url = f"{self.url}/{repo_id}"
        if self._canonical(repo_id) in self.repos:  # the Hub sends the url along, and huggingface_hub reads it
            raise Reply(409, {"X-Error-Message": "You already created this model repo"},
                        json.dumps({"error": "You already created this model repo", "url": url}).encode())
        private = payload.get("visibility") == "private"
        self.add_commit(repo_id, {".gitattributes": GITATTRIBUTES}, private=private)
        return json_reply({"url": url})

    def _commit(self, repo_id: str, branch: str, body: bytes, auth: str | None) -> Reply:
        """Apply an NDJSON commit: a header line, then a line per file, inline in base64 ("regular" files)."""
        _, files = self._find(repo_id, branch, auth, write=True)
        files = dict(files)
        for line in body.splitlines():
            item = json.loads(line)
            if item["key"] == "file":
                files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            elif item["key"] != "header":
                raise hub_error(400, "BadRequest", f"the fake Hub does not support {item['key']}")
        commit = self.add_commit(repo_id, files, ref=branch)
        return json_reply({"commitUrl": f"{self.url}/{repo_id}/commit/{commit}", "commitOid": commit,
                           "pullRequestUrl": None})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as huggingface_hub's client expects

    def do_HEAD(self) -> None:
        self._handle(send_body=False)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self, send_body: bool = True) -> None:
        hub: FakeHub = self.server.hub  # type: ignore[attr-defined]
        hub.requests.append(Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        if hub.hang:
            hub.stopped.wait(HANG_LIMIT)
            self.close_connection = True
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        reply = hub.answer(self.command, url.path, self.headers.get("Authorization"), body, url.query)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if send_body:
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet


def use_fake_hub(monkeypatch: pytest.MonkeyPatch, url: str, cache_dir: Path) -> None:
    """Point huggingface_hub at `url`, online, with an empty cache and none of the developer's tokens."""
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache_dir))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_IMPLICIT_TOKEN", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(cache_dir / "no-token"))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)


@contextlib.contextmanager
def serving(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> Iterator[FakeHub]:
    """A FakeHub that huggingface_hub uses for the time of the block, with no allow-list and no cache budget."""
    with FakeHub() as server:
        use_fake_hub(monkeypatch, server.url, cache_dir)
        monkeypatch.delenv("S2S_HUB_ALLOWLIST", raising=False)
        monkeypatch.delenv("S2S_HUB_CACHE_MAX_BYTES", raising=False)
        yield server


def hub_files(version: str = "v1", **extra: bytes) -> dict[str, bytes]:
    """The files of a checkpoint as a Hub repo holds them; s2s.hub never parses them, so any bytes do."""
    return {
        "config.json": json.dumps({"task": "dates", "model": "attention", "version": version}).encode(),
        "model.safetensors": f"weights {version}".encode() * 100,
        "source.model": b"source pieces",
        "target.model": b"target pieces",
        **extra,
    }


def version(folder: Path) -> str:
    """Which of hub_files' (or loadable's) versions a folder holds."""
    return json.loads((folder / "config.json").read_text())["version"]


def downloads(server: FakeHub) -> list[str]:
    """The names of the files the server was asked for, in order."""
    return [r.path.rsplit("/", 1)[-1] for r in server.requests if r.method == "GET" and "/resolve/" in r.path]
