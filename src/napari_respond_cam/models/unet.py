"""A small 3D U-Net with named layers: a dense (per-voxel) output to explain.

enc1 -> pool1 -> enc2 -> pool2 -> bottleneck -> up2 -> dec2 -> up1 -> dec1 -> head.
Each ``enc``/``dec``/``bottleneck`` block is two 3x3x3 convolutions with ``same``
padding, each followed by a ReLU; ``up`` is a 2x transposed convolution whose output
is concatenated with the encoder block of the same size (the skip connection);
``head`` is a 1x1x1 convolution to one logit per class and voxel. The output,
``(N, num_classes, D, H, W)``, is on the input's grid, for any input whose sides
are divisible by :data:`DOWNSAMPLING`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

#: The factor by which the two pools shrink the input; every input side must divide by it.
DOWNSAMPLING = 4


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv3d(out_channels, out_channels, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
    )


class UNet3D(nn.Module):
    """A two-level 3D U-Net for voxel-wise classification.

    Parameters
    ----------
    num_classes : int
        Output channels (one logit per class and voxel).
    in_channels : int
        Input channels.
    channels : three ints
        Widths of ``enc1``, ``enc2`` and ``bottleneck``; ``dec2`` and ``dec1`` mirror
        ``enc2`` and ``enc1``.
    """

    architecture = "unet3d"

    def __init__(
        self, num_classes: int, in_channels: int = 1, channels: Sequence[int] = (8, 16, 32)
    ):
        super().__init__()
        c1, c2, c3 = channels
        self.enc1 = _double_conv(in_channels, c1)
        self.pool1 = nn.MaxPool3d(2)
        self.enc2 = _double_conv(c1, c2)
        self.pool2 = nn.MaxPool3d(2)
        self.bottleneck = _double_conv(c2, c3)
        self.up2 = nn.ConvTranspose3d(c3, c2, kernel_size=2, stride=2)
        self.dec2 = _double_conv(2 * c2, c2)
        self.up1 = nn.ConvTranspose3d(c2, c1, kernel_size=2, stride=2)
        self.dec1 = _double_conv(2 * c1, c1)
        self.head = nn.Conv3d(c1, num_classes, kernel_size=1)
        self.config = {
            "num_classes": num_classes,
            "in_channels": in_channels,
            "channels": list(channels),
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip1 = self.enc1(x)
        skip2 = self.enc2(self.pool1(skip1))
        deep = self.bottleneck(self.pool2(skip2))
        up2 = self.dec2(torch.cat([skip2, self.up2(deep)], dim=1))
        return self.head(self.dec1(torch.cat([skip1, self.up1(up2)], dim=1)))


def unet_config_from_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """Recover :class:`UNet3D` hyper-parameters from the shapes of a state dict."""
    return {
        "num_classes": state["head.weight"].shape[0],
        "in_channels": state["enc1.0.weight"].shape[1],
        "channels": [
            state[f"{block}.0.weight"].shape[0] for block in ("enc1", "enc2", "bottleneck")
        ],
    }
