"""Memory and speed of a dense-output explanation of a whole tomogram, against its floor.

A small 3D U-Net (``models/unet.py``) explained over a 512 x 512 x 256 tomogram with
64^3 windows and a region target on the tomogram's grid: the whole volume, and a ball
in its middle (windows the ball does not touch are not run). The tomogram and the mask
are memory-mapped ``.npy`` files (int8 and bool, gentle on disk), the heatmap a float32
memory-mapped ``.npy`` (``--out memmap``) or an array (``--out array``).

Each case runs in a fresh Python process, so that its peak resident memory (VmHWM)
counts that run alone: Python, torch, the model, the tiler's batches, the pages of the
tomogram and mask it read, and the output. Target (issue 13): peak RSS within the
output's size + 1 GiB. Then, in the same process (after the peak is read), the floor:
the bare forward + backward to the layer over the same windows, cut in advance and held
on the device (window_floor.py); the tiled run's time over the floor's is its overhead.
Whole runs of the two take turns ``--repeats`` times; the table gives medians.

    python benchmarks/dense_volume_memory.py --overlap none   # CPU: 256 windows, minutes
    python benchmarks/dense_volume_memory.py --device cuda --window 64 96
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from speed_timing import time_once
from window_floor import WindowFloor

from napari_respond_cam import explain_volume, region_target
from napari_respond_cam.models.unet import UNet3D
from napari_respond_cam.tiling.volume_explainer import default_batch_size
from napari_respond_cam.tiling.windows import window_grid

#: The explained channel of the U-Net's three (the model is random; any would do).
CHANNEL = 1
#: The U-Net's widths: enc1, enc2, bottleneck (dec2 and dec1 mirror them).
CHANNELS = {"cpu": (4, 8, 16), "cuda": (8, 16, 32)}
CASES = {"whole": "whole volume", "ball": "a ball in the middle"}
GIB = 2**30


def write_inputs(folder: Path, shape_zyx: tuple[int, ...]) -> None:
    """The int8 noise tomogram and the bool ball mask, written slab by slab."""
    volume = np.lib.format.open_memmap(folder / "tomogram.npy", "w+", np.int8, shape_zyx)
    mask = np.lib.format.open_memmap(folder / "mask.npy", "w+", np.bool_, shape_zyx)
    rng = np.random.default_rng(0)
    centre = (np.array(shape_zyx) - 1) / 2
    radius = min(shape_zyx) / 3
    y, x = np.ogrid[: shape_zyx[1], : shape_zyx[2]]
    for z in range(shape_zyx[0]):
        volume[z] = rng.integers(-128, 128, size=shape_zyx[1:], dtype=np.int8)
        mask[z] = (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= radius**2
    volume.flush()
    mask.flush()
    del volume, mask


def peak_rss_bytes() -> int:
    """This process's peak resident memory (VmHWM), memory-mapped file pages included."""
    return _status_kib("VmHWM") * 1024


def rss_bytes() -> int:
    return _status_kib("VmRSS") * 1024


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def run_case(args: argparse.Namespace, folder: Path, case: str, window: int) -> dict:
    """One case in this (fresh) process: the tiled run, its peak memory, then the floor."""
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = UNet3D(3, channels=args.channels).to(device).eval()
    volume = np.load(folder / "tomogram.npy", mmap_mode="r")
    mask = np.load(folder / "mask.npy", mmap_mode="r") if case == "ball" else None
    stride = window if args.overlap == "none" else None
    batch = args.batch_size or default_batch_size(device.type)
    settings = dict(window=window, stride=stride, batch_size=batch, device=device)
    # one window first, so that one-off set-up (kernels, allocator, lazy imports) is not timed
    explain_volume(model, np.zeros((window,) * 3, np.float32), args.layer,
                   target=region_target(CHANNEL), **settings)  # fmt: skip
    before = rss_bytes()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def explain() -> tuple:
        out = None
        if args.out == "memmap":
            path = folder / f"heatmap-{case}-{window}.npy"
            out = np.lib.format.open_memmap(path, "w+", np.float32, volume.shape)
        return explain_volume(model, volume, args.layer, target=region_target(CHANNEL, mask),
                              out=out, return_windows=True, **settings)  # fmt: skip

    first, (heatmap, windows) = time_once(explain, device)
    peak = peak_rss_bytes()
    gpu = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    # sum-to-score over the tomogram: the map sums to Y minus the summed bias
    expected = windows.total_score - windows.total_bias
    gap = abs(float(np.sum(heatmap, dtype=np.float64)) - expected) / abs(windows.total_score)
    del heatmap
    floor = WindowFloor(model, volume, args.layer, window=(window,) * 3, batch_size=batch,
                        device=device, target=region_target(CHANNEL),
                        starts=windows.starts)  # fmt: skip
    floor.warm_up()
    times: dict[str, list[float]] = {"explain_volume": [first], "floor": []}
    for turn in range(args.repeats):
        if turn:
            times["explain_volume"].append(time_once(explain, device)[0])
        times["floor"].append(time_once(floor, device)[0])
    return {
        "case": case,
        "window": window,
        "windows": len(windows),
        "grid": len(window_grid(volume.shape, (window,) * 3, stride)),
        "times": times,
        "before": before,
        "peak": peak,
        "gpu": gpu,
        "output": int(np.prod(volume.shape)) * 4,
        "sum_gap": gap,
    }


