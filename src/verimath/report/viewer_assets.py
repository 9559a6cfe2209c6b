"""The viewer's inline stylesheet and script (no external resources).

The script never assigns HTML itself: run data reaches the page through ``textContent`` / text
nodes, except prose and answers, which go through :mod:`.richtext` (markdown-it with HTML
disabled, KaTeX without trust), so model text shows as text or math whatever it holds. The
page's Content-Security-Policy allows only these exact scripts (by their hashes) to run.
"""

from __future__ import annotations

__all__ = ["SCRIPT", "STYLE"]

STYLE = r"""
:root { --fg:#1f2328; --muted:#656d76; --line:#d0d7de; --bg:#fff; --soft:#f6f8fa;
  --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --info:#0969da; --sel:#ddf4ff; }
* { box-sizing: border-box; } [hidden] { display:none !important; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif; color:var(--fg);
  background:var(--bg); }
header { padding:.6rem 1rem; border-bottom:1px solid var(--line); background:var(--soft); }
header h1 { font-size:1.05rem; margin:0 0 .2rem; }
header p { margin:0; color:var(--muted); font-size:12.5px; }
#app { display:flex; height:calc(100vh - 4.2rem); }
#list-pane { width:40%; min-width:22rem; border-right:1px solid var(--line); display:flex;
  flex-direction:column; }
#filters { display:flex; flex-wrap:wrap; gap:.35rem; padding:.5rem;
  border-bottom:1px solid var(--line); }
#filters label { font-size:12px; color:var(--muted); display:flex; flex-direction:column; }
#filters select, #filters input { font:inherit; font-size:13px; padding:.15rem .25rem; }
#filters input { width:11rem; }
#count { padding:.3rem .6rem; font-size:12px; color:var(--muted); }
#list-scroll { overflow:auto; flex:1; }
#list { border-collapse:collapse; width:100%; font-size:12.5px; }
#list td { padding:.3rem .45rem; border-bottom:1px solid #eee; vertical-align:top; }
#list tr { cursor:pointer; } #list tr:hover td { background:var(--soft); }
#list tr.selected td { background:var(--sel); }
#list .q { color:var(--muted); display:block; max-height:2.8em; overflow:hidden; }
#list .q section, #list .q eqn, #list .q .katex-display { display:inline; margin:0; }
#list .q .katex-display > .katex { display:inline; }
#more { margin:.5rem; }
#detail { flex:1; overflow:auto; padding:.8rem 1.2rem 3rem; }
#detail h2 { font-size:1.05rem; margin:.2rem 0 .5rem; }
.question, .prose, .note { white-space:pre-wrap; overflow-wrap:anywhere; }
.question .rendered, .prose .rendered { white-space:normal; }
#raw-toggle { float:right; }
.question { background:var(--soft); padding:.6rem .8rem; border-radius:6px; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:.2rem .8rem; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; overflow-wrap:anywhere; }
table.votes { border-collapse:collapse; margin:.5rem 0 1rem; font-size:13px; }
table.votes th, table.votes td { border:1px solid var(--line); padding:.2rem .5rem; }
table.votes th { background:var(--soft); }
details.sample { border:1px solid var(--line); border-radius:6px; margin:.6rem 0; }
details.sample > summary { padding:.45rem .6rem; cursor:pointer; background:var(--soft); }
details.sample > div { padding:.4rem .8rem .8rem; }
.turn { border-left:3px solid var(--line); margin:.7rem 0; padding-left:.7rem; }
.turn-head { font-size:11.5px; color:var(--muted); }
pre { margin:.35rem 0; padding:.5rem .7rem; border-radius:5px; overflow:auto; font-size:12.5px;
  font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; white-space:pre-wrap;
  overflow-wrap:anywhere; }
pre.code { background:#f6f8fa; border:1px solid #e5e8eb; }
pre.output { background:#fff; border:1px dashed var(--line); max-height:24rem; }
.out-head { font-size:11.5px; color:var(--muted); }
.note { background:#fff8c5; padding:.4rem .6rem; border-radius:5px; }
.t-k { color:#cf222e; } .t-s { color:#0a3069; } .t-c { color:#6e7781; font-style:italic; }
.t-n { color:#0550ae; } .t-b { color:#8250df; }
.badge { display:inline-block; padding:0 .4rem; border-radius:1rem; font-size:11.5px;
  border:1px solid currentColor; margin-right:.25rem; white-space:nowrap; }
.b-correct, .b-True, .b-ok { color:var(--ok); }
.b-incorrect, .b-False, .b-error, .b-killed { color:var(--bad); }
.b-unparseable, .b-timeout, .b-memory, .b-refused, .b-unrun { color:var(--warn); }
.b-Uncertain, .b-other { color:var(--muted); }
.muted { color:var(--muted); }
ul.evidence { margin:.2rem 0; font-size:12px; color:var(--muted); }
@media (max-width: 900px) { #app { display:block; height:auto; } #list-pane { width:auto; }
  #list-scroll { max-height:50vh; } }
"""

