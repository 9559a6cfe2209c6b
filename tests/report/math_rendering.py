"""Check that math renders for every problem of a viewer page, in headless Chromium.

``python -m tests.report.math_rendering RUN.html`` opens every problem of the page one after
the other and prints, for all of them: problems with rendered math, KaTeX errors (formulas
whose source KaTeX cannot read), LaTeX left as text outside any formula, elements that model
text must never produce, console warnings and errors, and requests other than the file itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.report.browser import Browser

CHECK_PAGE = r"""
(() => {
  const LATEX = /\\(frac|dfrac|sqrt|cdot|leq?|geq?|times|pi|left|right|begin|end|infty|sum)\b/;
  const pane = document.getElementById("detail");
  const residual = [];
  for (const r of pane.querySelectorAll(".question .rendered, .prose .rendered")) {
    if (r.closest("details:not(.sample)")) continue;  // the prompt: instructions, not math
    const copy = r.cloneNode(true);
    for (const x of copy.querySelectorAll(".katex, pre, code")) x.remove();
    const m = copy.textContent.match(LATEX);
    if (m) residual.push(copy.textContent.slice(Math.max(0, m.index - 40), m.index + 40));
  }
  return {
    heading: (pane.querySelector("h2") || {}).textContent || "",
    questionMath: pane.querySelectorAll(".question .katex").length,
    math: pane.querySelectorAll(".katex").length,
    displayedAnswers: pane.querySelectorAll(".rich-inline .katex-display").length,
    errors: [...pane.querySelectorAll(".katex-error")].map((e) => e.title || e.textContent),
    residual,
    dangerous: pane.querySelectorAll("script, img, iframe, a[href], object, embed, svg image")
      .length,
  };
})()
"""


def open_problem(browser: Browser, position: int) -> dict[str, Any]:
    """Show problem ``position`` (as a click in the list does) and read its detail pane."""
    browser.evaluate(
        f'history.replaceState(null, "", "#p={position}");'
        'window.dispatchEvent(new HashChangeEvent("hashchange"))'
    )
    result: dict[str, Any] = browser.evaluate(CHECK_PAGE)
    return result


def check_every_problem(page: Path, profile: Path) -> dict[str, Any]:
    """Every problem of ``page`` opened in turn; the findings, summed."""
    with Browser(profile) as browser:
        browser.open(page.as_uri())
        count = browser.evaluate('JSON.parse(document.getElementById("vm-index").textContent)'
                                 ".length")  # fmt: skip
        pages = [open_problem(browser, position) for position in range(count)]
        console = browser.errors()
        requests = [u for u in browser.requests if not u.startswith(("file:", "data:"))]
    return {
        "problems": count,
        "opened": sum(p["heading"].startswith(f"#{i + 1} ") for i, p in enumerate(pages)),
        "with_math": sum(p["math"] > 0 for p in pages),
        "questions_with_math": sum(p["questionMath"] > 0 for p in pages),
        "katex_errors": [(p["heading"], e) for p in pages for e in p["errors"]],
        "latex_left_as_text": [(p["heading"], r) for p in pages for r in p["residual"]],
        "dangerous_elements": sum(p["dangerous"] for p in pages),
        "answers_as_display_math": sum(p["displayedAnswers"] for p in pages),
        "console": console,
        "requests": requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("--show", type=int, default=10, help="examples of each finding")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as profile:
        found = check_every_problem(args.page.resolve(), Path(profile) / "profile")
    for key, value in found.items():
        if isinstance(value, list):
            print(f"{key}: {len(value)}")
            for example in value[: args.show]:
                print(f"    {json.dumps(example, ensure_ascii=False)[:220]}")
        else:
            print(f"{key}: {value}")
    sys.exit(0 if not found["console"] and not found["requests"] else 1)


if __name__ == "__main__":
    main()
