"""The 3D CNNs of the Respond-CAM paper (Zhao et al., MICCAI 2018), in PyTorch.

CNN-1: conv 32, conv 32, maxpool 2, conv 64, conv 64, maxpool 2, dense 512,
dense 512, dense C; 3x3x3 convolutions with ``same`` padding and ReLU.
CNN-2: CNN-1 with a 2x average pool right after the input.
Layers are named as in the paper (``conv1`` ... ``maxpool2``, ``fc1`` ...); each
``convN`` and ``fcN`` block ends with its ReLU, as Keras layers with
``activation="relu"`` do, so targeting ``conv3`` explains the rectified map.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn


def _cube(size: int | Sequence[int]) -> tuple[int, int, int]:
    if isinstance(size, int):
        return (size, size, size)
    sides = tuple(int(s) for s in size)
    if len(sides) != 3:
        raise ValueError(f"input_size must be one int or three (D, H, W), not {size!r}.")
    return (sides[0], sides[1], sides[2])


def _conv_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU(inplace=True)
    )


def _dense_relu(in_features: int, out_features: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_features, out_features), nn.ReLU(inplace=True), nn.Dropout(dropout)
    )


class PaperCNN(nn.Module):
    """CNN-1 of the paper, or CNN-2 with ``input_pool=True``.

    Parameters
    ----------
    num_classes : int
        Number of output logits.
    input_size : int or (int, int, int)
        Spatial size of a subtomogram (D, H, W); each side divisible by 4 (8 for CNN-2).
    in_channels : int
        Input channels.
    channels : four ints
        Widths of ``conv1`` to ``conv4`` (the paper: 32, 32, 64, 64).
    dense : two ints
        Widths of ``fc1`` and ``fc2`` (the paper: 512, 512).
    dropout : float
        Dropout after ``fc1`` and ``fc2`` while training.
    input_pool : bool
        Insert the 2x average pool of CNN-2 after the input.
    """

    def __init__(
        self,
        num_classes: int,
        input_size: int | Sequence[int] = 40,
        in_channels: int = 1,
        channels: Sequence[int] = (32, 32, 64, 64),
        dense: Sequence[int] = (512, 512),
        dropout: float = 0.5,
        input_pool: bool = False,
    ):
        super().__init__()
        size = _cube(input_size)
        factor = 8 if input_pool else 4
        if any(s % factor for s in size):
            raise ValueError(f"input_size {size} must be divisible by {factor} on every side.")
        c1, c2, c3, c4 = channels
        if input_pool:
            self.avgpool = nn.AvgPool3d(2)
        self.conv1 = _conv_relu(in_channels, c1)
        self.conv2 = _conv_relu(c1, c2)
        self.maxpool1 = nn.MaxPool3d(2)
        self.conv3 = _conv_relu(c2, c3)
        self.conv4 = _conv_relu(c3, c4)
        self.maxpool2 = nn.MaxPool3d(2)
        self.flatten = nn.Flatten()
        self.fc1 = _dense_relu(c4 * math.prod(s // factor for s in size), dense[0], dropout)
        self.fc2 = _dense_relu(dense[0], dense[1], dropout)
        self.fc3 = nn.Linear(dense[1], num_classes)
        self.input_shape = (in_channels, *size)
        self.config = {
            "num_classes": num_classes,
            "input_size": list(size),
            "in_channels": in_channels,
            "channels": list(channels),
            "dense": list(dense),
            "dropout": dropout,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self, "avgpool"):
            x = self.avgpool(x)
        x = self.maxpool1(self.conv2(self.conv1(x)))
        x = self.maxpool2(self.conv4(self.conv3(x)))
        return self.fc3(self.fc2(self.fc1(self.flatten(x))))


class CNN1(PaperCNN):
    """The paper's CNN-1 (see :class:`PaperCNN` for the parameters)."""

    architecture = "cnn1"

    def __init__(self, num_classes: int, **kwargs: Any):
        super().__init__(num_classes, input_pool=False, **kwargs)


class CNN2(PaperCNN):
    """The paper's CNN-2: CNN-1 behind a 2x average pool of the input."""

    architecture = "cnn2"

    def __init__(self, num_classes: int, **kwargs: Any):
        super().__init__(num_classes, input_pool=True, **kwargs)


def config_from_state_dict(state: Mapping[str, torch.Tensor], input_pool: bool) -> dict[str, Any]:
    """Recover CNN-1/CNN-2 hyper-parameters from the shapes of a state dict.

    The input size is taken as a cube, which is what the paper and our demo use;
    pass ``input_size`` explicitly for other shapes.
    """
    widths = [state[f"conv{i}.0.weight"].shape[0] for i in range(1, 5)]
    flat = state["fc1.0.weight"].shape[1] // widths[3]
    side = round(flat ** (1 / 3)) * (8 if input_pool else 4)
    return {
        "num_classes": state["fc3.weight"].shape[0],
        "in_channels": state["conv1.0.weight"].shape[1],
        "channels": widths,
        "dense": [state["fc1.0.weight"].shape[0], state["fc2.0.weight"].shape[0]],
        "input_size": side,
    }
