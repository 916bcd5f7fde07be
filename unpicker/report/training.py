"""The training report, beside the model (``unpickModel.out_report/index.html``):
the training curves, the validation micrographs' confusion table at the
stored threshold, and the validation errors as pictures — the picks the
user removed that the model would keep, and those kept that it would
remove: what to fix in the cleaning, or what the model gets wrong."""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from ..files import atomic_write_text
from .images import box_tiles

ERRORS_SHOWN = 32


def _polyline(xs, ys, x_max, y_max, width, height, pad, colour) -> str:
    points = " ".join(f"{pad + (width - 2 * pad) * x / max(x_max, 1):.1f},"
                      f"{height - pad - (height - 2 * pad) * y / max(y_max, 1e-9):.1f}"
                      for x, y in zip(xs, ys) if np.isfinite(y))
    return f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'


def curves_svg(history: list[dict]) -> str:
    """Loss, minibatch error and validation error against the step, as SVG."""
    if not history:
        return "<p>No steps were logged.</p>"
    w, h, pad = 720, 260, 36
    steps = [r["step"] for r in history]
    parts = [f'<svg width="{w}" height="{h}" role="img" aria-label="training curves">']
    series = [("minibatch loss (x100)", [100 * r["loss"] for r in history], "#009E73"),
              ("minibatch error %", [r["minibatch_error"] for r in history], "#E69F00"),
              ("validation error %", [r["validation_error"] for r in history], "#0072B2")]
    y_max = max(max((v for v in ys if np.isfinite(v)), default=1) for _, ys, _ in series)
    for label, ys, colour in series:
        parts.append(_polyline(steps, ys, steps[-1], y_max, w, h, pad, colour))
    for k, (label, _, colour) in enumerate(series):
        parts.append(f'<text x="{pad + 10 + 210 * k}" y="16" font-size="12" fill="{colour}">{label}</text>')
    parts.append(f'<text x="{w / 2}" y="{h - 6}" font-size="12" text-anchor="middle">step (0 to {steps[-1]})</text>')
    parts.append(f'<text x="4" y="{pad}" font-size="11">{y_max:.0f}</text>'
                 f'<text x="4" y="{h - pad}" font-size="11">0</text></svg>')
    return "".join(parts)


def write_training_report(folder: Path, facts: dict, history: list[dict], boxes: np.ndarray, labels: np.ndarray,
                          prob: np.ndarray, micrographs: list[str], threshold: float) -> Path:
    """Write ``folder/index.html`` and its pictures; returns its path.
    ``boxes``, ``labels``, ``prob``, ``micrographs``: the validation boxes,
    their labels (True: kept by the user), their scores, and each one's micrograph."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels, bool)
    keep = prob >= threshold
    tp, fn = int((labels & keep).sum()), int((labels & ~keep).sum())
    fp, tn = int((~labels & keep).sum()), int((~labels & ~keep).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    keep_all_f1 = 2 * labels.mean() / (1 + labels.mean()) if len(labels) else 0.0
    sections = []
    for key, title, mask, order in (
            ("kept_by_model", "Removed by you, kept by the model", ~labels & keep, -prob),
            ("removed_by_model", "Kept by you, removed by the model", labels & ~keep, prob)):
        idx = np.flatnonzero(mask)
        idx = idx[np.argsort(order[idx], kind="stable")][:ERRORS_SHOWN]
        if len(idx):
            box_tiles(boxes[idx], folder / f"{key}.png")
            shown = ", ".join(f"{micrographs[i]} {prob[i]:.2f}" for i in idx)
            sections.append(f"<h3>{title}: {int(mask.sum())} picks (the {len(idx)} the model is surest of)</h3>"
                            f'<img class="boxes" src="{key}.png" alt="{title}"><p class="small">micrograph and '
                            f"score of each, in order: {html.escape(shown)}</p>")
        else:
            sections.append(f"<h3>{title}: none</h3>")
    facts_rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts.items())
    validation = (f"""<table class="confusion">
<tr><th></th><th>model keeps</th><th>model removes</th></tr>
<tr><th>you kept (P)</th><td>{tp}</td><td>{fn}</td></tr>
<tr><th>you removed (N)</th><td>{fp}</td><td>{tn}</td></tr></table>
<p>At the stored threshold {threshold:.3f}: precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}
(keeping every pick: F1 {keep_all_f1:.3f}), on {len(labels)} validation picks.</p>""" if len(labels) else
                  "<p>No validation picks (--validation_fraction 0).</p>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="emUnpicker">
<title>emUnpicker training: {html.escape(str(facts.get('Model', '')))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1100px; }}
h2 {{ font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }} h3 {{ font-size: 1em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }} td, th {{ padding: 0.2em 0.7em; border-bottom: 1px solid #eee; }}
th {{ text-align: left; background: #f4f4f4; }} .confusion td {{ text-align: right; min-width: 6em; }}
img.boxes {{ image-rendering: pixelated; width: 100%; max-width: 640px; }} .small {{ font-size: 0.8em; }}
</style></head><body>
<h1>How training went</h1>
<h2>The training</h2><table>{facts_rows}</table>
<h2>Training curves</h2>{curves_svg(history)}
<h2>The validation micrographs</h2>{validation}
<h2>Validation errors, as the network sees the boxes</h2>
<p>Removed picks the model would keep are often particles removed by mistake (or the model's confusion);
kept picks it would remove, junk kept by mistake (or particles it cannot tell apart).</p>
{''.join(sections)}
</body></html>
"""
    path = folder / "index.html"
    atomic_write_text(path, page)
    return path
