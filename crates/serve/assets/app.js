// charrnn's page: a client of `charrnn serve`'s JSON API, nothing more.
//   Runs:     GET /api/runs (every 2 s), GET /api/runs/{id}/metrics?stream=true
//             (server-sent events: rows as the run writes them), and the
//             server's drawing of the loss plot, GET /api/runs/{id}/loss.svg.
//   Playground: POST /api/sample with "stream": true, read char by char.
//   Inside:   POST /api/score with "hidden_layer": one layer's state per char
//             and the five likeliest next chars; units are ranked here.
"use strict";

const $ = (id) => document.getElementById(id);

// ---- talking to the server ------------------------------------------------

async function api(path, body, signal) {
  const init = body === undefined ? { signal } : {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal,
  };
  const r = await fetch(path, init);
  if (!r.ok) {
    const e = await r.json().catch(() => ({}));
    throw new Error(e.error || `${path}: HTTP ${r.status}`);
  }
  return r;
}

const getJSON = async (path) => (await api(path)).json();
const postJSON = async (path, body) => (await api(path, body)).json();

// Server-sent events from a fetch response: calls on(event, data) per event.
async function readEvents(response, on) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trimStart();
      }
      if (data) on(name, JSON.parse(data));
    }
  }
}

function say(text) {
  const m = $("message");
  m.textContent = text;
  m.hidden = !text;
}

const fmt = (x, digits = 3) => (x === null || x === undefined || !isFinite(x) ? "–" : Number(x).toFixed(digits));
const thousands = (x) => (x === null || x === undefined ? "–" : Math.round(x).toLocaleString("en"));

// ---- views (tabs) -----------------------------------------------------------

const tabs = [...document.querySelectorAll('[role="tab"]')];

function showView(tab, focus) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute("aria-controls")).hidden = !on;
  }
  if (focus) tab.focus();
  history.replaceState(null, "", "#" + tab.id.slice(4));
  if (tab.id !== "tab-runs") loadModels();
}

for (const t of tabs) {
  t.addEventListener("click", () => showView(t, false));
  t.addEventListener("keydown", (e) => {
    const i = tabs.indexOf(t);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    showView(tabs[(to + tabs.length) % tabs.length], true);
  });
}

// ---- runs -------------------------------------------------------------------

const runs = { list: [], selected: null, events: null, chartDue: false, chartBusy: false, rows: 0, evals: 0 };

async function refreshRuns() {
  let list;
  try {
    list = (await getJSON("/api/runs")).runs;
  } catch (e) {
    say(`cannot list runs (is the server still running?): ${e.message}`);
    return;
  }
  if ($("message").textContent.startsWith("cannot list runs")) say("");
  runs.list = list;
  const ul = $("run-list");
  const ids = list.map((r) => r.id);
  for (const li of [...ul.children]) if (!ids.includes(li.dataset.id)) li.remove();
  for (const run of list) {
    let li = ul.querySelector(`li[data-id="${CSS.escape(run.id)}"]`);
    if (!li) {
      li = document.createElement("li");
      li.dataset.id = run.id;
      const b = document.createElement("button");
      b.type = "button";
      b.className = "run";
      b.addEventListener("click", () => selectRun(run.id));
      li.append(b);
      ul.append(li);
    }
    const b = li.firstChild;
    b.setAttribute("aria-pressed", String(run.id === runs.selected));
    b.textContent = "";
    const name = document.createElement("strong");
    name.textContent = run.id;
    const line = document.createElement("span");
    line.textContent = summary(run);
    b.append(name, line);
  }
  $("no-runs").hidden = list.length > 0;
  if (!runs.selected && list.length) selectRun((list.find((r) => state(r) === "training") || list[0]).id);
  else showRun();
}

function describeModel(c) {
  if (!c) return "";
  return `${c.model} ${c.layers} × ${c.hidden_size}`;
}

