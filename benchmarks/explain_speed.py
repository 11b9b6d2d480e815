"""How close ``explain`` is to its floor: one forward and one backward pass to the layer.

Times, side by side in one run on the same model, input and device: the floor (forward,
then ``torch.autograd.grad`` of the target scores down to the target layer), ``explain``
with Respond-CAM and Grad-CAM, ``target="all"`` against one call per class, bf16 autocast
(speed, and agreement of its maps with fp32), ``explain_volume`` in windows per second,
and captum's LayerGradCam + interpolation and pytorch-grad-cam's GradCAM where installed.
Models: the paper's CNN-1 (full widths) and a 3D U-Net with a region target.
Prints one Markdown table of times, ratios to the floor and peak GPU memory.

    python benchmarks/explain_speed.py --device cuda          # CNN-1 at 40^3, batch 64; U-Net 64^3
    python benchmarks/explain_speed.py --device cpu --small   # tiny sizes: checks it runs
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from napari_respond_cam import explain, explain_volume, region_target
from napari_respond_cam.models.paper_cnns import CNN1


class UNet3D(nn.Module):
    """A two-level 3D U-Net (16, 32, 64 channels) with a skip connection per level."""

    def __init__(self, classes: int = 3):
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv3d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv3d(cout, cout, 3, padding=1), nn.ReLU(inplace=True),
            )  # fmt: skip

        self.enc1, self.enc2, self.bottom = block(1, 16), block(16, 32), block(32, 64)
        self.up2, self.dec2 = nn.ConvTranspose3d(64, 32, 2, stride=2), block(64, 32)
        self.up1, self.dec1 = nn.ConvTranspose3d(32, 16, 2, stride=2), block(32, 16)
        self.out = nn.Conv3d(16, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool3d(e1, 2))
        bottom = self.bottom(F.max_pool3d(e2, 2))
        d2 = self.dec2(torch.cat([e2, self.up2(bottom)], 1))
        return self.out(self.dec1(torch.cat([e1, self.up1(d2)], 1)))


@dataclass(frozen=True)
class Case:
    """One model, its input batch, target layer and target."""

    name: str
    model: nn.Module
    x: torch.Tensor
    layer: str
    target: object
    classes: int


@dataclass(frozen=True)
class Row:
    case: str
    what: str
    seconds: float
    floor: float
    peak_mib: float | None
    note: str = ""


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(
    fn: Callable[[], object], device: torch.device, repeats: int
) -> tuple[float, float | None]:
    """Median seconds of ``fn`` after one warm-up call, and its peak GPU memory in MiB."""
    fn()
    synchronise(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronise(device)
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return float(np.median(times)), peak


def floor(case: Case) -> Callable[[], object]:
    """Forward, then the gradient of the target scores down to the layer: the least a CAM costs."""
    module = dict(case.model.named_modules())[case.layer]

    def run():
        stored = {}
        handle = module.register_forward_hook(lambda m, i, o: stored.setdefault("a", o))
        try:
            output = case.model(case.x)
        finally:
            handle.remove()
        scores = _scores(case, output)
        return torch.autograd.grad(scores.sum(), stored["a"])

    return run


def _scores(case: Case, output: torch.Tensor) -> torch.Tensor:
    if callable(case.target):
        return case.target(output)
    return output.gather(1, output.argmax(1, keepdim=True))[:, 0]


def our_cases(case: Case) -> dict[str, Callable[[], object]]:
    run = {
        "explain, Respond-CAM": lambda: explain(case.model, case.x, case.layer, case.target),
        "explain, Grad-CAM": lambda: explain(
            case.model, case.x, case.layer, case.target, method="grad"
        ),
        "explain, Respond-CAM, bf16": lambda: explain(
            case.model, case.x, case.layer, case.target, precision="bf16"
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


def baselines(case: Case) -> dict[str, Callable[[], object] | str]:
    """captum and pytorch-grad-cam on the same input, or why they could not run."""
    found: dict[str, Callable[[], object] | str] = {}
    module = dict(case.model.named_modules())[case.layer]
    size = tuple(case.x.shape[2:])
    targets = None if callable(case.target) else case.model(case.x).argmax(1)
    try:
        from captum.attr import LayerAttribution, LayerGradCam

        cam = LayerGradCam(case.model, module)
        found["captum LayerGradCam + interpolate"] = lambda: LayerAttribution.interpolate(
            cam.attribute(case.x, target=targets), size, "trilinear"
        )
    except ImportError:
        found["captum LayerGradCam + interpolate"] = "captum not installed"
    try:
        from pytorch_grad_cam import GradCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        grad_cam = GradCAM(model=case.model, target_layers=[module])
        labels = [ClassifierOutputTarget(int(t)) for t in targets] if targets is not None else None
        found["pytorch-grad-cam GradCAM"] = lambda: grad_cam(input_tensor=case.x, targets=labels)
    except ImportError:
        found["pytorch-grad-cam GradCAM"] = "pytorch-grad-cam not installed"
    return found


def agreement(case: Case) -> str:
    """Correlation and max relative error of bf16 maps against fp32 maps."""
    full = explain(case.model, case.x, case.layer, case.target).cam
    half = explain(case.model, case.x, case.layer, case.target, precision="bf16").cam
    correlation = np.corrcoef(full.ravel(), half.ravel())[0, 1]
    relative = np.abs(half - full).max() / np.abs(full).max()
    return f"maps vs fp32: r = {correlation:.4f}, max error {relative:.2%} of max |map|"


def volume_rate(case: Case, volume_side: int, device: torch.device) -> tuple[float, int]:
    """explain_volume's windows per second on a random volume, and the number of windows."""
    window = tuple(case.x.shape[2:])
    volume = np.random.default_rng(0).normal(size=(volume_side,) * 3).astype(np.float32)
    counted = {}

    def run():
        _, windows = explain_volume(
            case.model, volume, case.layer, case.target if callable(case.target) else None,
            window=window, batch_size=len(case.x), device=device, return_windows=True,
        )  # fmt: skip
        counted["n"] = len(windows.starts)

    seconds, _ = timed(run, device, repeats=1)
    return counted["n"] / seconds, counted["n"]


