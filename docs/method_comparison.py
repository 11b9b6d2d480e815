"""Every CAM method side by side on the demo classifiers (issue 15, item 4).

For ``cnn1-demo`` and ``cnn2-demo``, at their default layer, with every method of
``engine.options.METHOD_LABELS``:

- particle windows: on the sample tomogram napari opens and on a fresh one like it
  (``demo_targets.scenes``, seed ``FRESH_SEED``), the model's input-size window centred on
  the first ``--per-class`` particles of each class in the particle table, each explained
  for its particle's true class by ``compare_methods``: the sum-to-score error, the share
  of the map's positive mass inside that class's ground truth (dilated by ``DILATION``
  voxels) against the mask's share of the window, the deletion and insertion AUCs and the
  ROAD score; mean ± std over the particles;
- the whole sample tomogram: ``explain_volume(target=class, where_predicted=True)`` for
  each class present, at the default window and stride (the map users get in napari and
  from the command line: the windows the model calls the class), and the share of its
  positive mass inside that class's particles (dilated) against their share of the volume.

Usage: ``python docs/method_comparison.py [--per-class 2] [--steps 10]
[--out docs/method_comparison.md]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from demo_targets import MODELS, Scene, dilated, predicted_classes, scenes
from torch import nn

from napari_respond_cam import explain_volume, load_model, target_layers
from napari_respond_cam.cli.compare_command import COLUMNS
from napari_respond_cam.engine.options import METHOD_LABELS, PERTURBATION_METHODS
from napari_respond_cam.faithfulness import MethodScores, compare_methods
from napari_respond_cam.paper_metrics import measured_by, positive_mass_inside, write_section
from napari_respond_cam.simulation.windows import cut_windows

#: Perturbation methods run the model again per ablated channel in every window: on two
#: CPU cores Ablation-CAM's whole-tomogram maps take minutes per model (method_comparison.md).
VOLUME_METHODS = tuple(m for m in METHOD_LABELS if m not in PERTURBATION_METHODS)
#: The measures of a window row, in the order of ``respond-cam compare``'s table.
WINDOW_MEASURES = ("sum_to_score_error", "deletion_auc", "insertion_auc", "road_score")
#: A mass-inside cell whose maps have no positive voxel (an all-negative signed map).
NO_POSITIVE = "n/a"


@dataclass(frozen=True)
class WindowComparison:
    """Every method's rows on the windows of one scene's chosen particles."""

    rows: dict[str, list[MethodScores]]
    mask_shares: np.ndarray
    named: np.ndarray


def chosen_particles(scene: Scene, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` particles of each class in the particle table."""
    picked = [
        np.flatnonzero(scene.class_indices == c)[:per_class] for c in np.unique(scene.class_indices)
    ]
    return np.sort(np.concatenate(picked))


def compare_on_windows(
    model: nn.Module, scene: Scene, particles: np.ndarray, **measures
) -> WindowComparison:
    """Each chosen particle's window explained for its class by every method, one at a time."""
    layer = target_layers(model)[-1]
    size = model.input_shape[-1]
    centres = scene.positions[particles]
    windows = cut_windows(scene.volume, centres, size)[:, None]
    classes = scene.class_indices[particles]
    regions = {c: dilated(scene.labels == c + 1) for c in np.unique(classes)}
    masks = np.stack(
        [
            cut_windows(regions[c], centre[None], size)[0]
            for c, centre in zip(classes, centres, strict=True)
        ]
    )
    rows: dict[str, list[MethodScores]] = {method: [] for method in METHOD_LABELS}
    for window, mask, target in zip(windows, masks, classes.tolist(), strict=True):
        for row in compare_methods(
            model, window[None], layer, target=target, mask=mask, **measures
        ):
            rows[row.method].append(row)
    named = (predicted_classes(model, scene) == scene.class_indices)[particles]
    return WindowComparison(rows, masks.reshape(len(masks), -1).mean(axis=1), named)


def volume_mass(model: nn.Module, scene: Scene, methods: Sequence[str]) -> dict:
    """Per class present and method: the whole-tomogram map's positive mass in its particles."""
    layer = target_layers(model)[-1]
    found = {}
    for index in np.unique(scene.class_indices).tolist():
        region = dilated(scene.labels == index + 1)
        found["share", index] = float(region.mean())
        for method in methods:
            heatmap = explain_volume(
                model, scene.volume, layer, target=index, method=method, where_predicted=True
            )
            found[method, index] = float(positive_mass_inside(heatmap[None], region[None])[0])
    return found


