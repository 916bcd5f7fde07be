"""The unpicking report: ``index.html`` and its pictures in one folder.

It shows the run; a table of the micrographs (picks, kept, removed, mean
score), those that look unusual first; the histogram of every score with
the threshold; overlays of a sample of micrographs, every pick a circle of
the box size, kept and removed in two colours that colour-blind readers
tell apart (Okabe and Ito's blue and vermilion, and solid against dashed);
and the boxes just above and just below the threshold, where the model is
least sure. The page carries every pick's score, so a slider moves the
threshold live: counts, table, histogram and circles follow, and the page
shows the command (or RELION Extract setting) that applies it.

What the report needs is gathered while the run goes (:class:`Collector`):
the overlays' pictures are drawn in the worker threads that read the
micrographs, the boxes near the threshold kept as the network scores them.
"""
from __future__ import annotations

import hashlib
import heapq
import html
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..files import atomic_write_text
from .images import box_tiles, micrograph_view, view_info

GALLERY = 24        # boxes shown on each side of the threshold
KEPT_COLOUR, REMOVED_COLOUR = "#0072B2", "#D55E00"      # Okabe & Ito: blue, vermilion


def sample_names(names: list[str], n: int) -> set[str]:
    """A reproducible random sample of ``n`` of the micrographs (by a hash of
    their names, so a part of a sharded run picks the same ones)."""
    ranked = sorted(names, key=lambda name: hashlib.sha1(name.encode()).hexdigest())
    return set(ranked[:n])


@dataclass
class Collector:
    """What a run keeps for its report. ``sample``: the micrographs whose
    overlays are drawn during the run; ``threshold``: the gallery's."""

    folder: Path
    threshold: float
    sample: set[str]
    boxsize_px: int
    views: dict[str, dict] = field(default_factory=dict)
    xy: dict[str, np.ndarray] = field(default_factory=dict)
    above: list = field(default_factory=list)     # heaps of (-distance, tiebreak, score, box, micrograph)
    below: list = field(default_factory=list)
    created: list = field(default_factory=list)   # the files and folders this run made

    def view(self, job, image: np.ndarray, xy: np.ndarray):
        """In a worker thread: draw a sampled micrograph's pictures."""
        if job.name not in self.sample:
            return None
        images = self.folder / "images"
        if not images.exists():
            images.mkdir(parents=True, exist_ok=True)
            self.created.append(images)
        view = micrograph_view(image, images, _file_name(job.name), self.boxsize_px)
        self.created.append(images / view["view"])
        self.views[job.name] = view
        return view

    def discard(self) -> None:
        """Remove the pictures this run drew (a run that failed leaves no half report)."""
        for path in reversed(self.created):
            if path.is_dir():
                try:
                    path.rmdir()
                    if not any(path.parent.iterdir()):
                        path.parent.rmdir()
                except OSError:
                    pass
            else:
                path.unlink(missing_ok=True)

    def scored(self, name: str, xy: np.ndarray, boxes: np.ndarray, prob: np.ndarray) -> None:
        """After the network: keep a sampled micrograph's centres, and the
        boxes nearest the threshold on either side."""
        if name in self.sample:
            self.xy[name] = np.asarray(xy, np.float64)
        for side, mask in ((self.above, prob >= self.threshold), (self.below, prob < self.threshold)):
            idx = np.flatnonzero(mask)
            if not len(idx):
                continue
            nearest = idx[np.argsort(np.abs(prob[idx] - self.threshold), kind="stable")[:GALLERY]]
            for i in nearest:
                item = (-abs(float(prob[i]) - self.threshold), f"{name}:{i}", float(prob[i]), boxes[i].copy(), name)
                if len(side) < GALLERY:
                    heapq.heappush(side, item)
                elif item > side[0]:
                    heapq.heapreplace(side, item)

    def drawn(self) -> dict[str, tuple[dict, np.ndarray]]:
        """The micrographs drawn during the run: name -> (views, pick centres)."""
        return {name: (view, self.xy[name]) for name, view in self.views.items() if name in self.xy}

    def galleries(self) -> dict[str, list]:
        return {key: sorted(side, key=lambda it: (-it[0], it[1])) for key, side in
                (("above", self.above), ("below", self.below))}


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def flag_unusual(records: dict[str, dict], threshold: float) -> dict[str, str]:
    """The micrographs a user should look at first, with why: the two with
    the most and the two with the fewest picks removed, and those whose
    mean score lies more than 2.5 standard deviations (over the
    micrographs) from the others'."""
    rows = [(n, r) for n, r in records.items() if r and r["scores"]]
    if len(rows) < 3:
        return {}
    removed = {n: float(np.mean(np.array(r["scores"]) < threshold)) for n, r in rows}
    means = np.array([np.mean(r["scores"]) for _, r in rows])
    order = sorted(removed, key=lambda n: (-removed[n], n))
    flags = {}
    for n in order[:2]:
        flags[n] = f"most removed ({100 * removed[n]:.0f}%)"
    for n in order[::-1][:2]:
        flags.setdefault(n, f"fewest removed ({100 * removed[n]:.0f}%)")
    sd = means.std()
    for (n, _), m in zip(rows, means):
        others = np.delete(means, [i for i, (k, _) in enumerate(rows) if k == n])
        if sd > 0 and abs(m - others.mean()) > 2.5 * max(others.std(), 1e-6):
            flags.setdefault(n, f"mean score {m:.2f}, far from the others' {others.mean():.2f}")
    return flags