def run_in_fresh_process(argv: list[str], folder: Path, case: str, window: int) -> dict:
    """``run_case`` in a new Python process (its last line of output: the result as JSON)."""
    command = [sys.executable, __file__, *argv, "--run-case", case, str(window), str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{case}, window {window}: exit status {done.returncode}\n"
                           f"{done.stderr[-3000:]}")  # fmt: skip
    return json.loads(done.stdout.splitlines()[-1])


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return ", ".join(Path("/proc/loadavg").read_text().split()[:3])


def header(args: argparse.Namespace, argv: list[str], loads: tuple[str, str]) -> str:
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
    parameters = sum(p.numel() for p in UNet3D(3, channels=args.channels).parameters())
    stride = "the window (edge to edge)" if args.overlap == "none" else "half the window"
    batch = args.batch_size or default_batch_size(device.type)
    command = shlex.join(["python", "benchmarks/dense_volume_memory.py", *argv])
    return (
        f"`{command}`\n\n{name}{threads}, torch {torch.__version__}; load average "
        f"{loads[0]} before, {loads[1]} after. U-Net (models/unet.py) widths "
        f"{tuple(args.channels)}, {parameters} parameters, 3 output channels, channel "
        f"{CHANNEL} explained at layer {args.layer}; tomogram x y z = "
        f"{' x '.join(map(str, args.shape))} int8 (memmap), heatmap float32 {args.out}; "
        f"stride {stride}, batch {batch}; times are medians of {args.repeats} runs, "
        "the first run's for explain_volume included."
    )


def table(results: list[dict], on_cuda: bool) -> str:
    gpu = " peak GPU GiB |" if on_cuda else ""
    lines = [
        "| window | region | windows run | explain_volume s | floor s | × floor "
        "| RSS before GiB | peak RSS GiB | output GiB | peak RSS - output | target |"
        f"{gpu} map sum vs Y - bias |",
        "|---" * (12 + on_cuda) + "|",
    ]
    for r in results:
        explain, floor = (float(np.median(r["times"][k])) for k in ("explain_volume", "floor"))
        rest = (r["peak"] - r["output"]) / GIB
        gpu = f" {r['gpu'] / GIB:.2f} |" if on_cuda else ""
        lines.append(
            f"| {r['window']}^3 | {CASES[r['case']]} | {r['windows']} of {r['grid']} "
            f"| {explain:.1f} | {floor:.1f} | {explain / floor:.2f} | {r['before'] / GIB:.3f} "
            f"| {r['peak'] / GIB:.3f} "
            f"| {r['output'] / GIB:.3f} | {rest:.3f} | <= 1 GiB |{gpu} {r['sum_gap']:.1e} |"
        )
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--shape", type=int, nargs=3, default=(512, 512, 256),
                        metavar=("X", "Y", "Z"), help="tomogram x y z (512 512 256)")  # fmt: skip
    parser.add_argument("--window", type=int, nargs="+", default=[64], help="sides (64)")
    parser.add_argument(
        "--overlap", choices=("half", "none"), default="half",
        help="stride: half a window (explain_volume's default) or a whole one",
    )  # fmt: skip
    parser.add_argument(
        "--channels", type=int, nargs=3, help="U-Net widths (CPU 4 8 16, CUDA 8 16 32)"
    )
    parser.add_argument("--layer", default="dec1")
    parser.add_argument("--batch-size", type=int, help="explain_volume's default when left out")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--out", choices=("memmap", "array"), default="memmap")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each, in turns (1)")
    parser.add_argument("--run-case", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.channels = args.channels or CHANNELS[torch.device(args.device).type]
    return args


def main(argv: list[str] | None = None) -> str:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    if args.run_case:
        case, window, folder = args.run_case
        print(json.dumps(run_case(args, Path(folder), case, int(window))))
        return ""
    loads = load_average()
    with tempfile.TemporaryDirectory() as folder:
        write_inputs(Path(folder), tuple(args.shape[::-1]))
        results = [
            run_in_fresh_process(argv, Path(folder), case, window)
            for window in args.window
            for case in args.cases
        ]
    on_cuda = torch.device(args.device).type == "cuda"
    text = f"{header(args, argv, (loads, load_average()))}\n\n{table(results, on_cuda)}"
    print(text)
    return text


if __name__ == "__main__":
    main()
