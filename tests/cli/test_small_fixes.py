"""What a user meets at the edges of a long run: the words of a failed model download."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.cli_helpers import error_line
from tests.models.model_helpers import free_port


@pytest.mark.slow
def test_a_download_that_never_started_names_the_lock_file_not_a_partial_one(
    tmp_path: Path,
) -> None:
    hub = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {**os.environ, "HF_ENDPOINT": hub, "VERIMATH_CACHE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "verimath", "solve", "1 + 1?"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    line = " ".join(error_line(result).split())
    [lock] = tmp_path.rglob("*.lock")
    assert not list(tmp_path.rglob("*.part"))
    assert "partial file" not in line
    assert f"only the lock file {lock} is left" in line