// A run's state. "training" that has not been rewritten for a while (30 s,
// or five iterations of a slow model) is "silent": killed, or the machine
// is busy.
function state(run) {
  const s = run.status;
  if (!s) return run.has_checkpoint ? "saved" : "starting";
  const c = run.config || {};
  const perIter = s.chars_per_s ? (c.batch_size * c.seq_length) / s.chars_per_s : 0;
  const quiet = Date.now() / 1000 - s.updated;
  if (s.state === "training" && quiet > Math.max(30, 5 * perIter)) return `silent for ${Math.round(quiet)} s`;
  return s.state;
}

function summary(run) {
  const s = run.status;
  const iter = s ? `iteration ${thousands(s.iter)}` : "";
  return [describeModel(run.config), state(run), iter].filter(Boolean).join(" · ");
}

function selectRun(id) {
  if (runs.selected !== id) {
    runs.selected = id;
    runs.rows = 0;
    runs.evals = 0;
    runs.lastTrain = null;
    runs.lastVal = null;
    $("chart").textContent = "";
    if (runs.events) runs.events.close();
    runs.events = new EventSource(`/api/runs/${encodeURIComponent(id)}/metrics?stream=true`);
    runs.events.addEventListener("rows", (e) => {
      const rows = JSON.parse(e.data);
      runs.rows += rows.metrics.length;
      runs.evals += rows.eval.length;
      if (rows.eval.length) runs.lastVal = rows.eval[rows.eval.length - 1];
      if (rows.metrics.length) runs.lastTrain = rows.metrics[rows.metrics.length - 1];
      showRun();
      drawChart();
    });
  }
  for (const b of document.querySelectorAll("#run-list button")) {
    b.setAttribute("aria-pressed", String(b.parentElement.dataset.id === id));
  }
  showRun();
}

function showRun() {
  const run = runs.list.find((r) => r.id === runs.selected);
  $("run-detail").hidden = !run;
  if (!run) return;
  const s = run.status || {};
  const c = run.config || {};
  $("run-title").textContent = run.id;
  const facts = [
    ["model", describeModel(c) || "–"],
    ["state", state(run)],
    ["iteration", s.total_iterations ? `${thousands(s.iter)} of ${thousands(s.total_iterations)}` : thousands(s.iter)],
    ["epoch", fmt(s.epoch, 2)],
    ["chars/s", thousands(s.chars_per_s)],
    ["learning rate", s.learning_rate === undefined ? "–" : Number(s.learning_rate).toExponential(2)],
    ["smooth loss", s.smooth_loss === undefined || !c.seq_length ? "–" : `${fmt(s.smooth_loss / c.seq_length)} nats/char`],
    ["validation", runs.lastVal ? `${fmt(runs.lastVal.val_loss)} nats/char (iteration ${thousands(runs.lastVal.iter)})` : "–"],
  ];
  const dl = $("run-facts");
  dl.textContent = "";
  for (const [k, v] of facts) {
    const div = document.createElement("div");
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = k;
    dd.textContent = v;
    div.append(dt, dd);
    dl.append(div);
  }
  $("run-sample").textContent = s.sample ? s.sample.text : "(no sample yet: the run prints one every sample_every iterations)";
  $("run-config").textContent = run.config_text || "(no config.toml)";
}

