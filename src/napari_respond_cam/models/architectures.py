"""Architectures that state dicts can be loaded into: the paper's CNN-1 and CNN-2, and a
small 3D U-Net."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import RespondCamError, setting
from .paper_cnns import CNN1, CNN2, config_from_state_dict
from .unet import UNet3D, unet_config_from_state_dict


@dataclass(frozen=True)
class Architecture:
    """A model class that state dicts can be loaded into."""

    name: str
    build: Callable[..., nn.Module]
    config_from_state_dict: Callable[[Mapping[str, torch.Tensor]], dict[str, Any]]
    description: str


ARCHITECTURES: dict[str, Architecture] = {
    "cnn1": Architecture(
        "cnn1",
        CNN1,
        lambda state: config_from_state_dict(state, input_pool=False),
        "CNN-1 of the Respond-CAM paper",
    ),
    "cnn2": Architecture(
        "cnn2",
        CNN2,
        lambda state: config_from_state_dict(state, input_pool=True),
        "CNN-2 of the Respond-CAM paper (average pool after the input)",
    ),
    "unet3d": Architecture(
        "unet3d",
        UNet3D,
        unet_config_from_state_dict,
        "a small two-level 3D U-Net with a per-voxel output",
    ),
}


#: Architectures whose bare weights also fit another at another input side: CNN-2's are
#: CNN-1's at half its side (its average pool halves the input before the same layers).
SAME_WEIGHTS_AT_ANOTHER_SIZE: dict[str, tuple[str, float]] = {
    "cnn1": ("cnn2", 2.0),
    "cnn2": ("cnn1", 0.5),
}


def architecture(name: str) -> Architecture:
    """The architecture registered under ``name``, with a clear error otherwise."""
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        known = ", ".join(repr(a) for a in ARCHITECTURES)
        raise RespondCamError(
            f"Unknown architecture {name!r}; registered: {known} ({setting('architecture')})."
        ) from None