def build_cases(device: torch.device, small: bool, batch: int) -> list[Case]:
    torch.manual_seed(0)
    side, unet_side = (16, 16) if small else (40, 64)
    cnn1 = CNN1(num_classes=5, input_size=side).to(device).eval()
    unet = UNet3D().to(device).eval()
    mask = torch.zeros((unet_side,) * 3, dtype=torch.bool)
    mask[unet_side // 4 : 3 * unet_side // 4] = True
    unet_batch = max(1, batch // 8)
    return [
        Case(f"CNN-1 {side}^3, batch {batch}", cnn1,
             torch.randn(batch, 1, side, side, side, device=device), "maxpool2", None, 5),
        Case(f"U-Net {unet_side}^3, batch {unet_batch}, region target", unet,
             torch.randn(unet_batch, 1, unet_side, unet_side, unet_side, device=device),
             "enc2", region_target(1, mask.numpy()), 3),
    ]  # fmt: skip


def table(rows: list[Row]) -> str:
    lines = ["| model | what | ms | × floor | peak GPU MiB | note |", "|---|---|---|---|---|---|"]
    for r in rows:
        ms = f"{r.seconds * 1e3:.1f}" if r.seconds else "—"
        ratio = f"{r.seconds / r.floor:.2f}" if r.seconds else "—"
        peak = f"{r.peak_mib:.0f}" if r.peak_mib is not None else "—"
        lines.append(f"| {r.case} | {r.what} | {ms} | {ratio} | {peak} | {r.note} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--small", action="store_true", help="tiny sizes, to check it runs")
    parser.add_argument("--batch", type=int, help="CNN-1 batch (default 64; 4 with --small)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    batch = args.batch or (4 if args.small else 64)
    rows = []
    for case in build_cases(device, args.small, batch):
        base, peak = timed(floor(case), device, args.repeats)
        rows.append(Row(case.name, "floor: forward + autograd.grad to the layer", base, base, peak))
        for what, fn in our_cases(case).items():
            seconds, peak = timed(fn, device, args.repeats)
            note = agreement(case) if what.endswith("bf16") else ""
            rows.append(Row(case.name, what, seconds, base, peak, note))
        for what, fn in baselines(case).items():
            if isinstance(fn, str):
                rows.append(Row(case.name, what, 0.0, base, None, fn))
                continue
            try:
                seconds, peak = timed(fn, device, args.repeats)
                rows.append(Row(case.name, what, seconds, base, peak))
            except Exception as error:  # a third-party tool failing is a result, not a crash
                rows.append(Row(case.name, what, 0.0, base, None, f"failed: {error}"[:80]))
        rate, n = volume_rate(case, 4 * case.x.shape[2], device)
        floor_rate = len(case.x) / base
        rows.append(Row(case.name, f"explain_volume, {n} windows", len(case.x) / rate, base, None,
                        f"{rate:.1f} windows/s vs floor {floor_rate:.1f}"))  # fmt: skip
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    header = f"{name}, torch {torch.__version__}, median of {args.repeats} runs\n\n"
    result = header + table(rows)
    print(result)
    return result


if __name__ == "__main__":
    main()
