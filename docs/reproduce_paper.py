"""Reproduce the Respond-CAM paper's measurements with our demo models.

For CNN-1 and CNN-2 (the shipped ``cnn1-demo`` and ``cnn2-demo``), on fresh simulated
subtomograms (40^3 windows of simulated tomograms, centred on particles, and a background
share) at SNR infinity and 0.1, with Grad-CAM and Respond-CAM at ``maxpool2``:

- sum-to-score as the paper measured it: per sample ``L1 = mean_c |sum(L^c) - y^c|`` and
  Kendall's tau between the per-class CAM sums and the scores, with and without
  subtracting the bias term ``beta``; mean and standard deviation over the test set;
- localisation: the share of the positive heatmap mass (for the true class) inside the
  ground-truth mask of that class in the window, against the mask's share of the window
  (chance);
- held-out accuracy.

Usage: ``python docs/reproduce_paper.py [--n 300] [--out docs/paper_measurements.md]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from napari_respond_cam import explain, load_model
from napari_respond_cam.engine.options import METHOD_LABELS
from napari_respond_cam.paper_metrics import (
    measured_by,
    positive_mass_inside,
    sum_to_score_l1,
    sum_to_score_tau,
    write_section,
)
from napari_respond_cam.simulation import simulate_subtomograms

MODELS = {"CNN-1": "cnn1-demo", "CNN-2": "cnn2-demo"}
SNRS = {"inf": None, "0.1": 0.1}
# The two methods the paper compares, baseline first as in its tables.
METHODS = {METHOD_LABELS[m]: m for m in ("grad", "respond")}
TEST_SEED = 424242


def measure(model, data, method: str, batch_size: int) -> dict[str, np.ndarray]:
    """Per-sample sum-to-score and localisation numbers for one model, data set and method."""
    x = data.volumes[:, None]
    every = explain(model, x, "maxpool2", target="all", method=method, batch_size=batch_size)
    particles = data.masks.reshape(len(data.masks), -1).any(axis=1)  # background has none
    true_class = explain(model, x, "maxpool2", target=data.labels, method=method,
                         batch_size=batch_size)  # fmt: skip
    inside = positive_mass_inside(true_class.heatmap, data.masks)
    return {
        "l1": sum_to_score_l1(every),
        "l1_bias": sum_to_score_l1(every, subtract_bias=True),
        "tau": sum_to_score_tau(every),
        "tau_bias": sum_to_score_tau(every, subtract_bias=True),
        "inside": inside[particles],
        "chance": data.masks.reshape(len(data.masks), -1).mean(axis=1)[particles],
        "accuracy": np.array([(every.scores.argmax(1) == data.labels).mean()]),
    }


def _mean_std(values: np.ndarray) -> str:
    values = values[np.isfinite(values)]
    return f"{values.mean():.3g} ± {values.std():.2g}"


def table(rows: list[tuple[str, str, str, dict]]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| model | SNR | method | accuracy | L1 vs y | L1 vs y − β | τ vs y | τ vs y − β "
        "| positive mass in mask | mask share (chance) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for model, snr, method, m in rows:
        lines.append(
            f"| {model} | {snr} | {method} | {m['accuracy'][0]:.3f} | {_mean_std(m['l1'])} "
            f"| {_mean_std(m['l1_bias'])} | {_mean_std(m['tau'])} | {_mean_std(m['tau_bias'])} "
            f"| {_mean_std(m['inside'])} | {_mean_std(m['chance'])} |"
        )
    return "\n".join(lines)


def run(n: int, batch_size: int, models=MODELS) -> list[tuple[str, str, str, dict]]:
    """Measure every model, SNR and method on ``n`` test subtomograms per SNR."""
    torch.manual_seed(0)
    rows = []
    for snr_label, snr in SNRS.items():
        data = simulate_subtomograms(n, snr=snr, include_background=True, seed=TEST_SEED)
        for model_label, name in models.items():
            model = load_model(name)
            for method_label, method in METHODS.items():
                rows.append((model_label, snr_label, method_label,
                             measure(model, data, method, batch_size)))  # fmt: skip
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="test subtomograms per SNR")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--out", type=Path, help="write the table into this Markdown file")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    result = table(run(args.n, args.batch_size))
    print(result)
    if args.out:
        command = f"python docs/reproduce_paper.py --n {args.n} --out {args.out}"
        detail = f"{args.n} subtomograms per SNR"
        header = measured_by(command, time.perf_counter() - start, detail)
        write_section(args.out, "reproduce_paper", header + result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
