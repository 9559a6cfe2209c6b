"""Model downloads against a real HTTP server on 127.0.0.1 standing in for the Hub."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from tests.models.hub_file_server import FileServer
from verimath.errors import ModelAuthError, ModelConnectionError, ModelError, ModelNotFoundError
from verimath.models import GenerateConfig, HubFile, Message, RetryPolicy, download, resolve_model
from verimath.models.hub import cached_path
from verimath.models.local import LocalModel

REPO, REV, NAME = "owner/repo", "main", "weights.gguf"
DATA = os.urandom(300_000)
NO_WAIT = RetryPolicy(max_attempts=4, base_delay_s=0.0)
FILE = HubFile(REPO, NAME)


def fetch(server: FileServer, cache: Path, file: HubFile = FILE, **options: object) -> Path:
    return download(file, cache=cache, endpoint=server.endpoint, retry=NO_WAIT, **options)


def test_downloads_once_with_a_progress_bar(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with FileServer({(REPO, REV, NAME): DATA}) as server:
        path = fetch(server, tmp_path, progress=True)
        again = fetch(server, tmp_path)

    assert path == again == tmp_path / "models" / "owner--repo" / "main" / NAME
    assert path.read_bytes() == DATA
    assert len(server.requests) == 1
    assert sorted(p.name for p in path.parent.iterdir()) == [NAME, NAME + ".lock"]
    assert "downloading weights.gguf" in capfd.readouterr().err


def test_a_dropped_connection_is_resumed_with_a_range_request(tmp_path: Path) -> None:
    with FileServer({(REPO, REV, NAME): DATA}, cut_after=[100_000, 50_000]) as server:
        path = fetch(server, tmp_path, progress=False)

    assert path.read_bytes() == DATA
    assert [r["headers"].get("range") for r in server.requests] == [
        None,
        "bytes=100000-",
        "bytes=150000-",
    ]


def test_a_partial_file_from_an_earlier_run_is_resumed(tmp_path: Path) -> None:
    part = cached_path(FILE, tmp_path).with_suffix(".gguf.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA[:1234])
    with FileServer({(REPO, REV, NAME): DATA}) as server:
        path = fetch(server, tmp_path, progress=False)
    assert path.read_bytes() == DATA and not part.exists()
    assert server.requests[0]["headers"]["range"] == "bytes=1234-"


def test_an_unresumable_partial_file_starts_over(tmp_path: Path) -> None:
    part = cached_path(FILE, tmp_path).with_suffix(".gguf.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * (len(DATA) + 5))
    with FileServer({(REPO, REV, NAME): DATA}) as server:
        path = fetch(server, tmp_path, progress=False)
    assert path.read_bytes() == DATA
    assert [r["headers"].get("range") for r in server.requests] == [f"bytes={len(DATA) + 5}-", None]


def test_when_retries_run_out_the_partial_file_is_kept(tmp_path: Path) -> None:
    with (
        FileServer({(REPO, REV, NAME): DATA}, cut_after=[1000] * 4) as server,
        pytest.raises(ModelConnectionError) as caught,
    ):
        fetch(server, tmp_path, progress=False)
    message = str(caught.value)
    assert message.startswith(f"could not download {server.endpoint}/{REPO}/resolve/main/{NAME}")
    assert "after 4 attempts" in message and "is kept and resumed next time" in message
    assert not cached_path(FILE, tmp_path).exists()
    assert cached_path(FILE, tmp_path).with_suffix(".gguf.part").stat().st_size == 4000


def test_missing_and_gated_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    files = {(REPO, REV, NAME): DATA, ("gated/repo", REV, NAME): DATA}
    with FileServer(files, gated=frozenset({"gated/repo"})) as server:
        with pytest.raises(ModelNotFoundError, match="HTTP 404"):
            fetch(server, tmp_path, HubFile(REPO, "other.gguf"))
        with pytest.raises(ModelAuthError, match="set HF_TOKEN"):
            fetch(server, tmp_path, HubFile("gated/repo", NAME))
    assert len(server.requests) == 2


def test_the_token_is_sent_to_the_hub_but_not_across_the_redirect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    files = {("gated/repo", REV, NAME): DATA}
    with FileServer(files, gated=frozenset({"gated/repo"}), redirect=True) as server:
        path = fetch(server, tmp_path, HubFile("gated/repo", NAME), progress=False)
    assert path.read_bytes() == DATA
    assert [r["path"].startswith("/cdn/") for r in server.requests] == [False, True]
    assert server.requests[0]["headers"]["authorization"] == "Bearer hf_secret"
    assert "authorization" not in server.requests[1]["headers"]


def test_a_checksum_mismatch_deletes_the_download(tmp_path: Path) -> None:
    bad = HubFile(REPO, NAME, sha256="0" * 64)
    good = HubFile(REPO, NAME, sha256=hashlib.sha256(DATA).hexdigest())
    with FileServer({(REPO, REV, NAME): DATA}) as server:
        with pytest.raises(ModelError, match="expected 0000"):
            fetch(server, tmp_path, bad, progress=False)
        folder = cached_path(bad, tmp_path).parent
        assert [p.name for p in folder.iterdir()] == [NAME + ".lock"]
        assert fetch(server, tmp_path, good, progress=False).read_bytes() == DATA


def test_local_spec_downloads_from_the_configured_endpoint_into_the_cache(
    tiny_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERIMATH_CACHE_DIR", str(tmp_path / "cache"))
    files = {("someone/tiny-GGUF", "v1", "tiny.gguf"): tiny_gguf.read_bytes()}
    with FileServer(files) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        model = resolve_model("local:someone/tiny-GGUF/tiny.gguf@v1", script=["hello"])
    assert isinstance(model, LocalModel)
    assert model.name == "local:someone/tiny-GGUF/tiny.gguf@v1"
    assert model.path == tmp_path / "cache" / "models" / "someone--tiny-GGUF" / "v1" / "tiny.gguf"

    async def say() -> str:
        async with model:
            [c] = await model.generate([Message("user", "hi")], GenerateConfig())
            return c.message.content

    assert asyncio.run(say()) == "hello"
