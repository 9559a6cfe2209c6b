"""``verimath view``: the HTML file's content, its safety with hostile model text, and the page
as a real browser (headless Chromium) renders it, filters it and draws it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.report.browser import CHROMIUM, HEADLESS_FLAGS
from tests.report.conftest import MATH_PROBLEMS, XSS_CODE, XSS_TEXT
from verimath.cli import cli

NT = "Number Theory"


@pytest.fixture
def needs_chromium() -> None:
    """Skip without chromium, except under CI, where the viewer must be tested for real."""
    if CHROMIUM is None:
        message = "the viewer tests need Debian's chromium: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def page(math_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("viewer") / "run.html"
    result = CliRunner().invoke(cli, ["view", str(math_run), "--out", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    return out


def embedded(html: str, element_id: str) -> Any:
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html)
    assert match, element_id
    return json.loads(match.group(1))


def detail_of(html: str, problem_id: str) -> dict[str, Any]:
    entry = next(e for e in embedded(html, "vm-index") if e["id"] == problem_id)
    return embedded(html, f"vm-p{entry['pos']}")


def xss_position(html: str) -> int:
    index = embedded(html, "vm-index")
    for entry in index:
        texts = json.dumps(embedded(html, f"vm-p{entry['pos']}"))
        if "pwned" in texts:
            return entry["pos"]
    raise AssertionError("no problem holds the script-tag sample")


def test_page_embeds_every_problem_and_sample(page: Path, math_run: Path) -> None:
    html = page.read_text()
    index = embedded(html, "vm-index")
    assert len(index) == MATH_PROBLEMS
    details = [embedded(html, f"vm-p{e['pos']}") for e in index]
    assert sum(len(d["samples"]) for d in details) == 4 * MATH_PROBLEMS
    first = details[0]
    assert first["gold"] and first["question"] and first["vote"]["classes"]
    assert first["prompt"].startswith("To solve the problem using code interpreter")
    cell = next(p for t in first["samples"][0]["turns"] for p in t["parts"] if "code" in p)
    assert cell["status"] == "ok" and cell["output"].strip()


def test_model_text_cannot_escape_its_script_element(page: Path) -> None:
    html = page.read_text()
    data = re.sub(r"<script>.*?</script>", "", html, flags=re.S)  # the page's own scripts out
    assert "<script>document" not in data and "<img" not in data and "<iframe" not in data
    ours = len(re.findall(r"<script[ >]", html))
    assert ours == MATH_PROBLEMS + 6  # one per problem, the index, five scripts
    detail = embedded(html, f"vm-p{xss_position(html)}")
    parts = [p for s in detail["samples"] for t in s["turns"] for p in t["parts"]]
    assert any(p.get("text", "").startswith(XSS_TEXT) for p in parts)
    assert any(p.get("code") == XSS_CODE and "</script>" in p["output"] for p in parts)


def test_content_security_policy_allows_only_the_pages_own_scripts(page: Path) -> None:
    html = page.read_text()
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 5  # KaTeX, markdown-it, texmath, their glue, the viewer
    digests = [base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in scripts]
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy
    allowed = re.search(r"script-src ([^;]+);", policy.group(1))
    assert allowed and allowed.group(1).split() == [f"'sha256-{d}'" for d in digests]
    assert "default-src 'none'" in policy.group(1) and "font-src data:" in policy.group(1)
    assert "url(fonts/" not in html and "font/woff2;base64," in html  # fonts inlined


def test_revision_requests_show_as_notes(page: Path) -> None:
    html = page.read_text()
    notes = [
        note
        for e in embedded(html, "vm-index")
        for s in embedded(html, f"vm-p{e['pos']}")["samples"]
        for t in s["turns"]
        for note in t["notes"]
    ]
    assert len(notes) == 4 and all("revise" in n for n in notes)  # the four refuted samples


def chromium(url: str, profile: Path, screenshot: Path | None = None) -> str:
    """The DOM after load, as headless Chromium serialises it."""
    assert CHROMIUM is not None
    args = [CHROMIUM, *HEADLESS_FLAGS, f"--user-data-dir={profile}", "--window-size=1400,1000"]
    if screenshot is not None:
        args.append(f"--screenshot={screenshot}")
    result = subprocess.run(
        [*args, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout


@pytest.mark.usefixtures("needs_chromium")
def test_chromium_renders_escaped_text_and_runs_no_model_script(page: Path, tmp_path: Path) -> None:
    html = page.read_text()
    position = xss_position(html)
    shot = tmp_path / "viewer.png"
    dom = chromium(f"{page.as_uri()}#p={position}", tmp_path / "profile", shot)
    body = re.search(r"<body[^>]*>", dom)
    assert body and 'data-ready="1"' in body.group(0), "the viewer's own script must run"
    assert "data-pwned" not in dom, "model text executed as script"
    assert "&lt;script&gt;document.body.dataset.pwned='text'&lt;/script&gt;" in dom
    assert dom.count('class="sample"') + dom.count('class="sample" open') >= 4
    assert 'class="t-k"' in dom or 'class="t-b"' in dom  # highlighted code
    assert "TimeoutError" in dom and "ZeroDivisionError" in dom
    assert f"{MATH_PROBLEMS} of {MATH_PROBLEMS} problems" in dom
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert struct.unpack(">II", png[16:24]) == (1400, 1000)


@pytest.mark.usefixtures("needs_chromium")
@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("outcome=wrong", lambda e: e["grade"] != "correct"),
        ("votes=differ", lambda e: e["differ"]),
        ("state=False", lambda e: e["states"]["False"] > 0),
        ("outcome=none", lambda e: e["correct"] == 0),
        ("subject=Number%20Theory&level=3", lambda e: (e["subject"], e["level"]) == (NT, 3)),
        ("q=hexagon", lambda e: "hexagon" in e["q"]),
    ],
)  # fmt: skip
def test_chromium_filters(page: Path, tmp_path: Path, query: str, keep: Any) -> None:
    index = embedded(page.read_text(), "vm-index")
    expected = [e["id"] for e in index if keep(e)]
    assert 0 < len(expected) < len(index)
    dom = chromium(f"{page.as_uri()}#{query}", tmp_path / "profile")
    assert f"{len(expected)} of {len(index)} problems" in dom
    listed = re.findall(r'<tr[^>]*data-pos="\d+"[^>]*>.*?<strong>(.*?)</strong>', dom)
    assert listed == expected


def test_serve_binds_loopback_only(math_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "served.html"
    process = subprocess.Popen(
        [sys.executable, "-m", "verimath", "view", str(math_run), "-o", str(out), "--serve",
         "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline(), process.stdout.readline()]
        url = re.search(r"serving (http://127\.0\.0\.1:\d+/)", lines[1])
        assert url, lines
        with urllib.request.urlopen(url.group(1), timeout=10) as response:
            assert response.read() == out.read_bytes()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url.group(1) + "etc/passwd", timeout=10)
        assert missing.value.code == 404
    finally:
        process.terminate()
        process.wait(timeout=10)
