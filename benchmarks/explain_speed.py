"""How close ``explain`` is to its floor: one forward and one backward pass to the layer.

Times, side by side in one run on the same model, input and device: the floor (forward,
then ``torch.autograd.grad`` of the target scores down to the target layer), ``explain``
with Respond-CAM and Grad-CAM, ``target="all"`` against one call per class, bf16 autocast
(speed, and agreement of its maps with fp32), ``explain_volume`` in windows per second,
and captum's LayerGradCam + interpolation and pytorch-grad-cam's GradCAM where installed.
Models: the paper's CNN-1 (full widths) and a 3D U-Net with a region target.
Prints a Markdown table of times, ratios to the floor and peak GPU memory.

A second table times variants of the floor, each called alternately with the plain fp32
floor in the same run, with the largest difference of its gradient at the layer from the
plain floor's (relative to the largest plain value): cuDNN autotuning, cuDNN without
TF32, channels_last_3d (the floor, and ``explain``), bf16 autocast, the floor with the
layer's output as a gradient leaf (as ``explain`` runs it), CUDA graph replay, and
torch.compile (the leaf floor and ``explain`` on the compiled model; ``--compile``). A
variant that cannot run here, or fails, is a row with a note, never a crash.

This script holds the first table and the command line; the rest is in modules beside it:
speed_cases.py (the models and inputs), speed_floors.py (the floors), speed_timing.py
(timing a call), map_agreement.py (comparing results), speed_baselines.py (captum and
pytorch-grad-cam) and floor_variants.py (the second table).

    python benchmarks/explain_speed.py --device cuda --compile  # CNN-1 40^3 batch 64; U-Net 64^3
    python benchmarks/explain_speed.py --device cpu --small     # tiny sizes: checks it runs
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from floor_variants import variant_table
from map_agreement import bf16_agreement
from speed_baselines import baseline_agreement, baselines
from speed_cases import Case, build_cases
from speed_floors import floor
from speed_timing import failure_note, timed

from napari_respond_cam import explain, explain_volume, region_target
from napari_respond_cam.engine.targets import RegionTarget


@dataclass(frozen=True)
class Row:
    case: str
    what: str
    seconds: float
    floor: float
    peak_mib: float | None
    note: str = ""


def our_cases(case: Case) -> dict[str, Callable[[], object]]:
    run = {
        "explain, Respond-CAM": lambda: explain(case.model, case.x, case.layer, target=case.target),
        "explain, Grad-CAM": lambda: explain(
            case.model, case.x, case.layer, target=case.target, method="grad"
        ),
        "explain, Respond-CAM, bf16": lambda: explain(
            case.model, case.x, case.layer, target=case.target, precision="bf16"
        ),
    }
    if not callable(case.target):
        run[f"all {case.classes} classes in one call"] = lambda: explain(
            case.model, case.x, case.layer, target="all"
        )
        run[f"{case.classes} single-class calls"] = lambda: [
            explain(case.model, case.x, case.layer, target=k) for k in range(case.classes)
        ]
    return run


def volume_rate(case: Case, volume_side: int, device: torch.device) -> tuple[float, int]:
    """explain_volume's windows per second on a random volume, and the number of windows."""
    window = tuple(case.x.shape[2:])
    volume = np.random.default_rng(0).normal(size=(volume_side,) * 3).astype(np.float32)
    # A region target's mask lies on the window's grid here, on the volume's grid in
    # explain_volume: the tiled run explains the same channel over the whole volume.
    target = case.target
    if isinstance(target, RegionTarget):
        target = region_target(target.channel)
    counted = {}

    def run():
        _, windows = explain_volume(
            case.model, volume, case.layer, target=target, window=window,
            batch_size=len(case.x), device=device, return_windows=True,
        )  # fmt: skip
        counted["n"] = len(windows.starts)

    seconds = timed(run, device, repeats=1).seconds
    return counted["n"] / seconds, counted["n"]


def table(rows: list[Row]) -> str:
    """The Markdown table of explain against its floor."""
    lines = ["| model | what | ms | × floor | peak GPU MiB | note |", "|---|---|---|---|---|---|"]
    for r in rows:
        ms = f"{r.seconds * 1e3:.1f}" if r.seconds else "—"
        ratio = f"{r.seconds / r.floor:.2f}" if r.seconds else "—"
        peak = f"{r.peak_mib:.0f}" if r.peak_mib is not None else "—"
        lines.append(f"| {r.case} | {r.what} | {ms} | {ratio} | {peak} | {r.note} |")
    return "\n".join(lines)


def main_rows(case: Case, device: torch.device, repeats: int) -> list[Row]:
    """The floor, explain's cases, the baselines and explain_volume for one case."""
    base = timed(floor(case), device, repeats)
    rows = [Row(case.name, "floor: forward + autograd.grad to the layer", base.seconds,
                base.seconds, base.peak_mib)]  # fmt: skip
    for what, fn in our_cases(case).items():
        t = timed(fn, device, repeats)
        note = bf16_agreement(case) if what.endswith("bf16") else ""
        rows.append(Row(case.name, what, t.seconds, base.seconds, t.peak_mib, note))
    ours = explain(case.model, case.x, case.layer, target=case.target, method="grad").heatmap
    for what, fn in baselines(case).items():
        if isinstance(fn, str):
            rows.append(Row(case.name, what, 0.0, base.seconds, None, fn))
            continue
        try:
            t = timed(fn, device, repeats)
            note = baseline_agreement(t.result, ours, relu=what.startswith("pytorch-grad-cam"))
            rows.append(Row(case.name, what, t.seconds, base.seconds, t.peak_mib, note))
        except Exception as error:  # a third-party tool failing is a result, not a crash
            rows.append(Row(case.name, what, 0.0, base.seconds, None, failure_note(error)))
    rate, n = volume_rate(case, 4 * case.x.shape[2], device)
    floor_rate = len(case.x) / base.seconds
    rows.append(Row(case.name, f"explain_volume, {n} windows", len(case.x) / rate, base.seconds,
                    None, f"{rate:.1f} windows/s vs floor {floor_rate:.1f}"))  # fmt: skip
    return rows


def header(device: torch.device, repeats: int) -> str:
    """The device, torch version, repeats and (on CUDA) the cuDNN flags of the run."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    flags = ""
    if device.type == "cuda":
        cudnn = torch.backends.cudnn
        flags = f"; cudnn.benchmark {cudnn.benchmark}, cudnn.allow_tf32 {cudnn.allow_tf32}"
    threads = f", {torch.get_num_threads()} CPU threads" if device.type == "cpu" else ""
    return f"{name}, torch {torch.__version__}{threads}, median of {repeats} runs{flags}"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--small", action="store_true", help="tiny sizes, to check it runs")
    parser.add_argument("--batch", type=int, help="CNN-1 batch (default 64; 4 with --small)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="time torch.compile variants")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    batch = args.batch or (4 if args.small else 64)
    cases = build_cases(device, args.small, batch)
    rows = [row for case in cases for row in main_rows(case, device, args.repeats)]
    first = f"{header(device, args.repeats)}\n\n{table(rows)}"
    print(first, flush=True)
    second = variant_table(cases, args)
    return f"{first}\n\n{second}"


if __name__ == "__main__":
    main()
