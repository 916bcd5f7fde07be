"""The reports: their content against the run, and the unpicking report in a
real browser (headless Chromium, where it is installed)."""
from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser

import numpy as np
import pytest

from conftest import run_eval
from unpicker.formats.relion import read_picks


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        self.refs += [v for k, v in attrs if k in ("src", "href") and v and not v.startswith(("http", "#"))]


def page_data(path):
    text = path.read_text()
    data = json.loads(re.search(r'<script id="data" type="application/json">(.*?)</script>', text, re.S).group(1))
    return text, data


@pytest.fixture(scope="module")
def unpicked(trained, tmp_path_factory):
    folder, names, _ = trained
    work = tmp_path_factory.mktemp("report")
    for f in folder.iterdir():
        if f.is_file() and not f.name.startswith("unpickModel.out-") and (
                f.name.startswith("unpickModel") or f.name.endswith((".mrc", "_autopick.star"))):
            shutil.copy(f, work)
    assert run_eval(work, "--train_output", "unpickModel.out", "--write_rejected", "_rejected.star",
                    "--report_micrographs", "4", "--histogram", "") == 0
    return work, names


def test_the_report_holds_what_the_run_wrote(unpicked):
    work, names = unpicked
    text, data = page_data(work / "unpick_report" / "index.html")
    threshold = data["threshold"]
    assert [m["name"] for m in data["micrographs"]] == names
    for m in data["micrographs"]:
        kept, rejected = (read_picks(work / f"{m['name']}{s}") for s in ("_autopick_unpick.star", "_rejected.star"))
        written = np.concatenate([kept.block.floats("unpickerScore"), rejected.block.floats("unpickerScore")])
        np.testing.assert_array_equal(np.sort(m["scores"]), np.sort(written))      # the scores the outputs hold
        assert sum(s >= threshold for s in m["scores"]) == len(kept)
    total = sum(len(m["scores"]) for m in data["micrographs"])
    n_kept = sum(sum(s >= threshold for s in m["scores"]) for m in data["micrographs"])
    assert data["run"]["Picks in / kept / removed"] == f"{total} / {n_kept} / {total - n_kept}"
    overlays = [m for m in data["micrographs"] if "overlay" in m]
    assert len(overlays) == 4
    for m in overlays:       # one circle per pick, at its centre in the view's pixels
        assert len(m["overlay"]["xy"]) == len(m["scores"]) and m["overlay"]["radius"] == pytest.approx(54 / 2)
        picks = read_picks(work / f"{m['name']}_autopick.star")
        np.testing.assert_allclose(m["overlay"]["xy"], picks.xy / m["overlay"]["factor"], atol=0.006)
    flagged = [m["flag"] != "" for m in data["micrographs"]]
    assert any(flagged)
    refs = _Refs()
    refs.feed(text)
    refs.refs += [m["overlay"]["view"] for m in overlays]
    refs.refs += [g["image"] for g in data["gallery"].values() if g["image"]]
    assert refs.refs and all((work / "unpick_report" / r).is_file() for r in refs.refs), refs.refs
    assert len(data["gallery"]["above"]["scores"]) > 0 and all(s >= threshold for s in data["gallery"]["above"]["scores"])
    assert data["command"]["template"].startswith("unpicker_eval.py ") and "--threshold {T}" in data["command"]["template"]


def test_the_training_report_beside_the_model(trained):
    folder, _, log = trained
    page = folder / "unpickModel.out_report" / "index.html"
    assert "Training report: unpickModel.out_report/index.html" in log
    text = page.read_text()
    confusion = text[text.index('class="confusion"'):]
    cells = [int(v) for v in re.findall(r"<td>(\d+)</td>", confusion)[:4]]
    n_val = int(re.search(r"using (\d+) particles for validation", log).group(1))
    assert sum(cells) == n_val                         # the confusion table covers every validation pick
    refs = _Refs()
    refs.feed(text)
    assert all((page.parent / r).is_file() for r in refs.refs)
    assert "<polyline" in text


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    return chromium, playwright


def test_the_report_in_a_browser_and_its_slider(unpicked, tmp_path):
    chromium, playwright = _browser()
    work, names = unpicked
    page_path = work / "unpick_report" / "index.html"
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            problems = []
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            assert problems == []
            assert page.locator("#micrographs tbody tr").count() == len(names)
            assert page.locator("#overlays circle").count() > 0
            assert all(page.locator("#overlays img").nth(i).evaluate("img => img.naturalWidth > 0")
                       for i in range(page.locator("#overlays img").count()))
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            assert (tmp_path / "report.png").stat().st_size > 20000
            # a user moves the slider: the counts become what --threshold at that value writes
            page.locator("#threshold").focus()
            page.keyboard.press("Home")
            for _ in range(700):
                page.keyboard.press("ArrowRight")
            value = float(page.locator("#threshold-value").text_content())
            kept_shown = int(page.locator("#n-kept").text_content())
            removed_circles = page.locator("#overlays circle.removed").count()
            command = page.locator("#command").text_content()
        finally:
            browser.close()
    assert value == pytest.approx(0.7) and f"--threshold {value:.3f}" in command
    assert run_eval(work, "--train_output", "unpickModel.out", "--threshold", f"{value:.3f}", "--output_root",
                    "_slider.star", "--histogram", "", "--no_report") == 0
    assert kept_shown == sum(len(read_picks(work / f"{n}_slider.star")) for n in names)
    _, data = page_data(page_path)
    assert removed_circles == sum(sum(s < value for s in m["scores"]) for m in data["micrographs"] if "overlay" in m)
