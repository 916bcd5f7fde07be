"""Benchmark: a simulated user cleaning the micrographs ``--suggest`` names,
against one cleaning micrographs at random.

Each data set's first 8 micrographs are the pool a user may clean, the last
4 are held out (as the learning curve of bench/accuracy.py). For each seed
the user starts from ``--start`` micrographs of a random order of the pool;
then, round after round, cleans one more: the next of that random order
(``random``), or the first untrained one in the list ``unpicker_eval.py
--suggest`` printed after the last training (``suggest``). Every round runs
the three commands as a user does (bench/heldout.py's ``run_once``; the
benchmark's truth plays the user) and scores the held-out micrographs. The
reviewed picks are every pick of the cleaned micrographs.

The table gives, by number of cleaned micrographs, the mean held-out F1 and
ROC AUC over the seeds and the picks reviewed; then the share of random
4-micrograph picks each strategy needed to reach the mean F1 of 4 random
micrographs (the target of issue 32: at most 60%). bench/suggest_loop.png
plots held-out F1 and ROC AUC against the picks reviewed (mean and the
seeds' range).

    .venv/bin/python bench/suggest_loop.py [--datasets sim-lowsnr] [--seeds 0 1 2] [--start 1] [--rounds 3] [--jobs 3] [--reuse]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from heldout import DEFAULT_NETWORK, OUT, prepare, run_once, score_run  # noqa: E402

POOL, HELD_OUT = 8, 4
SUGGESTED = re.compile(r"^\s+\d+\. (\S+): (\d+) picks", re.M)


def picks_of(folder: Path, names: list[str]) -> int:
    """Every pick of these micrographs (what a user reviews to clean them)."""
    return sum(sum(1 for line in (folder / f"{n}_truth.star").read_text().splitlines()
                   if line.strip() and line.split()[-1] in ("P", "N")) for n in names)


def finished(work: Path) -> bool:
    """Whether the run folder holds a finished run: the suggestions
    printed, the checkpoints removed (bench/heldout.py's ``run_once``)."""
    log = work / "log.txt"
    return log.exists() and "Micrographs to clean next" in log.read_text() and not any(work.glob("model.out-*"))


def one_run(dataset: str, seed: int, cleaned: list[str], test: list[str], held_out: list[str], tag: str,
            reuse: bool = False) -> dict:
    work = OUT / "runs" / f"{dataset}_{DEFAULT_NETWORK}_s{seed}_n{len(cleaned)}{tag}"
    if reuse and finished(work):        # the same code trains the same way: score the run already made
        seconds = float("nan")
    else:
        seconds = run_once(dataset, DEFAULT_NETWORK, seed, cleaned, test, tag=tag,
                           extra_eval=["--suggest", str(POOL)])["seconds"]
    scores = score_run(work, held_out)
    scores["suggested"] = SUGGESTED.findall((work / "log.txt").read_text())
    scores["seconds"] = seconds
    return scores


def loop(dataset: str, seed: int, start: int, rounds: int, reuse: bool = False) -> dict:
    folder, _, names, _, _ = prepare(dataset)
    pool, held_out = names[:POOL], names[-HELD_OUT:]
    order = [pool[i] for i in np.random.default_rng(1000 + seed).permutation(len(pool))]
    runs: dict[str, list[dict]] = {"random": [], "suggest": []}
    for k in range(start, start + rounds + 1):           # random: the first k of the order
        rest = [n for n in pool if n not in order[:k]]     # scored too, for --suggest to choose from
        r = one_run(dataset, seed, order[:k], held_out + rest, held_out, f"_rand{k}", reuse)
        r.update(cleaned=order[:k], reviewed=picks_of(folder, order[:k]))
        runs["random"].append(r)
        print(f"{dataset} seed {seed} random  {k}: F1 {r['f1']:.3f} AUC {r['auc']:.3f} "
              f"reviewed {r['reviewed']} ({r['seconds']:.0f} s)", flush=True)
    cleaned = order[:start]
    runs["suggest"].append(runs["random"][0])
    for k in range(start + 1, start + rounds + 1):       # suggest: the first untrained micrograph listed
        listed = [name for name, _ in runs["suggest"][-1]["suggested"] if name in pool and name not in cleaned]
        cleaned = cleaned + listed[:1]
        rest = [n for n in pool if n not in cleaned]
        r = one_run(dataset, seed, cleaned, held_out + rest, held_out, f"_sugg{k}", reuse)
        r.update(cleaned=list(cleaned), reviewed=picks_of(folder, cleaned))
        runs["suggest"].append(r)
        print(f"{dataset} seed {seed} suggest {k}: F1 {r['f1']:.3f} AUC {r['auc']:.3f} "
              f"reviewed {r['reviewed']} ({r['seconds']:.0f} s)", flush=True)
    return runs


def picks_to_reach(runs: list[dict], f1: float) -> float | None:
    """The picks reviewed when this loop's held-out F1 first reached ``f1``."""
    return next((r["reviewed"] for r in runs if r["f1"] >= f1 - 1e-9), None)


def plot(results: dict, png: Path) -> None:
    """Held-out F1 and ROC AUC against the picks reviewed, one line per data
    set and strategy: the mean over seeds, the band their lowest to highest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for dataset, by_seed in results.items():
        for strategy, style in (("random", "o--"), ("suggest", "s-")):
            per_seed = [by_seed[seed][strategy] for seed in by_seed]
            reviewed = np.mean([[r["reviewed"] for r in runs] for runs in per_seed], axis=0)
            for ax, key in zip(axes, ("f1", "auc")):
                values = np.array([[r[key] for r in runs] for runs in per_seed])
                line, = ax.plot(reviewed, values.mean(0), style, label=f"{dataset}, {strategy}")
                ax.fill_between(reviewed, values.min(0), values.max(0), color=line.get_color(), alpha=0.15)
    for ax, name in zip(axes, ("held-out F1", "held-out ROC AUC")):
        ax.set_xlabel("picks reviewed (every pick of the cleaned micrographs)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["sim-lowsnr"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--start", type=int, default=1, help="micrographs cleaned before the first round")
    ap.add_argument("--rounds", type=int, default=3, help="micrographs added one per round")
    ap.add_argument("--jobs", type=int, default=1, help="seeds' loops at once (default 1)")
    ap.add_argument("--reuse", action="store_true",
                    help="score the finished runs already in bench/out/runs instead of running them again "
                    "(only where they were made by the same code)")
    args = ap.parse_args()
    results = {}
    for dataset in args.datasets:
        prepare(dataset)            # once, before the loops share its folder
        # each loop is a chain of subprocess pipelines in its own run folders
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            results[dataset] = dict(zip(args.seeds, pool.map(
                lambda seed: loop(dataset, seed, args.start, args.rounds, args.reuse), args.seeds)))
    (OUT / "suggest_loop.json").write_text(json.dumps(results, indent=1, default=str))
    plot(results, HERE / "suggest_loop.png")
    print("\n| data | strategy | " + " | ".join(f"{k} micrographs: F1 / AUC / picks" for k in
                                               range(args.start, args.start + args.rounds + 1)) + " |")
    print("|---" * (3 + args.rounds) + "|")
    for dataset, by_seed in results.items():
        for strategy in ("random", "suggest"):
            cells = []
            for i in range(args.rounds + 1):
                rs = [by_seed[s][strategy][i] for s in args.seeds]
                f1 = np.array([r["f1"] for r in rs])
                cells.append(f"{f1.mean():.3f} ± {f1.std(ddof=1) if len(rs) > 1 else 0:.3f} / "
                             f"{np.mean([r['auc'] for r in rs]):.3f} / {np.mean([r['reviewed'] for r in rs]):.0f}")
            print(f"| {dataset} | {strategy} | " + " | ".join(cells) + " |")
        last = [by_seed[s]["random"][-1] for s in args.seeds]
        target = float(np.mean([r["f1"] for r in last]))
        base = float(np.mean([r["reviewed"] for r in last]))
        for strategy in ("random", "suggest"):
            need = [picks_to_reach(by_seed[s][strategy], target) for s in args.seeds]
            shown = ", ".join("not reached" if n is None else f"{100 * n / base:.0f}%" for n in need)
            print(f"{dataset} {strategy}: picks reviewed to reach the F1 of {args.start + args.rounds} random "
                  f"micrographs ({target:.3f}), as a share of theirs ({base:.0f}): {shown} by seed")


if __name__ == "__main__":
    main()
