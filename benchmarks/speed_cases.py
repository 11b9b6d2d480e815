"""The models, inputs, target layers and targets that explain_speed.py times.

The paper's CNN-1 (full widths) with its predicted class, and a 3D U-Net with a region
target; ``--small`` shrinks both to tiny inputs, to check that the script runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from napari_respond_cam import region_target
from napari_respond_cam.models.paper_cnns import CNN1

Scores = Callable[[torch.Tensor], torch.Tensor]


class UNet3D(nn.Module):
    """A two-level 3D U-Net (16, 32, 64 channels by default) with a skip connection per level."""

    def __init__(self, classes: int = 3, width: int = 16):
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv3d(cin, cout, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv3d(cout, cout, 3, padding=1), nn.ReLU(inplace=True),
            )  # fmt: skip

        w1, w2, w3 = width, 2 * width, 4 * width
        self.enc1, self.enc2, self.bottom = block(1, w1), block(w1, w2), block(w2, w3)
        self.up2, self.dec2 = nn.ConvTranspose3d(w3, w2, 2, stride=2), block(2 * w2, w2)
        self.up1, self.dec1 = nn.ConvTranspose3d(w2, w1, 2, stride=2), block(2 * w1, w1)
        self.out = nn.Conv3d(w1, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool3d(e1, 2))
        bottom = self.bottom(F.max_pool3d(e2, 2))
        d2 = self.dec2(torch.cat([e2, self.up2(bottom)], 1))
        return self.out(self.dec1(torch.cat([e1, self.up1(d2)], 1)))


@dataclass(frozen=True)
class Case:
    """One model, its input batch, target layer and target.

    ``score``, when given, computes the same scores as the callable ``target`` with
    everything already on the device (no host-to-device copy per call), for the floors,
    the baselines and CUDA graph capture; ``explain`` gets ``target``.
    """

    name: str
    model: nn.Module
    x: torch.Tensor
    layer: str
    target: object
    classes: int
    score: Scores | None = None


def region_score(channel: int, mask: torch.Tensor) -> Scores:
    """``region_target(channel, mask)`` with the mask kept on the device."""
    weights = mask.float()

    def score(output: torch.Tensor) -> torch.Tensor:
        selected = output[:, channel]
        return (selected * weights.to(selected.dtype)).flatten(1).sum(dim=1)

    return score


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
             "enc2", region_target(1, mask.numpy()), 3, region_score(1, mask.to(device))),
    ]  # fmt: skip
