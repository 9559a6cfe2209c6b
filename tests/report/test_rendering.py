"""Markdown and LaTeX as a person sees them: the viewer and the HTML report in headless
Chromium (DevTools protocol), with every console message and every request recorded."""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.report.browser import CHROMIUM, Browser
from tests.report.conftest import MATH_PROBLEMS, math_problems, run_eval, stated
from tests.report.math_rendering import CHECK_PAGE, check_every_problem, open_problem
from tests.report.test_viewer import embedded, xss_position
from tests.shared import SHARED_DATA
from verimath.cli import cli

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="needs Debian's chromium: apt-get install chromium",
)


def quiet(browser: Browser) -> None:
    """No console warning or error, no request but the page itself and its data: URIs."""
    assert browser.errors() == []
    assert all(url.startswith(("file:", "data:")) for url in browser.requests), browser.requests


def png_size(path: Path) -> tuple[int, int]:
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.fixture(scope="module")
def viewer(math_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rendered") / "run.html"
    result = CliRunner().invoke(cli, ["view", str(math_run), "--out", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    return out


def test_viewer_opens_on_the_first_problem_with_its_math_rendered(
    viewer: Path, tmp_path: Path
) -> None:
    with Browser(tmp_path / "profile") as browser:
        browser.open(viewer.as_uri())
        assert browser.evaluate("location.hash") == "#p=0"
        shot = browser.screenshot(tmp_path / "viewer.png")
        page = browser.evaluate(CHECK_PAGE)
        quiet(browser)
    assert png_size(shot) == (1400, 1000)
    assert page["heading"].startswith("#1 ")
    assert page["math"] > 0 and page["errors"] == [] and page["residual"] == []


def test_every_problem_renders_without_errors(viewer: Path, tmp_path: Path) -> None:
    with Browser(tmp_path / "profile") as browser:
        browser.open(viewer.as_uri())
        pages = [open_problem(browser, position) for position in range(MATH_PROBLEMS)]
        quiet(browser)
    assert [p["heading"].split()[0] for p in pages] == [f"#{i + 1}" for i in range(MATH_PROBLEMS)]
    index = embedded(viewer.read_text(), "vm-index")
    assert all(p["math"] > 0 for p in pages)  # the answers at least
    assert [p["questionMath"] > 0 for p in pages] == ["$" in e["q"] for e in index]
    assert [p["errors"] for p in pages] == [[]] * MATH_PROBLEMS
    assert [p["residual"] for p in pages] == [[]] * MATH_PROBLEMS
    assert [p["displayedAnswers"] for p in pages] == [0] * MATH_PROBLEMS  # answers stay inline


def test_model_text_is_never_interpreted_and_raw_is_one_click_away(
    viewer: Path, tmp_path: Path
) -> None:
    position = xss_position(viewer.read_text())
    with Browser(tmp_path / "profile") as browser:
        browser.open(f"{viewer.as_uri()}#p={position}")
        page = browser.evaluate(CHECK_PAGE)
        prose = browser.evaluate(
            '[...document.querySelectorAll("#detail .prose .rendered")]'
            '.map((e) => e.textContent).find((t) => t.includes("pwned"))'
        )
        shot = browser.screenshot(tmp_path / "hostile.png")
        browser.evaluate('document.getElementById("raw-toggle").click()')
        raw = browser.evaluate(
            '[...document.querySelectorAll("#detail .prose > .rich > .raw")]'
            '.filter((e) => getComputedStyle(e).display !== "none")'
            '.map((e) => e.textContent).find((t) => t.includes("pwned"))'
        )
        hidden = browser.evaluate(
            '[...document.querySelectorAll("#detail .rendered")]'
            '.every((e) => getComputedStyle(e).display === "none")'
        )
        pwned = browser.evaluate("document.body.dataset.pwned || null")
        quiet(browser)
    assert pwned is None
    assert page["dangerous"] == 0  # no element from the text: no link, image, frame, script
    assert "<script>document.body.dataset.pwned='text'</script>" in prose  # shown as text
    assert "[a link](javascript:" in prose
    assert raw.startswith("<script>document.body.dataset.pwned='text'</script><img src=x")
    assert hidden
    assert png_size(shot) == (1400, 1000)


def test_report_renders_its_texts_offline(math_run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["report", str(math_run), "--format", "html", "--out", str(tmp_path), "--resamples", "50"],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    page = tmp_path / "report.html"
    with Browser(tmp_path / "profile", height=1600) as browser:
        browser.open(page.as_uri(), ready="document.querySelector('[data-rich] .rendered')")
        texts = browser.evaluate(
            '[...document.querySelectorAll("[data-rich] .rendered")].map((e) => e.textContent)'
        )
        images = browser.evaluate(
            '[...document.querySelectorAll("figure img")].map((i) => i.naturalWidth)'
        )
        shot = browser.screenshot(tmp_path / "report.png")
        browser.evaluate('document.querySelector("button[data-raw-toggle]").click()')
        raw_shown = browser.evaluate('document.body.classList.contains("show-raw")')
        quiet(browser)
    assert len(texts) >= 7 and all(texts)  # one text per section, and table notes
    assert images and all(width > 0 for width in images)
    assert raw_shown
    assert png_size(shot) == (1400, 1600)


def test_report_draws_no_empty_plots(math_run: Path, tmp_path: Path) -> None:
    from verimath.report.plots import plottable

    result = CliRunner().invoke(
        cli, ["report", str(math_run), "--format", "json", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, (result.output, result.exception)
    sections = json.loads((tmp_path / "report.json").read_text())["sections"]
    sections = list(sections.values()) if isinstance(sections, dict) else sections
    kinds = {p["kind"]: s["data"] for s in sections for p in s["plots"]}
    assert kinds and all(plottable(kind, data) for kind, data in kinds.items())
    one_sample = {"run": {"points": [{"k": 1, "weighted": 1, "plain": 1, "pass_at_k": 1}]}}
    assert not plottable("voting", one_sample)
    no_samples = {"run": {"problems": 0, "samples": 0}}
    assert not plottable("latency", no_samples) and not plottable("samples_spent", no_samples)


def test_a_run_without_code_and_one_sample_gets_no_code_or_voting_plots(tmp_path: Path) -> None:
    problems = math_problems()[:3]
    replay = tmp_path / "replay.jsonl"
    with replay.open("w") as sink:
        for problem in problems:
            record = {"problem": problem.question, "turns": stated(problem.answer)}
            sink.write(json.dumps({**record, "answer": problem.answer}) + "\n")
    run = tmp_path / "nocode.sqlite"
    run_eval("math500", "--model", f"replay:{replay}", "-k", "1", "--run", str(run))
    result = CliRunner().invoke(
        cli, ["report", str(run), "--format", "html", "--out", str(tmp_path), "--resamples", "20"]
    )
    assert result.exit_code == 0, (result.output, result.exception)
    html = (tmp_path / "report.html").read_text()
    drawn = re.findall(r'<img alt="([^"]+)"', html)
    assert drawn and not any("Code Usage" in alt or "Voting" in alt for alt in drawn), drawn


@pytest.mark.slow
def test_a_mathcoder_math_replay_renders_math_for_every_problem(tmp_path: Path) -> None:
    recording = SHARED_DATA / "transcripts" / "mathcoder" / "MathCoder-L-7b" / "MATH"
    run = tmp_path / "math-replay.sqlite"
    run_eval(
        "math", "--model", f"replay:{recording}", "-k", "1", "--limit", "400", "--run", str(run)
    )
    page = tmp_path / "view.html"
    result = CliRunner().invoke(cli, ["view", str(run), "--out", str(page)])
    assert result.exit_code == 0, (result.output, result.exception)
    found = check_every_problem(page, tmp_path / "profile")
    assert found["problems"] > 50
    assert found["opened"] == found["with_math"] == found["problems"]
    assert found["console"] == [] and found["requests"] == []
    assert found["dangerous_elements"] == found["answers_as_display_math"] == 0
    assert len(found["katex_errors"]) <= found["problems"] // 50, found["katex_errors"]
    assert len(found["latex_left_as_text"]) <= found["problems"] // 20, found["latex_left_as_text"]