def mean_std(values: Sequence[float]) -> str:
    """``mean ± std`` over the finite values, three significant digits, and how many
    values that is when some are not finite.

    In these tables only the mass inside is ever undefined: for a map with no positive voxel.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if not finite.size:
        return NO_POSITIVE
    text = f"{finite.mean():.3g} ± {finite.std():.2g}"
    return text if finite.size == values.size else f"{text} ({finite.size} of {values.size})"


def window_table(label: str, scene: str, result: WindowComparison) -> str:
    """One model's table on one scene's particle windows."""
    count = len(result.named)
    titles = [COLUMNS[m] for m in WINDOW_MEASURES] + [COLUMNS["mass_inside"], "mass / share"]
    lines = [
        f"**{label}, {scene}**: {count} particle windows; the model names "
        f"{result.named.sum()} of them; the mask's share of the window is "
        f"{mean_std(result.mask_shares)}.",
        "",
        "| method | " + " | ".join(titles) + " |",
        "| --- " * (len(titles) + 1) + "|",
    ]
    for method, rows in result.rows.items():
        cells = [mean_std([getattr(r, m) for r in rows]) for m in WINDOW_MEASURES]
        inside = np.array([r.mass_inside for r in rows], dtype=np.float64)
        cells += [mean_std(inside), mean_std(inside / result.mask_shares)]
        lines.append(f"| {METHOD_LABELS[method]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def volume_table(label: str, class_names: Sequence[str], found: dict, methods) -> str:
    """One model's table on the whole sample tomogram: mass inside (and over the share)."""
    indices = sorted(index for key, index in found if key == "share")
    shares = np.array([found["share", i] for i in indices])
    lines = [
        f"**{label}, whole sample tomogram**: each class's map from the windows the model calls"
        " the class (`explain_volume(target=class, where_predicted=True)`); positive mass"
        " inside the class's particles, and that over their share of the volume (1 = chance).",
        "",
        "| method | " + " | ".join(class_names[i] for i in indices) + " | mean ratio |",
        "| --- " * (len(indices) + 2) + "|",
        "| share of the volume | " + " | ".join(f"{s:.3f}" for s in shares) + " | 1 |",
    ]
    for method in methods:
        mass = np.array([found[method, i] for i in indices])
        cells = [
            f"{m:.3f} ({m / s:.1f}×)" if np.isfinite(m) else NO_POSITIVE
            for m, s in zip(mass, shares, strict=True)
        ]
        ratios = (mass / shares)[np.isfinite(mass)]
        mean = f"{ratios.mean():.1f}" if ratios.size else NO_POSITIVE
        lines.append(f"| {METHOD_LABELS[method]} | " + " | ".join(cells) + f" | {mean} |")
    return "\n".join(lines)


def measure(per_class: int, steps: int, volume_methods: Sequence[str]) -> str:
    """Every table; each part's seconds on stderr as it ends (the whole run takes minutes)."""
    torch.manual_seed(0)
    models = {label: load_model(name) for label, name in MODELS.items()}
    all_scenes = scenes()
    tables = []
    for label, model in models.items():
        for scene in all_scenes:
            start = time.perf_counter()
            particles = chosen_particles(scene, per_class)
            result = compare_on_windows(model, scene, particles, steps=steps, seed=0)
            tables.append(window_table(label, scene.name, result))
            report_time(f"{label}, {scene.name}", start)
        start = time.perf_counter()
        found = volume_mass(model, all_scenes[0], volume_methods)
        tables.append(volume_table(label, model.class_names, found, volume_methods))
        report_time(f"{label}, whole tomogram", start)
    return "\n\n".join(tables)


def report_time(part: str, start: float) -> None:
    """The seconds a part took, on stderr."""
    print(f"{part}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=2, help="particles per class and scene")
    parser.add_argument("--steps", type=int, default=10, help="deletion and insertion steps")
    parser.add_argument(
        "--volume-methods",
        default=",".join(VOLUME_METHODS),
        help="methods mapped over the whole tomogram, with commas",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (one by default: on shared, loaded cores a second thread mostly waits)",
    )
    parser.add_argument("--out", type=Path, help="write the tables into this Markdown file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    volume_methods = args.volume_methods.split(",")
    result = measure(args.per_class, args.steps, volume_methods)
    print(result)
    if args.out:
        command = (
            f"python docs/method_comparison.py --per-class {args.per_class} --steps "
            f"{args.steps} --volume-methods {args.volume_methods} --threads {args.threads} "
            f"--out {args.out}"
        )
        header = measured_by(command, time.perf_counter() - start)
        write_section(args.out, "method_comparison", header + result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