SCRIPT = r"""
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const INDEX = JSON.parse($("vm-index").textContent);
  const PAGE = 200;
  const KNOWN = new Set(["correct", "incorrect", "unparseable", "timeout", "True", "False",
    "Uncertain", "ok", "error", "memory", "killed", "refused", "unrun"]);
  const FILTERS = ["subject", "level", "outcome", "state", "votes", "q"];
  let shown = PAGE;
  let matches = INDEX;

  function el(tag, cls, ...children) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }
  const RICH = window.verimathText;  // the Markdown/LaTeX renderer (richtext.py), if it loaded
  function prose(cls, text) {
    return el("div", cls, RICH ? RICH.block(text) : text);
  }
  function tex(answer) {
    return RICH ? RICH.inline(answer) : el("code", null, answer);
  }

  function badge(text, kind) {
    return el("span", "badge b-" + (KNOWN.has(kind) ? kind : "other"), text);
  }

  const KEYWORDS = new Set(("False None True and as assert async await break class continue " +
    "def del elif else except finally for from global if import in is lambda nonlocal not or " +
    "pass raise return try while with yield match case").split(" "));
  const BUILTINS = new Set(("print range len int float str list dict set tuple sum min max " +
    "abs round sorted enumerate zip map filter any all pow divmod isinstance bool reversed " +
    "type repr format").split(" "));
  const TOKEN = new RegExp([
    "(#[^\\n]*)",
    "([rRbBuUfF]{0,2}(?:\"\"\"[\\s\\S]*?\"\"\"|'''[\\s\\S]*?'''|\"(?:[^\"\\\\\\n]|\\\\.)*\"" +
      "|'(?:[^'\\\\\\n]|\\\\.)*'))",
    "(\\b\\d[\\d_]*(?:\\.\\d*)?(?:[eE][+-]?\\d+)?j?\\b)",
    "([A-Za-z_][A-Za-z0-9_]*)",
  ].join("|"), "g");

  function highlight(code) {
    const pre = el("pre", "code");
    let last = 0;
    for (const m of code.matchAll(TOKEN)) {
      if (m.index > last) pre.append(code.slice(last, m.index));
      let cls = null;
      if (m[1] !== undefined) cls = "c";
      else if (m[2] !== undefined) cls = "s";
      else if (m[3] !== undefined) cls = "n";
      else if (KEYWORDS.has(m[4])) cls = "k";
      else if (BUILTINS.has(m[4])) cls = "b";
      pre.append(cls ? el("span", "t-" + cls, m[0]) : m[0]);
      last = m.index + m[0].length;
    }
    if (last < code.length) pre.append(code.slice(last));
    return pre;
  }

  function params() {
    return new URLSearchParams(location.hash.slice(1));
  }
  function setParams(update, push) {
    const p = params();
    for (const [key, value] of Object.entries(update)) {
      if (value === "" || value === null || value === undefined) p.delete(key);
      else p.set(key, value);
    }
    const hash = "#" + p.toString();
    if (push) location.hash = hash;
    else { history.replaceState(null, "", hash); render(); }
  }

  function keep(entry, f) {
    if (f.subject && entry.subject !== f.subject) return false;
    if (f.level && String(entry.level) !== f.level) return false;
    if (f.state && !(entry.states[f.state] > 0)) return false;
    if (f.outcome === "correct" && entry.grade !== "correct") return false;
    if (f.outcome === "wrong" && entry.grade === "correct") return false;
    if (f.outcome === "recoverable" && !(entry.grade !== "correct" && entry.correct > 0))
      return false;
    if (f.outcome === "none" && entry.correct > 0) return false;
    if (f.votes === "unanimous" && entry.classes > 1) return false;
    if (f.votes === "split" && entry.classes < 2) return false;
    if (f.votes === "differ" && !entry.differ) return false;
    if (f.q) {
      const needle = f.q.toLowerCase();
      if (!entry.id.toLowerCase().includes(needle) && !entry.q.toLowerCase().includes(needle))
        return false;
    }
    return true;
  }

  function fillSelect(id, values, label) {
    const select = $(id);
    select.append(el("option", null, "all"));
    select.firstChild.value = "";
    for (const value of values) {
      const option = el("option", null, label ? label(value) : value);
      option.value = value;
      select.append(option);
    }
  }

  function setupFilters() {
    const subjects = [...new Set(INDEX.map((e) => e.subject).filter((s) => s !== null))].sort();
    const levels = [...new Set(INDEX.map((e) => e.level).filter((l) => l !== null))]
      .sort((a, b) => a - b).map(String);
    fillSelect("f-subject", subjects);
    fillSelect("f-level", levels);
    if (!subjects.length) $("f-subject").parentNode.hidden = true;
    if (!levels.length) $("f-level").parentNode.hidden = true;
    for (const name of FILTERS) {
      const input = $("f-" + name);
      input.addEventListener(name === "q" ? "input" : "change",
        () => { shown = PAGE; setParams({ [name]: input.value }, false); });
    }
    $("more").addEventListener("click", () => { shown += PAGE; render(); });
    document.addEventListener("keydown", (event) => {
      if (event.target.matches("input, select")) return;
      if (event.key === "j" || event.key === "k") step(event.key === "j" ? 1 : -1);
      if (event.key === "r" && RICH) RICH.toggle($("raw-toggle"));
    });
    window.addEventListener("hashchange", render);
  }

  function step(delta) {
    const current = params().get("p");
    const at = matches.findIndex((e) => String(e.pos) === current);
    const next = matches[Math.max(0, Math.min(matches.length - 1, at + delta))];
    if (next) setParams({ p: next.pos }, true);
  }

  const SNIPPETS = new Map();  // rendered once per problem: the list is redrawn on each step
  function snippet(entry) {
    if (!RICH) return entry.q;
    if (!SNIPPETS.has(entry.pos)) SNIPPETS.set(entry.pos, RICH.line(entry.q));
    return SNIPPETS.get(entry.pos);
  }

  function renderList(p) {
    const f = {};
    for (const name of FILTERS) { f[name] = p.get(name) || ""; $("f-" + name).value = f[name]; }
    matches = INDEX.filter((entry) => keep(entry, f));
    $("count").textContent = matches.length + " of " + INDEX.length + " problems";
    const body = $("list-body");
    body.replaceChildren();
    const selected = p.get("p");
    for (const entry of matches.slice(0, shown)) {
      const row = el("tr", String(entry.pos) === selected ? "selected" : null,
        el("td", null, String(entry.pos + 1)),
        el("td", null,
          el("strong", null, entry.id), " ",
          entry.subject ? el("span", "muted", entry.subject + " ") : null,
          entry.level !== null ? el("span", "muted", "L" + entry.level) : null,
          el("span", "q", snippet(entry))),
        el("td", null,
          entry.grade ? badge(entry.grade, entry.grade) : el("span", "muted", "no vote"),
          el("div", "muted", entry.correct + "/" + entry.samples + " correct"),
          el("div", "muted", "T" + entry.states.True + " U" + entry.states.Uncertain +
            " F" + entry.states.False + (entry.classes > 1 ? " · split " + entry.classes : ""))));
      row.dataset.pos = entry.pos;
      row.addEventListener("click", () => setParams({ p: entry.pos }, true));
      body.append(row);
    }
    $("more").hidden = matches.length <= shown;
  }

  function facts(pairs) {
    const dl = el("dl", "facts");
    for (const [term, value] of pairs) dl.append(el("dt", null, term), el("dd", null, value));
    return dl;
  }

  function voteTable(vote) {
    const table = el("table", "votes");
    const head = el("tr");
    for (const h of ["answer", "score", "True", "Uncertain", "False", "samples", "grade"])
      head.append(el("th", null, h));
    table.append(head);
    for (const c of vote.classes) {
      table.append(el("tr", null,
        el("td", null, c.answer === null ? el("span", "muted", "(no answer)") : tex(c.answer)),
        el("td", null, Number(c.score).toFixed(2)),
        el("td", null, c.true), el("td", null, c.uncertain), el("td", null, c.false),
        el("td", null, c.samples.map((i) => "#" + (i + 1)).join(" ")),
        el("td", null, c.grade ? badge(c.grade, c.grade) : "")));
    }
    return table;
  }

  function renderPart(part) {
    if (part.text !== undefined) return prose("prose", part.text);
    const box = el("div", "cell", highlight(part.code));
    if (part.unrun) {
      box.append(el("div", "out-head", badge("not run", "unrun")));
      return box;
    }
    box.append(el("div", "out-head", badge(part.status, part.status), part.time + " s"));
    box.append(el("pre", "output", part.output === "" ? "(no output)" : part.output));
    return box;
  }

  function renderSample(sample, open) {
    const summary = el("summary", null,
      el("strong", null, "Sample #" + (sample.i + 1) + " "),
      badge(sample.grade, sample.grade), badge(sample.state, sample.state),
      " answer: ",
      sample.answer === null ? el("span", "muted", "(none)") : tex(sample.answer),
      el("span", "muted", " · code " + sample.code + " · " + sample.stop + " · " +
        sample.turns.length + " turns · " + sample.time + " s" +
        (sample.tokens ? " · " + sample.tokens + " tokens" : "")));
    const body = el("div");
    const evidence = el("ul", "evidence");
    for (const line of sample.evidence) evidence.append(el("li", null, line));
    body.append(el("details", null, el("summary", "muted", "verification evidence"), evidence));
    sample.turns.forEach((turn, t) => {
      const head = "turn " + (t + 1) + " · " + (turn.finish || "") +
        (turn.tokens ? " · " + turn.tokens + " tokens" : "");
      const box = el("div", "turn", el("div", "turn-head", head));
      for (const part of turn.parts) box.append(renderPart(part));
      if (!turn.parts.length) box.append(el("div", "muted", "(empty message)"));
      for (const note of turn.notes) box.append(el("div", "note", note));
      body.append(box);
    });
    const details = el("details", "sample", summary, body);
    details.open = open;
    return details;
  }

  function outcome(answer, grade) {
    return el("span", null, answer === null ? el("span", "muted", "(none)") : tex(answer), " ",
      badge(grade, grade));
  }

  function renderDetail(pos) {
    const pane = $("detail");
    pane.replaceChildren();
    const node = $("vm-p" + pos);
    if (!node) {
      pane.append(el("p", "muted", "Select a problem on the left (j / k: next / previous)."));
      return;
    }
    const d = JSON.parse(node.textContent);
    pane.append(el("h2", null, "#" + (d.pos + 1) + " " + d.id + " ",
      d.subject ? badge(d.subject, "other") : null,
      d.level !== null ? badge("Level " + d.level, "other") : null));
    pane.append(prose("question", d.question));
    const v = d.vote;
    pane.append(facts([
      ["gold answer", d.gold === null ? el("span", "muted", "(none)") : tex(d.gold)],
      ["weighted vote", v ? outcome(v.answer, v.grade) : "no vote yet"],
      ["plain vote", v ? outcome(v.plain_answer, v.plain_grade) : "–"],
    ]));
    if (v) pane.append(voteTable(v));
    if (d.prompt) {
      pane.append(el("details", null, el("summary", "muted", "prompt"),
        prose("prose", d.prompt)));
    }
    const tools = el("p", null);
    const expand = el("button", null, "expand all");
    const collapse = el("button", null, "collapse all");
    const openAll = (open) => {
      for (const x of pane.querySelectorAll("details.sample")) x.open = open;
    };
    expand.addEventListener("click", () => openAll(true));
    collapse.addEventListener("click", () => openAll(false));
    tools.append(expand, " ", collapse);
    if (RICH) {
      const raw = el("button", null, document.body.classList.contains("show-raw") ?
        "rendered text" : "raw text");
      raw.id = "raw-toggle";
      raw.title = "show the text as stored, LaTeX and Markdown unrendered (key r)";
      raw.addEventListener("click", () => RICH.toggle(raw));
      tools.append(raw);
    }
    pane.append(tools);
    d.samples.forEach((s, i) => pane.append(renderSample(s, i === 0 || d.samples.length <= 2)));
    pane.scrollTop = 0;
  }

  function select(pos) {
    for (const row of $("list-body").querySelectorAll("tr.selected")) row.className = "";
    const row = $("list-body").querySelector('tr[data-pos="' + pos + '"]');
    if (row) row.className = "selected";
  }

  let rendered = null;
  let listed = null;
  function render() {
    const p = params();
    // the list is rebuilt only when what it shows changes: its layout (math included) is costly
    const key = FILTERS.map((name) => p.get(name) || "").join("\u0000") + "\u0000" + shown;
    if (key !== listed) { listed = key; renderList(p); }
    if (!p.get("p") && matches.length) {  // open on the first problem, not an empty pane
      p.set("p", matches[0].pos);
      history.replaceState(null, "", "#" + p.toString());
    }
    const pos = p.get("p");
    select(pos);
    if (pos !== rendered) { rendered = pos; renderDetail(pos); }
  }

  setupFilters();
  render();
  document.body.dataset.ready = "1";
})();
"""
