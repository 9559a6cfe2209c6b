"""Markdown and LaTeX in the viewer and the HTML reports: vendored renderers, inlined, offline.

Text is rendered in the browser by markdown-it (``html: false``: every tag in the text is
escaped, never interpreted; links and images are switched off, so nothing is fetched) with
markdown-it-texmath, which takes ``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]`` and
``\\begin{...}...\\end{...}`` out of the text *before* Markdown reads it (so ``_`` and ``*``
inside math stay math) and hands them to KaTeX (``trust: false``: no ``\\href``, no HTML
extension). The browser rather than Python renders because a page holds the raw text anyway
(the raw view is one click away), only the problem being read is rendered, and one renderer
serves the viewer and the reports alike.

The files come unchanged from their npm packages (``vendor/README.md``). Each script is an
inline ``<script>`` allowed by its hash in the page's Content-Security-Policy; KaTeX's fonts are
inlined into its stylesheet as ``data:`` URIs. The page's own script uses the global
``verimathText``: ``block(text)`` (a Markdown block), ``line(text)`` (one line of it) and
``inline(tex)`` (one formula), each an element holding the rendered and the raw text; a
``show-raw`` class on ``<body>`` shows the raw.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from importlib import resources

__all__ = ["RICH_SCRIPT", "content_security_policy", "rich_scripts", "rich_style"]

VENDOR_SCRIPTS = (
    "katex/katex.min.js",
    "markdown-it/markdown-it.umd.min.js",
    "markdown-it-texmath/texmath.js",
)
_FONT_SRC = re.compile(r"src:url\(fonts/(KaTeX_[A-Za-z0-9_-]+)\.woff2\) format\(\"woff2\"\)[^;}]*")

RICH_STYLE = r"""
.rich > .raw, .rich-inline > .raw { display:none; }
.show-raw .rich > .rendered, .show-raw .rich-inline > .rendered { display:none; }
.show-raw .rich > .raw { display:block; } .show-raw .rich-inline > .raw { display:inline; }
.rich > .raw { white-space:pre-wrap; overflow-wrap:anywhere; margin:0; font:inherit; }
.rendered > :first-child { margin-top:0; } .rendered > :last-child { margin-bottom:0; }
.rendered p { margin:.35rem 0; } .rendered pre { white-space:pre-wrap; }
.rendered eqn, .rendered section > eqn { display:block; overflow-x:auto; overflow-y:hidden; }
.rendered section { margin:.3rem 0; } .rendered table { border-collapse:collapse; }
.rendered td, .rendered th { border:1px solid #d0d7de; padding:.1rem .4rem; }
.katex { font-size:1.08em; } .katex-display { margin:.4rem 0; }
.katex-error { color:inherit !important; }
"""

RICH_SCRIPT = r"""
"use strict";
(function () {
  const KATEX = { throwOnError: false, strict: "ignore", trust: false, maxSize: 30,
    maxExpand: 1000, output: "htmlAndMathml" };
  // html: false is the security boundary: markdown-it escapes every tag of the text.
  const md = window.markdownit({ html: false, linkify: false, typographer: false, breaks: true })
    .disable(["image", "link", "autolink"]);
  // Models write \[...\] inside a paragraph too (texmath reads it at a line's start only).
  // So are \begin{align*}...\end{align*} and the other environments of math (texmath's own
  // rule reads them at a line's start, and without a starred name).
  const ENVIRONMENTS = "align|alignat|aligned|array|bmatrix|Bmatrix|cases|eqnarray|equation|" +
    "gather|gathered|matrix|multline|pmatrix|smallmatrix|split|vmatrix|Vmatrix";
  window.texmath.rules.inline_brackets = { block: [], inline: [{ name: "math_inline_bracket",
    rex: /\\\[([\s\S]+?)\\\]/gy, tmpl: "<section><eqn>$1</eqn></section>", tag: "\\[",
    displayMode: true }, { name: "math_inline_environment",
    rex: new RegExp("(\\\\begin\\{(" + ENVIRONMENTS + ")\\*?\\}[\\s\\S]+?" +
      "\\\\end\\{\\2\\*?\\})", "y"),
    tmpl: "<section><eqn>$1</eqn></section>", tag: "\\begin{", displayMode: true }] };
  const DELIMITERS = ["dollars", "brackets", "beg_end", "inline_brackets"];
  md.use(window.texmath, { engine: window.katex, delimiters: DELIMITERS, katexOptions: KATEX });
  // texmath fills its templates with String.replace and a string, which reads "$&" or "$'"
  // in KaTeX's output as patterns; the same templates, filled by a function instead.
  for (const name of DELIMITERS) {
    for (const [display, rules] of [[false, window.texmath.rules[name].inline],
                                    [true, window.texmath.rules[name].block]]) {
      for (const rule of rules) {
        md.renderer.rules[rule.name] = (tokens, idx) => rule.tmpl.replace(/\$([12])/g,
          (_, which) => which === "2" ? md.utils.escapeHtml(tokens[idx].info || "") :
            window.texmath.render(tokens[idx].content, display || !!rule.displayMode,
              { ...KATEX }));
      }
    }
  }
  // A line that is LaTeX without delimiters (a bare final answer, "-\frac{1}{8}"): math.
  const COMMAND = /\\[A-Za-z]+/;
  function bare(line) {
    const text = line.trim();
    if (!COMMAND.test(text) || /[$]|\\[([]/.test(text) || text.endsWith("\\")) return false;
    let rest = text.replace(/\\[A-Za-z]+/g, " ");
    for (let i = 0; i < 5; i++) rest = rest.replace(/\{[^{}]*\}/g, " ");
    return !/[A-Za-z]{3,}/.test(rest);
  }
  function delimit(text) {  // lines inside a fence or an open formula are left as they are
    let open = 0;
    let fence = false;
    return text.split("\n").map((line) => {
      const before = open > 0 || fence;
      if (/^\s*(```|~~~)/.test(line)) fence = !fence;
      open += (line.match(/\\\[|\\begin\{/g) || []).length;
      open -= (line.match(/\\\]|\\end\{/g) || []).length;
      if ((line.match(/\$\$/g) || []).length % 2) open += open > 0 ? -1 : 1;
      open = Math.max(open, 0);
      return !before && !fence && open === 0 && bare(line) ? "$" + line.trim() + "$" : line;
    }).join("\n");
  }

  function pair(tag, cls, rendered, raw) {
    const box = document.createElement(tag);
    box.className = cls;
    rendered.classList.add("rendered");
    raw.classList.add("raw");
    box.append(rendered, raw);
    return box;
  }
  function block(text) {
    const rendered = document.createElement("div");
    try { rendered.innerHTML = md.render(delimit(String(text))); }
    catch (err) { rendered.textContent = String(text); }
    const raw = document.createElement("pre");
    raw.textContent = String(text);
    return pair("div", "rich", rendered, raw);
  }
  function line(text) {
    const rendered = document.createElement("span");
    try { rendered.innerHTML = md.renderInline(String(text)); }
    catch (err) { rendered.textContent = String(text); }
    const raw = document.createElement("span");
    raw.textContent = String(text);
    return pair("span", "rich-inline", rendered, raw);
  }
  function inline(tex) {
    const rendered = document.createElement("span");
    // a copy: texmath sets displayMode on the options it is given
    try { window.katex.render(String(tex), rendered, { ...KATEX, displayMode: false }); }
    catch (err) { rendered.textContent = String(tex); }
    const raw = document.createElement("code");
    raw.textContent = String(tex);
    return pair("span", "rich-inline", rendered, raw);
  }
  function toggle(button) {
    const raw = document.body.classList.toggle("show-raw");
    if (button) button.textContent = raw ? "rendered text" : "raw text";
    return raw;
  }
  window.verimathText = Object.freeze({ block, line, inline, toggle });
  for (const node of document.querySelectorAll("[data-rich]")) {
    node.replaceChildren(block(node.textContent));
  }
  for (const button of document.querySelectorAll("button[data-raw-toggle]")) {
    button.addEventListener("click", () => toggle(button));
  }
})();
"""


def _read(name: str) -> str:
    return (resources.files("verimath.report") / "vendor" / name).read_text(encoding="utf-8")


@functools.cache
def rich_scripts() -> tuple[str, ...]:
    """The vendored scripts and the glue, in load order, each checked to be safe to inline."""
    scripts = (*(_read(name) for name in VENDOR_SCRIPTS), RICH_SCRIPT)
    for script in scripts:
        if "</script" in script.lower() or "<script" in script.lower():
            raise ValueError("a vendored script holds a <script> tag and cannot be inlined")
    return scripts


@functools.cache
def rich_style() -> str:
    """KaTeX's stylesheet with its WOFF2 fonts as ``data:`` URIs, then the page's rules."""

    def inline_font(match: re.Match[str]) -> str:
        font = resources.files("verimath.report") / "vendor" / "katex" / "fonts"
        data = base64.b64encode((font / f"{match[1]}.woff2").read_bytes()).decode("ascii")
        return f'src:url(data:font/woff2;base64,{data}) format("woff2")'

    css, count = _FONT_SRC.subn(inline_font, _read("katex/katex.min.css"))
    if count == 0 or "url(fonts/" in css:
        raise ValueError("KaTeX's stylesheet no longer names its fonts as expected")
    return css + RICH_STYLE


def script_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(*scripts: str) -> str:
    """Nothing but ``scripts`` (by hash), inline styles, ``data:`` images and fonts; no network."""
    allowed = " ".join(script_hash(script) for script in scripts) or "'none'"
    return (
        f"default-src 'none'; script-src {allowed}; style-src 'unsafe-inline'; "
        "img-src data:; font-src data:; base-uri 'none'; form-action 'none'"
    )
