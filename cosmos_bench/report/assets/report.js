// cosmos-bench report: sorting, filtering, paging, deep links and synchronised playback.
// The page model (which rows, which differences) is computed in Python; this script only orders and
// shows it. Row bodies live in rows/<n>.js and are loaded when their row is on the current page.
"use strict";

const PAGE_SIZE = 12;
const data = JSON.parse(document.getElementById("report-index").textContent);
const controls = document.getElementById("controls");
const rowsBox = document.getElementById("rows");
const pending = new Map(); // row index -> placeholder element waiting for its rows/<n>.js
let page = 0;
let target = null; // the deep-linked row id, scrolled to once loaded

window.cosmosReport = {
  addRow(i, html) {
    const slot = pending.get(i);
    if (!slot) return;
    pending.delete(i);
    slot.innerHTML = html;
    const section = slot.firstElementChild;
    setUpRow(section);
    placeChosen(section);
    if (target && section.dataset.row === target) {
      section.classList.add("target");
      section.scrollIntoView({ block: "start" });
      target = null;
    }
  },
};

// ------------------------------------------------------------------------------ state <-> URL hash
function defaultValue(el) {
  if (el.tagName === "SELECT") return ([...el.options].find((o) => o.defaultSelected) || el.options[0]).value;
  return el.defaultValue;
}

function readHash() { // a link fixes the whole view: what it does not name is back to its default
  const params = new URLSearchParams(location.hash.slice(1));
  for (const el of controls.elements) {
    if (!el.name) continue;
    if (el.type === "checkbox") el.checked = params.get(el.name) === "1";
    else el.value = params.has(el.name) ? params.get(el.name) : defaultValue(el);
  }
  page = Number(params.get("page") || 0);
  target = params.get("row");
}

function writeHash(rowId) {
  const params = new URLSearchParams();
  for (const el of controls.elements) {
    if (!el.name) continue;
    const value = el.type === "checkbox" ? (el.checked ? "1" : "") : el.value;
    if (value) params.set(el.name, value);
  }
  if (page) params.set("page", String(page));
  if (rowId) params.set("row", rowId);
  history.replaceState(null, "", "#" + params.toString());
}

// ------------------------------------------------------------------------------ sort and filter
function sortKey(row, how, metric, model) {
  const table = how === "loss" ? row.l : how === "value" ? row.v : null;
  const v = table && table[metric] ? table[metric][model] : undefined;
  return v === undefined || v === null ? null : v;
}

function statusMatches(row, wanted) {
  const all = Object.values(row.status);
  if (wanted === "any") return true;
  if (wanted === "ok") return all.every((s) => s === "ok");
  if (wanted === "not-ok") return all.some((s) => s !== "ok");
  return all.some((s) => s === wanted);
}

function visibleRows() {
  const f = Object.fromEntries(new FormData(controls));
  const lost = controls.elements.lost.checked;
  const q = (f.q || "").trim().toLowerCase();
  let rows = data.rows.filter((r) => statusMatches(r, f.status)
    && (!q || r.prompt.toLowerCase().includes(q) || r.sample.toLowerCase().includes(q))
    && (!lost || (sortKey(r, "loss", f.metric, f.model) || 0) > 0));
  if (f.sort !== "pair") {
    const sign = f.dir === "asc" ? 1 : -1;
    rows = rows.slice().sort((a, b) => {
      const ka = sortKey(a, f.sort, f.metric, f.model), kb = sortKey(b, f.sort, f.metric, f.model);
      if (ka === null || kb === null) return (ka === null) - (kb === null) || a.i - b.i; // no number: last
      return sign * (ka - kb) || a.i - b.i;
    });
  }
  return rows;
}

