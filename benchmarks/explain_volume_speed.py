"""explain_volume against its floor: the bare forward + backward on the same windows.

Prints one Markdown table: windows per second of ``explain_volume`` on a memory-
mapped MRC tomogram and of the floor, and the peak resident memory against the
output's size. Targets: overhead over the floor at most 10 %, peak RSS at most
output size + 1 GB.

The floor slices the same windows from a copy of the volume held on the device,
runs the forward pass with the target layer's output as a gradient leaf, and takes
the gradient of the predicted-class scores down to that layer: the least any CAM
of those windows costs. ``explain_volume`` adds reading from disk, the CAM weights
and maps, upsampling, blending and adding to the output.

The two are measured side by side, batch by batch: ``explain_volume``'s progress
callback runs the floor on the windows of the batch just done and times both, so
load from other programs on a shared machine hits both alike. Time spent in the
callback is not counted as ``explain_volume``'s.

Peak RSS is read after a first, plain run of ``explain_volume``, before the floor's
copy of the volume exists; it counts the pages of the memory-mapped input the run
touched.

    python benchmarks/explain_volume_cpu.py                      # CPU, 256 x 256 x 128
    python benchmarks/explain_volume_cpu.py --device cuda --shape 512 512 256

On a CPU shared with other programs, every extra tensor operation can wait for a
core to wake a second thread; ``--threads 1`` shows the overhead without that.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import dask.array as da
import numpy as np
import torch

from napari_respond_cam import explain_volume
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.mrc_io import read_mrc, write_mrc
from napari_respond_cam.tiling.windows import window_grid

# The paper's CNN-1 at 40^3 takes minutes per tomogram on two CPU cores; the CPU run
# uses the same architecture, narrower and at 32^3.
MODELS = {
    "small": {"input_size": 32, "channels": (8, 8, 16, 16), "dense": (64, 64)},
    "paper": {"input_size": 40, "channels": (32, 32, 64, 64), "dense": (512, 512)},
}
LAYER = "maxpool2"


def build_model(name: str, device: str) -> CNN1:
    torch.manual_seed(0)
    return CNN1(num_classes=5, **MODELS[name]).to(device).eval()


class Floor:
    """The bare forward + backward to the layer on given windows of a device-resident volume."""

    def __init__(self, model: CNN1, volume: torch.Tensor):
        self.model, self.volume = model, volume
        self.window = model.input_shape[1:]
        grid = window_grid(volume.shape, self.window, None)
        self.starts = grid.positions(grid.axis_indices(range(len(grid))))
        self.layer = model.get_submodule(LAYER)

    def __call__(self, first: int, stop: int) -> None:
        d, h, w = self.window
        batch = torch.stack(
            [self.volume[z : z + d, y : y + h, x : x + w] for z, y, x in self.starts[first:stop]]
        )[:, None]
        captured = []

        def leaf(module, args, output):
            captured.append(output.detach().requires_grad_(True))
            torch.set_grad_enabled(True)
            return captured[0]

        handle = self.layer.register_forward_hook(leaf)
        try:
            with torch.no_grad():
                logits = self.model(batch)
        finally:
            handle.remove()
        scores = logits.gather(1, logits.detach().argmax(1, keepdim=True))
        torch.autograd.grad(scores.sum(), captured[0])
        _synchronise(self.volume.device)


class SideBySide:
    """A progress callback timing each batch of explain_volume, then the floor on it."""

    def __init__(self, floor: Floor):
        self.floor = floor
        self.explain_seconds: list[float] = []
        self.floor_seconds: list[float] = []
        self._done = 0
        self._resumed = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if done > 0:
            self.explain_seconds.append(time.perf_counter() - self._resumed)
            started = time.perf_counter()
            self.floor(self._done, done)
            self.floor_seconds.append(time.perf_counter() - started)
        self._done = done
        self._resumed = time.perf_counter()


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def write_tomogram(path: Path, shape_zyx: tuple[int, ...]) -> Path:
    """Random noise written slab by slab, so the tomogram is never whole in this process."""
    noise = da.random.default_rng(0).normal(size=shape_zyx, chunks=(16, *shape_zyx[1:]))
    return write_mrc(path, noise.astype(np.float32), voxel_size=10.0)


def measure(args: argparse.Namespace, model_name: str, batch_size: int) -> dict:
    on_cuda = args.device.startswith("cuda")
    model = build_model(model_name, args.device)
    shape_zyx = tuple(args.shape[::-1])
    with tempfile.TemporaryDirectory() as folder:
        path = write_tomogram(Path(folder) / "tomogram.mrc", shape_zyx)
        warm_up = np.random.default_rng(1).normal(size=model.input_shape[1:])
        explain_volume(model, warm_up.astype(np.float32), LAYER, device=args.device)
        before = _rss_bytes()
        started = time.perf_counter()
        explain_volume(model, read_mrc(path).data, LAYER, batch_size=batch_size, device=args.device)
        _synchronise(torch.device(args.device))
        plain_seconds = time.perf_counter() - started
        peak = _peak_rss_bytes()
        gpu = torch.cuda.max_memory_allocated() if on_cuda else 0
        on_device = torch.from_numpy(np.array(read_mrc(path).data)).to(args.device)
        paired = SideBySide(Floor(model, on_device))
        explain_volume(
            model,
            read_mrc(path).data,
            LAYER,
            batch_size=batch_size,
            device=args.device,
            progress=paired,
        )
    return {
        "windows": len(paired.floor.starts),
        "explain": np.array(paired.explain_seconds),
        "floor": np.array(paired.floor_seconds),
        "plain": plain_seconds,
        "output": int(np.prod(shape_zyx)) * 4,
        "before": before,
        "peak": peak,
        "gpu": gpu,
    }


def report(args: argparse.Namespace, model_name: str, batch_size: int, m: dict) -> None:
    on_cuda = args.device.startswith("cuda")
    gib = 2**30
    n = m["windows"]
    overhead = m["explain"].sum() / m["floor"].sum() - 1
    median_ratio = np.median(m["explain"] / m["floor"]) - 1
    device = torch.cuda.get_device_name() if on_cuda else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"\n{device}, torch {torch.__version__}; CNN-1 '{model_name}' {MODELS[model_name]}, "
        f"layer {LAYER}; tomogram x y z = {' x '.join(map(str, args.shape))}, {n} windows "
        f"(stride half a window), batch {batch_size}.\n"
    )
    print("| measure | value | target |")
    print("|---|---|---|")
    print(f"| floor (forward + backward), windows/s | {n / m['floor'].sum():.1f} | |")
    print(f"| explain_volume from an MRC memmap, windows/s | {n / m['explain'].sum():.1f} | |")
    print(f"| overhead over the floor (totals) | {overhead:+.1%} | <= +10% |")
    print(f"| overhead over the floor (median per batch) | {median_ratio:+.1%} | |")
    print(f"| explain_volume alone (first run), windows/s | {n / m['plain']:.1f} | |")
    print(f"| output size | {m['output'] / gib:.3f} GiB | |")
    print(f"| RSS before explain_volume (Python, torch, model) | {m['before'] / gib:.3f} GiB | |")
    limit = (m["output"] + gib) / gib
    print(f"| peak RSS (first run) | {m['peak'] / gib:.3f} GiB | <= {limit:.3f} GiB |")
    rest = (m["peak"] - m["before"] - m["output"]) / gib
    print(f"| peak RSS - RSS before - output size | {rest:.3f} GiB | |")
    if on_cuda:
        print(f"| peak GPU memory allocated (first run) | {m['gpu'] / gib:.3f} GiB | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--shape",
        type=int,
        nargs=3,
        default=(256, 256, 128),
        metavar=("X", "Y", "Z"),
        help="tomogram size x y z (default 256 256 128)",
    )
    parser.add_argument("--model", choices=MODELS, help="default: small on CPU, paper on CUDA")
    parser.add_argument("--batch-size", type=int, help="default: 8 on CPU, 32 on CUDA")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    on_cuda = args.device.startswith("cuda")
    model_name = args.model or ("paper" if on_cuda else "small")
    batch_size = args.batch_size or (32 if on_cuda else 8)
    report(args, model_name, batch_size, measure(args, model_name, batch_size))


if __name__ == "__main__":
    main()
