"""Model files from the Hugging Face Hub, downloaded once into verimath's cache.

The file lands at ``$VERIMATH_CACHE_DIR/models/OWNER--REPO/REVISION/FILE`` (default cache
``~/.cache/verimath``). The download shows a progress bar, resumes a partial ``.part`` file
with an HTTP Range request after a dropped connection (or in a later run), and is renamed into
place only when complete, under a file lock so concurrent processes download it once.
``HF_ENDPOINT`` points at a mirror; ``HF_TOKEN`` is sent (never across redirects) for gated
repositories. Only the standard library is used.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NoReturn
from urllib.error import HTTPError
from urllib.parse import quote
from urllib.request import Request, urlopen

from verimath.errors import (
    ConfigError,
    ModelAuthError,
    ModelConnectionError,
    ModelError,
    ModelNotFoundError,
)
from verimath.models.retry import RetryPolicy

__all__ = [
    "CACHE_DIR_ENV",
    "DEFAULT_ENDPOINT",
    "ENDPOINT_ENV",
    "TOKEN_ENV",
    "HubFile",
    "cache_dir",
    "cached_path",
    "download",
]

CACHE_DIR_ENV = "VERIMATH_CACHE_DIR"
ENDPOINT_ENV = "HF_ENDPOINT"
TOKEN_ENV = "HF_TOKEN"
DEFAULT_ENDPOINT = "https://huggingface.co"
CHUNK_BYTES = 1 << 20
DOWNLOAD_TIMEOUT_S = 60.0
DOWNLOAD_RETRY = RetryPolicy(max_attempts=5, base_delay_s=1.0, max_delay_s=30.0)
_REPO_ID = re.compile(r"[\w.-]+/[\w.-]+")


@dataclass(frozen=True)
class HubFile:
    """One file of a Hub model repository."""

    repo_id: str
    """``OWNER/NAME``."""
    filename: str
    """Path of the file inside the repository."""
    revision: str = "main"
    """Branch, tag or commit."""
    size_bytes: int | None = None
    """Approximate size, for messages and the free-space check (not verified)."""
    sha256: str | None = None
    """When given, the download is checked against it."""
    description: str = ""

    def __post_init__(self) -> None:
        if not _REPO_ID.fullmatch(self.repo_id):
            raise ConfigError(f"Hub repository id {self.repo_id!r} is not of the form OWNER/NAME")
        if not self.filename or self.filename.startswith("/") or ".." in self.filename.split("/"):
            raise ConfigError(f"Hub file name {self.filename!r} is not a path inside the repo")

    def url(self, endpoint: str | None = None) -> str:
        """Where the file is downloaded from."""
        base = (endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT).rstrip("/")
        revision = quote(self.revision, safe="")
        return f"{base}/{self.repo_id}/resolve/{revision}/{quote(self.filename)}"


def cache_dir() -> Path:
    """verimath's cache: ``$VERIMATH_CACHE_DIR``, else ``~/.cache/verimath``."""
    configured = os.environ.get(CACHE_DIR_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "verimath"


def cached_path(file: HubFile, cache: Path | None = None) -> Path:
    """Where ``file`` lives once downloaded."""
    root = cache if cache is not None else cache_dir()
    folder = root / "models" / file.repo_id.replace("/", "--") / file.revision.replace("/", "--")
    return folder / file.filename


def download(
    file: HubFile,
    *,
    cache: Path | None = None,
    endpoint: str | None = None,
    progress: bool = True,
    retry: RetryPolicy = DOWNLOAD_RETRY,
    timeout_s: float = DOWNLOAD_TIMEOUT_S,
) -> Path:
    """The local path of ``file``, downloading it first unless it is already cached."""
    destination = cached_path(file, cache)
    if destination.is_file():
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    with _locked(destination.with_name(destination.name + ".lock")):
        if destination.is_file():
            return destination
        _check_free_space(file, destination.parent)
        part = destination.with_name(destination.name + ".part")
        url = file.url(endpoint)
        _fetch_with_retries(url, part, retry, timeout_s, progress)
        _verify(file, part)
        os.replace(part, destination)
    return destination


class _Interrupted(Exception):
    """The transfer broke off; the ``.part`` file keeps what arrived."""


def _fetch_with_retries(
    url: str, part: Path, retry: RetryPolicy, timeout_s: float, progress: bool
) -> None:
    failure = ""
    for attempt in range(1, retry.max_attempts + 1):
        try:
            _fetch(url, part, timeout_s, progress)
            return
        # URLError and socket timeouts are OSErrors; a body cut short is an HTTPException.
        except (_Interrupted, OSError, http.client.HTTPException) as exc:
            failure = f"{type(exc).__name__}: {exc}"
        if attempt < retry.max_attempts:
            time.sleep(retry.delay_s(attempt))
    raise ModelConnectionError(
        f"could not download {url} after {retry.max_attempts} attempts: {failure} "
        f"({_leftover(part)})"
    )


def _leftover(part: Path) -> str:
    """What the failed download leaves behind, as it is on disk."""
    size = part.stat().st_size if part.is_file() else 0
    if size:
        return f"the partial file {part} ({size:,} bytes) is kept and resumed next time"
    part.unlink(missing_ok=True)
    lock = part.with_name(part.name.removesuffix(".part") + ".lock")
    return f"nothing was received; only the lock file {lock} is left, which is harmless"


def _fetch(url: str, part: Path, timeout_s: float, progress: bool) -> None:
    """Append the missing bytes of ``url`` to ``part``; _Interrupted if it ends short."""
    offset = part.stat().st_size if part.exists() else 0
    request = Request(url, headers={"User-Agent": "verimath"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    if token := os.environ.get(TOKEN_ENV):
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    try:
        response = urlopen(request, timeout=timeout_s)
    except HTTPError as exc:
        _raise_for_status(exc, url, part, offset)
    with response:
        resumed = response.status == 206
        total = _total_size(response, offset if resumed else 0)
        with open(part, "ab" if resumed else "wb") as sink:
            _copy(response, sink, total, offset if resumed else 0, part.name, progress)
    size = part.stat().st_size
    if total is not None and size != total:
        raise _Interrupted(f"received {size} of {total} bytes")


def _raise_for_status(exc: HTTPError, url: str, part: Path, offset: int) -> NoReturn:
    if exc.code == 416 and offset:
        part.unlink()
        raise _Interrupted("the server refused to resume the partial file; starting over")
    if exc.code in (401, 403):
        raise ModelAuthError(
            f"{url} refused access (HTTP {exc.code}); for a gated or private repository, "
            f"accept its terms on the Hub and set {TOKEN_ENV} to an access token"
        ) from exc
    if exc.code == 404:
        raise ModelNotFoundError(
            f"{url} does not exist (HTTP 404); check the repository id, file name and revision"
        ) from exc
    if exc.code == 429 or exc.code >= 500:
        raise _Interrupted(f"HTTP {exc.code} {exc.reason}") from exc
    raise ModelError(f"{url} answered HTTP {exc.code} {exc.reason}") from exc


def _total_size(response: http.client.HTTPResponse, offset: int) -> int | None:
    content_range = response.headers.get("Content-Range", "")
    if match := re.fullmatch(r"bytes \d+-\d+/(\d+)", content_range.strip()):
        return int(match.group(1))
    length = response.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def _copy(
    source: http.client.HTTPResponse,
    sink: BinaryIO,
    total: int | None,
    done: int,
    label: str,
    progress: bool,
) -> None:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    console = Console(stderr=True)
    with Progress(*columns, console=console, disable=not progress, transient=False) as bar:
        task = bar.add_task(
            f"downloading {label.removesuffix('.part')}", total=total, completed=done
        )
        while chunk := source.read(CHUNK_BYTES):
            sink.write(chunk)
            bar.advance(task, len(chunk))


def _verify(file: HubFile, part: Path) -> None:
    if file.sha256 is None:
        return
    digest = hashlib.sha256()
    with open(part, "rb") as data:
        while chunk := data.read(CHUNK_BYTES):
            digest.update(chunk)
    if digest.hexdigest() != file.sha256.lower():
        part.unlink()
        raise ModelError(
            f"{file.repo_id}/{file.filename}: downloaded bytes have sha256 "
            f"{digest.hexdigest()}, expected {file.sha256}; the file was deleted, try again"
        )


def _check_free_space(file: HubFile, folder: Path) -> None:
    if file.size_bytes is None:
        return
    free = shutil.disk_usage(folder).free
    if free < file.size_bytes:
        raise ModelError(
            f"{file.repo_id}/{file.filename} needs about {file.size_bytes / 1e9:.1f} GB but "
            f"{folder} has {free / 1e9:.1f} GB free; set {CACHE_DIR_ENV} to a roomier place"
        )


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
