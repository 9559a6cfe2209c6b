"""Where the shared benchmark data and recorded transcripts are: the test suite's rule
(``tests/shared.py``), made importable for the benchmark scripts, which run on their own."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.shared import SHARED, SHARED_DATA, TRANSCRIPTS

__all__ = ["SHARED", "SHARED_DATA", "TRANSCRIPTS"]