// ------------------------------------------------------------------------------ rendering
function render(keepPage) {
  const rows = visibleRows();
  if (target) {
    const at = rows.findIndex((r) => r.id === target);
    if (at >= 0) page = Math.floor(at / PAGE_SIZE);
  }
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  if (!keepPage) page = 0;
  page = Math.min(Math.max(page, 0), pages - 1);
  document.getElementById("page-info").textContent =
    `${rows.length} of ${data.rows.length} rows · page ${page + 1} of ${pages}`;
  for (const video of rowsBox.querySelectorAll("video")) video.pause();
  rowsBox.replaceChildren();
  pending.clear();
  for (const r of rows.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE)) {
    const slot = document.createElement("div");
    slot.className = "slot";
    slot.dataset.row = r.id;
    slot.textContent = `loading ${r.id} …`;
    rowsBox.appendChild(slot);
    pending.set(r.i, slot);
    const script = document.createElement("script");
    script.src = `rows/${String(r.i).padStart(5, "0")}.js`;
    script.onerror = () => { slot.textContent = `${script.src} is missing: regenerate the report`; };
    document.body.appendChild(script);
    script.remove();
  }
  writeHash(target);
}

// The candidate the view sorts or filters by sits right after the baseline, so it is on the row's first
// line at any width (the cells wrap instead of hiding behind a scroll).
function placeChosen(section) {
  const chosen = controls.elements.model.value;
  for (const cell of section.querySelectorAll(".cell")) {
    const m = cell.dataset.model;
    cell.style.order = m === data.baseline ? "-2" : m === chosen ? "-1" : "0";
    cell.classList.toggle("chosen", m === chosen && m !== data.baseline);
  }
}

// ------------------------------------------------------------------------------ synchronised playback
function setUpRow(section) {
  const videos = [...section.querySelectorAll("video")];
  const button = section.querySelector(".play");
  const scrub = section.querySelector(".scrub");
  const clock = section.querySelector(".clock");
  if (!videos.length) { button.disabled = scrub.disabled = true; return; }
  const master = videos[0];
  let playing = false;
  const length = () => Math.min(...videos.map((v) => v.duration || Infinity));

  function show(t) {
    const total = length();
    clock.textContent = `${t.toFixed(2)} s`;
    if (isFinite(total) && total > 0 && document.activeElement !== scrub) scrub.value = String(Math.round((t / total) * 1000));
    for (const cell of section.querySelectorAll(".cell")) {
      const fps = Number(cell.dataset.fps) || 0;
      for (const svg of cell.querySelectorAll("svg.curve")) {
        const f0 = Number(svg.dataset.f0), f1 = Number(svg.dataset.f1), x0 = Number(svg.dataset.x0), x1 = Number(svg.dataset.x1);
        const frac = f1 > f0 && fps ? Math.min(1, Math.max(0, (t * fps - f0) / (f1 - f0))) : 0;
        const line = svg.querySelector(".playhead");
        const x = x0 + frac * (x1 - x0);
        line.setAttribute("x1", x); line.setAttribute("x2", x);
      }
    }
  }
  function seek(t) {
    for (const v of videos) v.currentTime = Math.min(t, (v.duration || t));
    show(t);
  }
  function tick() {
    if (!playing) return;
    const t = master.currentTime;
    for (const v of videos.slice(1)) if (Math.abs(v.currentTime - t) > 0.05) v.currentTime = t; // keep in step
    show(t);
    requestAnimationFrame(tick);
  }
  function setPlaying(on) {
    playing = on;
    button.textContent = on ? "❚❚ pause" : "▶ play";
    section.classList.toggle("playing", on);
    if (on) { Promise.all(videos.map((v) => v.play())).catch(() => {}); requestAnimationFrame(tick); }
    else for (const v of videos) v.pause();
  }
  button.addEventListener("click", () => setPlaying(!playing));
  scrub.addEventListener("input", () => {
    const total = length();
    if (isFinite(total)) seek((Number(scrub.value) / 1000) * total);
  });
  master.addEventListener("ended", () => { if (playing) { seek(0); setPlaying(true); } });
  master.addEventListener("seeked", () => show(master.currentTime));
}

// ------------------------------------------------------------------------------ wiring
controls.addEventListener("input", () => { target = null; render(false); });
document.getElementById("prev").addEventListener("click", () => { page -= 1; target = null; render(true); });
document.getElementById("next").addEventListener("click", () => { page += 1; target = null; render(true); });
rowsBox.addEventListener("click", (ev) => {
  const a = ev.target.closest("a.anchor");
  if (!a) return;
  ev.preventDefault();
  target = a.closest(".row").dataset.row;
  writeHash(target);
  target = null;
});
window.addEventListener("hashchange", () => { readHash(); render(true); });
readHash();
render(true);