// The server draws the chart (the run's own loss.svg drawing); redrawn at most
// once a second while rows arrive.
async function drawChart() {
  runs.chartDue = true;
  if (runs.chartBusy) return;
  runs.chartBusy = true;
  while (runs.chartDue) {
    runs.chartDue = false;
    const id = runs.selected;
    try {
      // Drawn at the chart's own size, so its labels keep theirs.
      const width = Math.max(300, Math.round($("chart").clientWidth || 900));
      const height = Math.round(Math.min(Math.max(width * 0.6, 300), 600));
      const svg = await (await api(`/api/runs/${encodeURIComponent(id)}/loss.svg?width=${width}&height=${height}`)).text();
      if (id === runs.selected) {
        const chart = $("chart");
        chart.innerHTML = svg;
        const el = chart.querySelector("svg");
        if (el) {
          el.removeAttribute("width");
          el.removeAttribute("height");
          el.setAttribute("aria-hidden", "true");
        }
        chart.dataset.rows = String(runs.rows);
        chart.dataset.evals = String(runs.evals);
        const t = runs.lastTrain;
        const v = runs.lastVal;
        const text = `Loss per char against iteration: ${thousands(runs.rows)} training rows` +
          (v ? `, ${runs.evals} validation points, the last ${fmt(v.val_loss)} at iteration ${thousands(v.iter)}` : "") +
          (t ? `; last iteration ${thousands(t.iter)}` : "");
        chart.setAttribute("aria-label", text);
        $("chart-caption").textContent = text;
      }
    } catch (e) {
      say(`cannot draw the chart: ${e.message}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  runs.chartBusy = false;
}

let resized = null;
window.addEventListener("resize", () => {
  clearTimeout(resized);
  resized = setTimeout(() => { if (runs.selected) drawChart(); }, 200);
});

// ---- models (for the playground and the inside view) ------------------------

let models = [];

async function loadModels() {
  try {
    models = (await getJSON("/api/models")).models.filter((m) => !m.error);
  } catch (e) {
    say(`cannot list models: ${e.message}`);
    return;
  }
  for (const select of document.querySelectorAll(".model-select")) {
    const keep = select.value;
    select.textContent = "";
    for (const m of models) {
      const o = document.createElement("option");
      o.value = m.id;
      o.textContent = `${m.id} (${m.kind} ${m.layers} × ${m.hidden_size}, ${thousands(m.iterations)} iterations)`;
      select.append(o);
    }
    if (models.some((m) => m.id === keep)) select.value = keep;
  }
  fillLayers();
}

const model = (id) => models.find((m) => m.id === id);

// ---- playground ---------------------------------------------------------------

const play = { controller: null };
const temperature = () => Math.pow(10, Number($("play-temp").value));

function showTemperature() {
  $("play-temp-out").textContent = temperature().toFixed(2);
  $("play-temp").setAttribute("aria-valuetext", `temperature ${temperature().toFixed(2)}`);
}

$("play-temp").addEventListener("input", showTemperature);
showTemperature();

$("play-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (play.controller) return;
  const out = $("play-output");
  const prime = $("play-prime").value;
  out.textContent = prime;
  const controller = new AbortController();
  play.controller = controller;
  $("play-generate").disabled = true;
  $("play-stop").disabled = false;
  $("play-status").textContent = "sampling…";
  const started = performance.now();
  let chars = 0;
  try {
    const r = await api("/api/sample", {
      model: $("play-model").value,
      prime,
      length: Number($("play-length").value),
      temperature: temperature(),
      seed: Number($("play-seed").value),
      stream: true,
    }, controller.signal);
    await readEvents(r, (name, data) => {
      if (name === "char") {
        out.append(data.text);
        chars += 1;
      }
    });
    const s = (performance.now() - started) / 1000;
    $("play-status").textContent = `${chars} chars in ${s.toFixed(2)} s`;
  } catch (err) {
    $("play-status").textContent = err.name === "AbortError" ? `stopped after ${chars} chars` : err.message;
  } finally {
    play.controller = null;
    $("play-generate").disabled = false;
    $("play-stop").disabled = true;
  }
});

$("play-stop").addEventListener("click", () => {
  if (play.controller) play.controller.abort();
  $("play-generate").focus();
});

// ---- inside the network -----------------------------------------------------------

const inside = { chars: [], cursor: -1, layer: 0 };
const INSIDE_MAX = 5000;

function fillLayers() {
  const m = model($("inside-model").value);
  const select = $("inside-layer");
  const keep = select.value;
  select.textContent = "";
  for (let k = 0; m && k < m.layers; k++) {
    const o = document.createElement("option");
    o.value = String(k);
    o.textContent = `layer ${k + 1} of ${m.layers}`;
    select.append(o);
  }
  if (m && Number(keep) < m.layers) select.value = keep;
  $("inside-unit").max = m ? String(m.hidden_size - 1) : "0";
}

$("inside-model").addEventListener("change", () => {
  fillLayers();
  inside.chars = [];
  render();
});

$("inside-sample").addEventListener("click", async () => {
  try {
    const r = await postJSON("/api/sample", {
      model: $("inside-model").value,
      length: 800,
      temperature: 0.8,
      seed: Math.floor(Math.random() * 1e9),
    });
    $("inside-text").value = r.samples[0];
    await analyse();
  } catch (e) {
    say(e.message);
  }
});

$("inside-form").addEventListener("submit", (e) => {
  e.preventDefault();
  analyse();
});

$("inside-layer").addEventListener("change", analyse);
$("inside-unit").addEventListener("input", render);

async function analyse() {
  const text = $("inside-text").value;
  if ([...text].length > INSIDE_MAX) {
    say(`the text has ${[...text].length} chars; this view shows up to ${INSIDE_MAX}`);
    return;
  }
  if ([...text].length < 2) {
    say("give a text of two chars or more (or sample one)");
    return;
  }
  try {
    const r = await postJSON("/api/score", {
      model: $("inside-model").value,
      text,
      top: 5,
      hidden_layer: Number($("inside-layer").value || 0),
    });
    say("");
    inside.chars = r.chars;
    inside.nats = r.nats_per_char;
    inside.cursor = -1;
    render();
  } catch (e) {
    say(e.message);
  }
}

function unit() {
  const h = inside.chars.length ? inside.chars[0].hidden.length : 1;
  const u = Math.floor(Number($("inside-unit").value));
  return Math.min(Math.max(isFinite(u) ? u : 0, 0), h - 1);
}

// -1 → blue, 0 → none, +1 → red.
function colour(a) {
  const alpha = Math.min(Math.abs(a), 1) * 0.8;
  return a >= 0 ? `rgba(214, 39, 40, ${alpha.toFixed(3)})` : `rgba(31, 119, 180, ${alpha.toFixed(3)})`;
}

function render() {
  const box = $("coloured");
  box.textContent = "";
  const u = unit();
  const frag = document.createDocumentFragment();
  inside.chars.forEach((c, i) => {
    const span = document.createElement("span");
    const a = c.hidden[u];
    span.textContent = c.char;
    span.dataset.i = String(i);
    span.dataset.activation = String(a);
    span.style.backgroundColor = colour(a);
    if (c.char === "\n") span.className = "newline";
    frag.append(span);
  });
  box.append(frag);
  box.dataset.unit = String(u);
  if (inside.cursor >= 0) showNext(inside.cursor);
}

function showNext(i) {
  const c = inside.chars[i];
  if (!c) return;
  inside.cursor = i;
  for (const s of document.querySelectorAll("#coloured .cursor")) s.classList.remove("cursor");
  const span = $("coloured").children[i];
  if (span) span.classList.add("cursor");
  const aside = $("hover");
  aside.textContent = "";
  const h = document.createElement("h3");
  h.textContent = `After ${show(c.char)} (char ${i + 1})`;
  const p = document.createElement("p");
  p.textContent = `unit ${unit()}: ${fmt(c.hidden[unit()])}` +
    (inside.chars[i + 1] ? ` · next is ${show(inside.chars[i + 1].char)}, p = ${fmt(Math.exp(inside.chars[i + 1].logprob))}` : "");
  const table = document.createElement("table");
  table.className = "top";
  const cap = document.createElement("caption");
  cap.textContent = "the five likeliest next chars";
  table.append(cap);
  for (const t of c.top) {
    const tr = document.createElement("tr");
    const ch = document.createElement("td");
    ch.textContent = show(t.char);
    const pr = document.createElement("td");
    pr.textContent = fmt(t.p);
    const bar = document.createElement("td");
    const fill = document.createElement("span");
    fill.className = "bar";
    fill.style.width = `${(t.p * 100).toFixed(1)}%`;
    bar.append(fill);
    tr.append(ch, pr, bar);
    table.append(tr);
  }
  aside.append(h, p, table);
}

const show = (ch) => ({ "\n": "⏎ (newline)", " ": "“ ” (space)", "\t": "⇥ (tab)" })[ch] || `“${ch}”`;

$("coloured").addEventListener("mouseover", (e) => {
  const i = e.target.dataset && e.target.dataset.i;
  if (i !== undefined) showNext(Number(i));
});

$("coloured").addEventListener("keydown", (e) => {
  const n = inside.chars.length;
  if (!n) return;
  const i = inside.cursor;
  const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: n - 1 }[e.key];
  if (to === undefined) return;
  e.preventDefault();
  showNext(Math.min(Math.max(to, 0), n - 1));
});

$("coloured").addEventListener("focus", () => {
  if (inside.cursor < 0 && inside.chars.length) showNext(0);
});

// Ranks the layer's units by |Pearson correlation| between their activation
// and "this char is inside a match of the pattern" (1 or 0 per char).
$("find-units").addEventListener("click", findUnits);
$("find-pattern").addEventListener("keydown", (e) => {
  if (e.key === "Enter") {
    e.preventDefault();
    findUnits();
  }
});

function findUnits() {
  const list = $("found-units");
  list.textContent = "";
  if (!inside.chars.length) {
    say("show a text first, then find units in it");
    return;
  }
  let re;
  try {
    re = new RegExp($("find-pattern").value, "gmu");
  } catch (e) {
    say(`not a regular expression: ${e.message}`);
    return;
  }
  const text = inside.chars.map((c) => c.char).join("");
  // A code unit's index in the text → its char's index.
  const charAt = [];
  inside.chars.forEach((c, i) => { for (let k = 0; k < c.char.length; k++) charAt.push(i); });
  const x = new Float64Array(inside.chars.length);
  for (const m of text.matchAll(re)) {
    for (let k = m.index; k < m.index + m[0].length; k++) x[charAt[k]] = 1;
  }
  const ranked = rankUnits(x);
  if (!ranked) {
    say("the pattern marks every char or none of them; try another");
    return;
  }
  say("");
  for (const { unit: u, r } of ranked.slice(0, 10)) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.unit = String(u);
    b.dataset.r = String(r);
    b.textContent = `unit ${u}: r = ${r >= 0 ? "+" : "−"}${Math.abs(r).toFixed(3)}`;
    b.addEventListener("click", () => {
      $("inside-unit").value = String(u);
      render();
    });
    li.append(b);
    list.append(li);
  }
}

function rankUnits(x) {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  for (const v of x) sxx += (v - mx) * (v - mx);
  if (sxx === 0) return null;
  const units = inside.chars[0].hidden.length;
  const out = [];
  for (let u = 0; u < units; u++) {
    let ma = 0;
    for (const c of inside.chars) ma += c.hidden[u];
    ma /= n;
    let sxa = 0, saa = 0;
    inside.chars.forEach((c, i) => {
      const d = c.hidden[u] - ma;
      sxa += (x[i] - mx) * d;
      saa += d * d;
    });
    out.push({ unit: u, r: saa > 0 ? sxa / Math.sqrt(sxx * saa) : 0 });
  }
  return out.sort((a, b) => Math.abs(b.r) - Math.abs(a.r));
}

// ---- start ----------------------------------------------------------------------

const first = tabs.find((t) => t.id === "tab-" + location.hash.slice(1)) || tabs[0];
showView(first, false);
refreshRuns();
setInterval(refreshRuns, 2000);