def choose_overlays(order: list[str], records: dict[str, dict], flags: dict[str, str], sample: set[str],
                    n: int) -> list[str]:
    """The micrographs drawn with their picks: the unusual ones (up to half
    of ``n``), then the random ``sample``, ``n`` in all, in the run's order."""
    done = [m for m in order if records.get(m)]
    chosen = [m for m in done if m in flags][: n // 2]
    chosen += [m for m in done if m in sample and m not in chosen][: n - len(chosen)]
    return [m for m in done if m in chosen]


def draw_overlays(folder: Path, chosen: list[str], jobs: dict, boxsize_px: int, fill_nonfinite: bool = False,
                  workers: int = 1,
                  drawn: dict[str, tuple[dict, np.ndarray]] | None = None
                  ) -> tuple[dict[str, dict], dict[str, np.ndarray]]:
    """The chosen micrographs' views and pick centres: those this process
    drew during the run (``drawn``, :meth:`Collector.drawn`) as they are,
    pictures another part of the run drew reused (their shape read from the
    header, the picks from their file), the others drawn now, ``workers`` at
    a time. ``jobs``: name -> an :class:`~unpicker.unpicking.UnpickJob`. A
    micrograph or coordinate file that cannot be read is left out."""
    from concurrent.futures import ThreadPoolExecutor

    from ..formats.mrc import MicrographError, read_micrograph, read_shape
    from ..formats.star import StarError

    def one(name: str):
        if drawn and name in drawn:
            return drawn[name]
        job = jobs[name]
        try:
            if (folder / "images" / f"{_file_name(name)}.jpg").exists():
                view = view_info(read_shape(job.mrc_path), _file_name(name), boxsize_px)
            else:       # an unusual micrograph not drawn during the run, or another part's
                (folder / "images").mkdir(parents=True, exist_ok=True)
                view = micrograph_view(read_micrograph(job.mrc_path, fill_nonfinite)[0], folder / "images",
                                       _file_name(name), boxsize_px)
            return view, job.picks().xy
        except (MicrographError, StarError, OSError):
            return None

    with ThreadPoolExecutor(max(1, workers)) as pool:
        found = list(pool.map(one, chosen))
    views = {name: d[0] for name, d in zip(chosen, found) if d is not None}
    xy = {name: d[1] for name, d in zip(chosen, found) if d is not None}
    return views, xy


def merge_galleries(parts: list[dict[str, list]], threshold: float) -> dict[str, list]:
    """The boxes nearest the threshold on either side, of several parts' galleries."""
    out = {}
    for key in ("above", "below"):
        items = [it for part in parts for it in part.get(key, [])]
        out[key] = sorted(items, key=lambda it: (abs(it[2] - threshold), it[1]))[:GALLERY]
    return out


def save_galleries(galleries: dict[str, list], path: Path) -> None:
    """A part's gallery boxes, for the part that writes the report."""
    from ..files import atomic_output

    arrays = {}
    for key, items in galleries.items():
        arrays[f"{key}_scores"] = np.array([it[2] for it in items], np.float64)
        arrays[f"{key}_boxes"] = np.stack([it[3] for it in items]) if items else np.zeros((0, 1, 1), np.float32)
        arrays[f"{key}_names"] = np.array([it[4] for it in items], dtype=str)
        arrays[f"{key}_keys"] = np.array([it[1] for it in items], dtype=str)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def load_galleries(path: Path) -> dict[str, list]:
    with np.load(path) as z:
        return {key: [(0.0, str(k), float(s), b, str(n)) for s, b, n, k in zip(
            z[f"{key}_scores"], z[f"{key}_boxes"], z[f"{key}_names"], z[f"{key}_keys"])] for key in ("above", "below")}


def threshold_command(argv: list[str], keep_all: bool) -> dict:
    """How to apply another threshold: the run's command with ``--threshold``
    replaced (a template with ``{T}``), or after ``--keep_all`` RELION's setting."""
    if keep_all:
        return {"kind": "relion", "template": "RELION Extract: Minimum autopick FOM = {T} (--minimum_pick_fom {T})"}
    args, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--threshold":
            skip = True
            continue
        if a.startswith("--threshold="):
            continue
        args.append(a)
    return {"kind": "command", "template": " ".join(["unpicker_eval.py"] + [shlex.quote(a) for a in args])
            + " --threshold {T} --overwrite"}


def write_report(folder: Path, run: dict, records: dict[str, dict], order: list[str], threshold: float,
                 views: dict[str, dict], xy: dict[str, np.ndarray], galleries: dict[str, list], boxsize_px: int,
                 command: dict) -> Path:
    """Write ``folder/index.html`` (and the galleries' pictures); returns its path.

    ``records``: per micrograph ``{"scores", "kept"}`` (None: it failed);
    ``order``: the micrographs in the run's order; ``views``/``xy``: the
    overlays' pictures and pick centres; ``run``: facts shown as a table."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    flags = flag_unusual(records, threshold)
    gallery = {}
    for key, items in galleries.items():
        if items:
            box_tiles(np.stack([it[3] for it in items]), images / f"gallery_{key}.png")
        gallery[key] = {"image": f"images/gallery_{key}.png" if items else None,
                        "scores": [round(it[2], 4) for it in items], "micrographs": [it[4] for it in items]}
    micrographs = []
    for name in order:
        r = records.get(name)
        if r is None:
            micrographs.append({"name": name, "failed": True})
            continue
        m = {"name": name, "scores": r["scores"], "flag": flags.get(name, "")}
        if name in views and name in xy:
            v = views[name]
            m["overlay"] = {"view": f"images/{v['view']}",
                            "width": v["width"], "height": v["height"], "factor": v["factor"],
                            "xy": np.round(xy[name] / v["factor"], 2).tolist(),
                            "radius": boxsize_px / 2 / v["factor"]}
        micrographs.append(m)
    data = {"run": run, "threshold": threshold, "micrographs": micrographs, "gallery": gallery,
            "command": command, "colours": {"kept": KEPT_COLOUR, "removed": REMOVED_COLOUR}}
    page = PAGE.replace("__TITLE__", html.escape(f"emUnpicker: {run.get('Picks from', 'unpicking')}"))
    page = page.replace("__DATA__", json.dumps(data).replace("</", "<\\/"))
    path = folder / "index.html"
    atomic_write_text(path, page)
    return path


PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="emUnpicker">
<title>__TITLE__</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1400px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { padding: 0.2em 0.7em; text-align: right; border-bottom: 1px solid #eee; }
td:first-child, th:first-child { text-align: left; }
#run td { text-align: left; }
th { cursor: pointer; user-select: none; background: #f4f4f4; }
th.sorted-up::after { content: " \25B2"; } th.sorted-down::after { content: " \25BC"; }
tr.flagged td { background: #fff6e0; }
#controls { position: sticky; top: 0; background: #fff; padding: 0.6em 0; border-bottom: 1px solid #ccc; z-index: 2; }
#threshold { width: 28em; vertical-align: middle; }
#command { display: block; margin-top: 0.4em; padding: 0.3em; background: #f4f4f4; font-size: 0.85em;
           overflow-wrap: anywhere; }
.legend span { display: inline-block; width: 1.4em; height: 0; border-top: 3px solid; margin: 0 0.3em 0.2em 1em; }
.overlays { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figcaption { font-size: 0.85em; }
.overlay { position: relative; display: inline-block; line-height: 0; }
.overlay img { width: 420px; height: auto; }
.overlay svg { position: absolute; left: 0; top: 0; width: 100%; height: 100%; }
.gallery img { image-rendering: pixelated; width: 100%; max-width: 640px; }
</style>
</head>
<body>
<h1>What emUnpicker removed</h1>
<div id="controls">
  <label for="threshold">Threshold</label>
  <input type="range" id="threshold" min="0" max="1" step="0.001">
  <output id="threshold-value"></output>
  &nbsp; Kept <b id="n-kept"></b> of <b id="n-picks"></b> picks, removed <b id="n-removed"></b>
  (<span id="share-removed"></span>)
  <span class="legend"><span id="legend-kept"></span>kept <span id="legend-removed"></span>removed</span>
  <code id="command"></code>
</div>
<h2>The run</h2>
<table id="run"></table>
<h2>Scores</h2>
<svg id="histogram" width="760" height="220" role="img" aria-label="histogram of the scores"></svg>
<h2>Micrographs <small>(unusual ones first; click a heading to sort)</small></h2>
<table id="micrographs"><thead><tr>
  <th data-key="name">micrograph</th><th data-key="picks">picks</th><th data-key="kept">kept</th>
  <th data-key="removed">removed</th><th data-key="share">removed %</th><th data-key="mean">mean score</th>
  <th data-key="flag">look at it because</th></tr></thead><tbody></tbody></table>
<h2>Micrographs with their picks <small>(click one for a larger view)</small></h2>
<div class="overlays" id="overlays"></div>
<h2>Where the model is least sure</h2>
<div class="gallery" id="gallery"></div>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const slider = document.getElementById("threshold");
const svgNS = "http://www.w3.org/2000/svg";
const fmt = (x, d) => Number(x).toFixed(d);
const mics = data.micrographs.filter(m => !m.failed);
const allScores = [].concat(...mics.map(m => m.scores));
let sortKey = null, sortDown = false;

function el(tag, attrs, text) {
  const e = tag.startsWith("svg:") ? document.createElementNS(svgNS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function runTable() {
  const t = document.getElementById("run");
  for (const [k, v] of Object.entries(data.run)) {
    const tr = el("tr"); tr.append(el("th", {}, k), el("td", {}, String(v))); t.append(tr);
  }
}

function rows(t) {
  return data.micrographs.map(m => {
    if (m.failed) return {name: m.name, picks: 0, kept: 0, removed: 0, share: 0, mean: 0, flag: "could not be read"};
    const kept = m.scores.filter(s => s >= t).length, n = m.scores.length;
    const mean = n ? m.scores.reduce((a, b) => a + b, 0) / n : 0;
    return {name: m.name, picks: n, kept: kept, removed: n - kept, share: n ? 100 * (n - kept) / n : 0,
            mean: mean, flag: m.flag || ""};
  });
}

function drawTable(t) {
  const body = document.querySelector("#micrographs tbody");
  let rs = rows(t);
  if (sortKey) {
    rs.sort((a, b) => (a[sortKey] < b[sortKey] ? -1 : a[sortKey] > b[sortKey] ? 1 : 0) * (sortDown ? -1 : 1));
  } else {
    rs.sort((a, b) => (b.flag !== "") - (a.flag !== ""));
  }
  body.replaceChildren(...rs.map(r => {
    const tr = el("tr", {"data-name": r.name, class: r.flag ? "flagged" : ""});
    tr.append(el("td", {}, r.name), el("td", {}, r.picks), el("td", {class: "kept"}, r.kept),
              el("td", {class: "removed"}, r.removed), el("td", {}, fmt(r.share, 1)), el("td", {}, fmt(r.mean, 3)),
              el("td", {}, r.flag));
    return tr;
  }));
}

function drawHistogram(t) {
  const svg = document.getElementById("histogram"), W = 760, H = 220, pad = 30, bins = 50;
  const counts = new Array(bins).fill(0);
  for (const s of allScores) counts[Math.min(bins - 1, Math.floor(s * bins))]++;
  const top = Math.max(1, ...counts), bw = (W - 2 * pad) / bins;
  svg.replaceChildren();
  counts.forEach((c, i) => {
    const h = (H - 2 * pad) * c / top, kept = (i + 0.5) / bins >= t;
    svg.append(el("svg:rect", {x: pad + i * bw, y: H - pad - h, width: bw - 1, height: h,
                               fill: kept ? data.colours.kept : data.colours.removed, opacity: 0.8}));
  });
  const x = pad + t * (W - 2 * pad);
  svg.append(el("svg:line", {id: "threshold-marker", x1: x, x2: x, y1: pad / 2, y2: H - pad, stroke: "#000",
                             "stroke-width": 2}));
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(el("svg:text", {x: pad + v * (W - 2 * pad), y: H - 8, "text-anchor": "middle", "font-size": 12}, v));
  }
  svg.append(el("svg:text", {x: W / 2, y: 14, "text-anchor": "middle", "font-size": 12},
                `${allScores.length} picks: P(particle), the threshold marked`));
}

function drawOverlays() {
  const box = document.getElementById("overlays");
  for (const m of mics.filter(m => m.overlay)) {
    const o = m.overlay, fig = el("figure"), a = el("a", {href: o.view, target: "_blank"});
    const div = el("div", {class: "overlay"});
    const svg = el("svg:svg", {viewBox: `0 0 ${o.width} ${o.height}`, preserveAspectRatio: "none"});
    const dash = `${fmt(o.radius / 3, 1)} ${fmt(o.radius / 4, 1)}`;    // in the picture's pixels, as the radius
    o.xy.forEach(([x, y], i) => svg.append(el("svg:circle", {cx: x, cy: y, r: o.radius, fill: "none",
                                                            "stroke-width": Math.max(1, o.radius / 12),
                                                            "data-score": m.scores[i], "data-dash": dash})));
    div.append(el("img", {src: o.view, alt: m.name, width: 420}), svg);
    a.append(div);
    fig.append(a, el("figcaption", {}, `${m.name}${m.flag ? " (" + m.flag + ")" : ""}`));
    box.append(fig);
  }
}

function colourOverlays(t) {
  for (const c of document.querySelectorAll("#overlays circle")) {
    const kept = Number(c.dataset.score) >= t;
    c.setAttribute("stroke", kept ? data.colours.kept : data.colours.removed);
    c.setAttribute("stroke-dasharray", kept ? "none" : c.dataset.dash);
    c.setAttribute("class", kept ? "kept" : "removed");
  }
}

function drawGallery() {
  const g = document.getElementById("gallery");
  for (const [key, words] of [["above", "Just above the threshold (kept)"], ["below", "Just below it (removed)"]]) {
    const item = data.gallery[key];
    g.append(el("h3", {}, `${words}: ${item.scores.length} boxes, as the network sees them`));
    if (item.image) g.append(el("img", {src: item.image, alt: words}));
    g.append(el("p", {}, "scores: " + item.scores.map(s => fmt(s, 3)).join(", ")));
  }
  g.append(el("p", {}, `Drawn at the run's threshold, ${fmt(data.threshold, 3)}.`));
}

function update() {
  const t = Number(slider.value);
  const kept = allScores.filter(s => s >= t).length, n = allScores.length;
  document.getElementById("threshold-value").textContent = fmt(t, 3);
  document.getElementById("n-kept").textContent = kept;
  document.getElementById("n-picks").textContent = n;
  document.getElementById("n-removed").textContent = n - kept;
  document.getElementById("share-removed").textContent = (n ? fmt(100 * (n - kept) / n, 1) : "0") + "% removed";
  document.getElementById("command").textContent = data.command.template.replaceAll("{T}", fmt(t, 3));
  drawTable(t); drawHistogram(t); colourOverlays(t);
}

document.getElementById("legend-kept").style.borderColor = data.colours.kept;
document.getElementById("legend-removed").style.borderColor = data.colours.removed;
document.getElementById("legend-removed").style.borderTopStyle = "dashed";
for (const th of document.querySelectorAll("#micrographs th")) {
  th.addEventListener("click", () => {
    sortDown = sortKey === th.dataset.key ? !sortDown : ["picks", "kept", "removed", "share", "mean", "flag"]
      .includes(th.dataset.key);
    sortKey = th.dataset.key;
    for (const o of document.querySelectorAll("#micrographs th")) o.className = "";
    th.className = sortDown ? "sorted-down" : "sorted-up";
    drawTable(Number(slider.value));
  });
}
slider.value = data.threshold;
slider.addEventListener("input", update);
runTable(); drawOverlays(); drawGallery(); update();
</script>
</body>
</html>
"""
