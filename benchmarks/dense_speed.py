"""Preprocessing on the device and several layers in one pass, timed on a dense U-Net.

Two tables, each timed side by side in one run on the same model and device (the
U-Net of ``models/unet.py``, its channel 1 explained over the whole region):

- ``explain_volume`` with the window preprocessed on the device: ``"none"``,
  ``"zscore-window"``, ``"zscore-tomogram"`` (its statistics pass over the tomogram
  included) and ``"zscore-tomogram"`` with the statistics given, each against ``"none"``.
- ``explain_layers`` at every block of the U-Net (enc1, enc2, bottleneck, dec2, dec1)
  in one forward and one backward pass, against one ``explain`` per layer and against
  the floor: one forward pass and the gradient down to enc1, the earliest of them.

The dense U-Net's whole tomogram against its floor, and its peak memory, are
dense_volume_memory.py's.

    python benchmarks/dense_speed.py --device cuda    # tomogram 256 x 256 x 128, 64^3
    python benchmarks/dense_speed.py --device cpu --small --repeats 1   # checks it runs
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import torch
from dense_volume_memory import CHANNEL, CHANNELS
from speed_cases import Case
from speed_floors import floor
from speed_timing import timed

from napari_respond_cam import explain, explain_volume, region_target
from napari_respond_cam.engine.explain_layers import explain_layers
from napari_respond_cam.engine.preprocessing import NONE, TOMOGRAM_ZSCORE, WINDOW_ZSCORE
from napari_respond_cam.models.unet import UNet3D
from napari_respond_cam.tiling.volume_statistics import volume_statistics

LAYERS = ("enc1", "enc2", "bottleneck", "dec2", "dec1")


def preprocessing_runs(
    model: UNet3D, volume: np.ndarray, window: int, device: torch.device
) -> dict[str, Callable[[], object]]:
    """explain_volume over the whole tomogram with each preprocessing, by row name."""
    statistics = volume_statistics(volume, TOMOGRAM_ZSCORE)

    def run(preprocessing: str, **given: object) -> Callable[[], object]:
        return lambda: explain_volume(
            model, volume, "dec1", target=region_target(CHANNEL), window=window,
            device=device, preprocessing=preprocessing, **given,
        )  # fmt: skip

    return {
        f"{NONE} (the reference)": run(NONE),
        WINDOW_ZSCORE: run(WINDOW_ZSCORE),
        f"{TOMOGRAM_ZSCORE}, statistics pass included": run(TOMOGRAM_ZSCORE),
        f"{TOMOGRAM_ZSCORE}, statistics given": run(TOMOGRAM_ZSCORE, statistics=statistics),
    }


def layer_runs(case: Case) -> dict[str, Callable[[], object]]:
    """The floor, explain_layers at every block and one explain per block, by row name."""
    every = len(LAYERS)
    return {
        "floor: forward + autograd.grad to enc1": floor(case),
        f"explain_layers, {every} layers in one pass": lambda: explain_layers(
            case.model, case.x, LAYERS, target=case.target
        ),
        f"{every} explain calls, one per layer": lambda: [
            explain(case.model, case.x, layer, target=case.target) for layer in LAYERS
        ],
        "explain at dec1 alone": lambda: explain(case.model, case.x, "dec1", target=case.target),
    }


def timed_table(
    title: str, runs: dict[str, Callable[[], object]], device: torch.device, repeats: int
) -> str:
    """Each run's median seconds, against the first run's, as a Markdown table."""
    lines = [f"| {title} | ms | × first row | peak GPU MiB |", "|---|---|---|---|"]
    reference = None
    for what, fn in runs.items():
        t = timed(fn, device, repeats)
        reference = reference or t.seconds
        peak = f"{t.peak_mib:.0f}" if t.peak_mib is not None else "—"
        lines.append(f"| {what} | {t.seconds * 1e3:.1f} | {t.seconds / reference:.2f} | {peak} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--small", action="store_true", help="tiny sizes, to check it runs")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = UNet3D(3, channels=CHANNELS[device.type]).to(device).eval()
    window, shape, batch = (8, (8, 8, 16), 2) if args.small else (64, (128, 256, 256), 8)
    volume = np.random.default_rng(0).normal(5.0, 2.0, size=shape).astype(np.float32)
    x = torch.randn(batch, 1, window, window, window, device=device)
    case = Case("U-Net", model, x, "enc1", region_target(CHANNEL), 3)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    text = "\n\n".join([
        f"{name}, torch {torch.__version__}; U-Net widths {CHANNELS[device.type]}, channel "
        f"{CHANNEL} over the whole region; median of {args.repeats} runs after a warm-up",
        timed_table(f"explain_volume, tomogram z y x = {' x '.join(map(str, shape))}, "
                    f"{window}^3 windows, preprocessing",
                    preprocessing_runs(model, volume, window, device), device, args.repeats),
        timed_table(f"{batch} windows of {window}^3, layers {', '.join(LAYERS)}",
                    layer_runs(case), device, args.repeats),
    ])  # fmt: skip
    print(text)
    return text


if __name__ == "__main__":
    main()
