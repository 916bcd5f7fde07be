"""A line-by-line re-implementation of the 2016 emUnpicker's image path, kept
as the speed reference for bench_boxes.py (not used by the package).

What it does, as the original did: float64 complex FFTs with fftshift, one
full forward/inverse round trip per filter, statistics recomputed after each
step, boxes cut one at a time with a mid-range fill at the edges, scaled by
the micrograph min/max, resized one at a time (bilinear, through PIL as
scipy.misc.imresize did), and the result grown with numpy.append.
"""
from __future__ import annotations

import numpy as np
from PIL import Image


def _radius(shape):
    y, x = np.indices(shape, dtype=np.float32)
    return (x - shape[1] / 2) ** 2 + (y - shape[0] / 2) ** 2


def _edges(size, apix, resolution_A, edge_width=2):
    ires = int(round(size * apix / resolution_A))
    lo = max((ires - edge_width / 2) / size, 0.0)
    hi = (ires + edge_width / 2) / size
    return lo, hi, hi - lo


def lowpass(data, apix, resolution_A):
    ft = np.fft.fftshift(np.fft.fft2(data))
    size = data.shape[0]                   # the original assumed square images
    lo, hi, width = _edges(size, apix, resolution_A)
    r = np.sqrt(_radius(ft.shape)) / size
    sel = r > lo
    ft[sel] *= 0.5 + 0.5 * np.cos(np.pi * (r[sel] - lo) / width)
    ft[r > hi] = 0
    return np.fft.ifft2(np.fft.ifftshift(ft)).real


def highpass(data, apix, resolution_A):
    ft = np.fft.fftshift(np.fft.fft2(data))
    size = data.shape[0]
    lo, hi, width = _edges(size, apix, resolution_A)
    r = np.sqrt(_radius(ft.shape)) / size
    sel = r < hi
    ft[sel] *= 0.5 + 0.5 * np.cos(np.pi * (r[sel] - hi) / width)
    ft[r < lo] = 0
    return np.fft.ifft2(np.fft.ifftshift(ft)).real


def stats(data):
    return data.mean(), data.std(), data.min(), data.max()


def boxes_original(image, xy, boxsize, resized, apix, lowpass_A, highpass_A, sigma):
    data = image.astype(np.float32)
    stats(data)
    if lowpass_A > 0:
        data = lowpass(data, apix, lowpass_A)
        stats(data)
    if highpass_A > 0:
        data = highpass(data, apix, highpass_A)
        stats(data)
    mean, sd, lo, hi = stats(data)
    if sigma > 0:
        data = np.clip(data, mean - sigma * sd, mean + sigma * sd)
        mean, sd, lo, hi = stats(data)
    span = hi - lo
    ny, nx = data.shape
    out = 0
    for x, y in xy:
        r0, c0 = int(y) - boxsize // 2, int(x) - boxsize // 2
        box = np.full((boxsize, boxsize), lo + span / 2, np.float32)
        rs, cs = max(r0, 0), max(c0, 0)
        re, ce = min(r0 + boxsize, ny), min(c0 + boxsize, nx)
        box[rs - r0:re - r0, cs - c0:ce - c0] = data[rs:re, cs:ce]
        box = (box - lo) / span - 0.5
        small = np.asarray(Image.fromarray(box.astype(np.float32), mode="F").resize((resized, resized), Image.BILINEAR))
        out = small if isinstance(out, int) else np.append(out, small)
    return np.asarray(out).reshape(-1, resized, resized)
