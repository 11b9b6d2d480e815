"""Where a class's whole-tomogram map comes from: windows with the class, and without.

For ``cnn1-demo`` and ``cnn2-demo`` on the sample tomogram, at the default layer, window
and stride, each class's Respond-CAM map explained in every window is split in two: the
blend of the windows with a particle of the class in their central cube (half-side
``LABEL_RADIUS``, the training labels' radius), and the blend of the others. For each
part: how many windows, their mean logit for the class, the positive mass of the part's
map, and its enrichment on the class's particles (dilated as ``demo_targets.py`` does;
1 = chance). The two parts add up to ``explain_volume(target=class)``.

Usage: ``python docs/class_map_windows.py [--out docs/paper_measurements.md]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from demo_targets import MODELS, dilated, scenes

from napari_respond_cam import explain, load_model, target_layers
from napari_respond_cam.paper_metrics import enrichment, measured_by, write_section
from napari_respond_cam.tiling.blending import BlendWeights
from napari_respond_cam.tiling.stitching import add_windows
from napari_respond_cam.tiling.windows import window_grid

LABEL_RADIUS = 10


def window_maps(model, volume: np.ndarray):
    """Every window of the default grid: its first voxel, its blend weights and, from one
    ``explain`` of all windows, its map of every class."""
    size = model.input_shape[-1]
    grid = window_grid(volume.shape, (size,) * 3, None)
    axes = grid.axis_indices(np.arange(len(grid)))
    starts = grid.positions(axes)
    weights = BlendWeights(grid)
    cubes = np.stack([volume[tuple(slice(s, s + size) for s in start)] for start in starts])
    found = explain(model, cubes[:, None], target_layers(model)[-1], target="all", batch_size=16)
    return starts, weights.expand(torch.from_numpy(weights.rows(axes))).numpy(), found


def blend(maps: np.ndarray, starts: np.ndarray, weights, shape, part: np.ndarray) -> np.ndarray:
    """The windows in ``part`` blended as ``explain_volume`` blends them (the rest: 0)."""
    out = np.zeros(shape)
    add_windows(out, (0,) * len(shape), starts[part], maps[part] * weights[part])
    return out


def split_maps(model, scene) -> list[str]:
    """One table row per class present: the class's map split by the windows' contents."""
    starts, weights, found = window_maps(model, scene.volume)
    centre = np.asarray(found.heatmap.shape[-3:]) / 2
    rows = []
    for index in np.unique(scene.class_indices):
        centres = scene.positions[scene.class_indices == index]
        offsets = np.abs(starts[:, None] + centre - centres[None]).max(axis=2)
        holds = (offsets <= LABEL_RADIUS).any(axis=1)
        region = dilated(scene.labels == index + 1)
        cells = []
        for part in (holds, ~holds):
            heatmap = blend(found.heatmap[:, index], starts, weights, scene.volume.shape, part)
            cells += [
                f"{part.sum()}",
                f"{found.logits[part, index].mean():.2f}",
                f"{np.clip(heatmap, 0, None).sum():.3g}",
                f"{enrichment(heatmap, region):.1f}",
            ]
        rows.append(f"| {model.class_names[index]} | " + " | ".join(cells) + " |")
    return rows


def table() -> str:
    """Both models' splits on the sample tomogram, as one Markdown table."""
    sample = scenes()[0]
    halves = ["windows", "mean logit", "positive mass", "enrichment"]
    lines = [
        "Each class's Respond-CAM map of the sample tomogram, explained in every window, "
        f"split between the windows with a particle of the class within {LABEL_RADIUS} "
        "voxels of their centre along every axis (*with*) and the others (*without*):",
        "",
        "| model | class | "
        + " | ".join(f"{h} with" for h in halves)
        + " | "
        + " | ".join(f"{h} without" for h in halves)
        + " |",
        "|" + " --- |" * (2 + 2 * len(halves)),
    ]
    for label, name in MODELS.items():
        lines += [f"| {label} |{row[1:]}" for row in split_maps(load_model(name), sample)]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the table into this Markdown file")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    start = time.perf_counter()
    result = table()
    print(result)
    if args.out:
        command = f"python docs/class_map_windows.py --out {args.out}"
        write_section(
            args.out,
            "class_map_windows",
            measured_by(command, time.perf_counter() - start) + result,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
