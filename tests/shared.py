"""Where the shared benchmark data and recorded transcripts are, for the tests.

``$VERIMATH_SHARED_DIR`` if set; else a ``shared`` folder holding ``data`` beside the checkout
or above it (the project's layout: ``../shared``). Where there is none, the tests that need the
data fail, naming the ``shared`` folder beside the checkout where they looked.
"""

from __future__ import annotations

import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    if "VERIMATH_SHARED_DIR" in os.environ:
        return Path(os.environ["VERIMATH_SHARED_DIR"])
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared"
    return CHECKOUT.parent / "shared"


SHARED = shared_dir()
SHARED_DATA = SHARED / "data"
TRANSCRIPTS = SHARED_DATA / "transcripts"
