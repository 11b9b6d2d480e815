"""Small networks whose CAMs can be checked by hand or by a property."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GapHead(nn.Module):
    """features (a conv) -> global average pool -> linear: CAM's original setting."""

    def __init__(self, dims: int = 2, in_channels: int = 1, width: int = 2, classes: int = 3):
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
        self.features = conv(in_channels, width, kernel_size=1, bias=False)
        self.pool = nn.AdaptiveAvgPool3d(1) if dims == 3 else nn.AdaptiveAvgPool2d(1)
        if dims == 1:
            self.pool = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(width, classes)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


class DenseHead(nn.Module):
    """A CNN-1-like network: conv, ReLU, maxpool, then flatten, dense, ReLU, dense."""

    def __init__(self, dims: int = 3, in_channels: int = 1, size: int = 8, classes: int = 4):
        super().__init__()
        conv = nn.Conv3d if dims == 3 else nn.Conv2d
        pool = nn.MaxPool3d if dims == 3 else nn.MaxPool2d
        self.conv = conv(in_channels, 4, kernel_size=3, padding=1)
        self.relu = nn.ReLU()
        self.pool = pool(2)
        self.fc1 = nn.Linear(4 * (size // 2) ** dims, 16)
        self.fc2 = nn.Linear(16, classes)

    def forward(self, x):
        features = self.pool(self.relu(self.conv(x)))
        return self.fc2(F.relu(self.fc1(features.flatten(1))))


class TinyUNet(nn.Module):
    """A two-level 3D U-Net with a skip connection, bias-free when asked."""

    def __init__(self, classes: int = 2, bias: bool = True):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1, bias=bias), nn.ReLU())
        self.down = nn.MaxPool3d(2)
        self.bottleneck = nn.Sequential(nn.Conv3d(4, 8, 3, padding=1, bias=bias), nn.ReLU())
        self.up = nn.ConvTranspose3d(8, 4, 2, stride=2, bias=bias)
        self.dec = nn.Sequential(nn.Conv3d(8, 4, 3, padding=1, bias=bias), nn.ReLU())
        self.out = nn.Conv3d(4, classes, 1, bias=bias)

    def forward(self, x):
        skip = self.enc(x)
        deep = self.up(self.bottleneck(self.down(skip)))
        return self.out(self.dec(torch.cat([skip, deep], dim=1)))


def sign_classifier(classes: int = 2) -> nn.Sequential:
    """Predicts from the sign of a window's mean: class 0 ("background") where it is
    negative, class 1 where positive; a third class, if any, is never predicted (its
    logit lies between theirs).

    Layer "0" is a 1x1x1 convolution of weight 1, so its Grad-CAM of class ``k`` is
    ``w_k x / n`` per voxel, ``n`` the window's voxels and ``w = (-1, 1, 0.5)``.
    """
    model = nn.Sequential(nn.Conv3d(1, 1, 1, bias=False), nn.AdaptiveAvgPool3d(1), nn.Flatten())
    model.append(nn.Linear(1, classes, bias=False))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[3].weight.copy_(torch.tensor([[-1.0], [1.0], [0.5]][:classes]))
    return model.eval()


class AsksForTooMuchMemory(nn.Module):
    """Wraps ``model``; asks the CPU allocator for an impossible block on batches over
    ``limit`` samples, so out-of-memory paths run for real on any machine."""

    def __init__(self, model: nn.Module, limit: int):
        super().__init__()
        self.model, self.limit, self.batches = model, limit, []
        if getattr(model, "input_shape", None) is not None:
            self.input_shape = model.input_shape

    def forward(self, x):
        self.batches.append(len(x))
        if len(x) > self.limit:
            torch.empty(1 << 62, dtype=torch.uint8)
        return self.model(x)
