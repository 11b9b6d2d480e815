"""Respond-CAM and Grad-CAM explanations of 3D convolutional networks, for napari.

The public API is imported lazily so that ``import napari_respond_cam`` (and
napari's start-up, which reads the plugin manifest) never pays for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_PUBLIC = {
    "explain": "napari_respond_cam.engine.explain",
    "explain_volume": "napari_respond_cam.tiling.explain_volume",
    "explain_layers": "napari_respond_cam.engine.explain_layers",
    "predict_volume": "napari_respond_cam.tiling.predict_volume",
    "perturbation_cost": "napari_respond_cam.engine.perturbation_cost",
    "RegionTarget": "napari_respond_cam.engine.targets",
    "Cancelled": "napari_respond_cam.tiling.progress",
    "Explanation": "napari_respond_cam.engine.explanation",
    "Preprocessing": "napari_respond_cam.engine.preprocessing",
    "region_target": "napari_respond_cam.engine.targets",
    "target_layers": "napari_respond_cam.engine.layers",
    "available_models": "napari_respond_cam.models.registry",
    "register_model": "napari_respond_cam.models.registry",
    "load_model": "napari_respond_cam.models.loading",
    "save_model": "napari_respond_cam.models.model_files",
    "RespondCamError": "napari_respond_cam.errors",
    "RespondCamWarning": "napari_respond_cam.errors",
}

__all__ = [
    "Cancelled",
    "Explanation",
    "Preprocessing",
    "RegionTarget",
    "RespondCamError",
    "RespondCamWarning",
    "available_models",
    "explain",
    "explain_layers",
    "explain_volume",
    "load_model",
    "perturbation_cost",
    "predict_volume",
    "region_target",
    "register_model",
    "save_model",
    "target_layers",
]

if TYPE_CHECKING:
    from .engine.explain import explain
    from .engine.explain_layers import explain_layers
    from .engine.explanation import Explanation
    from .engine.layers import target_layers
    from .engine.perturbation_cost import perturbation_cost
    from .engine.preprocessing import Preprocessing
    from .engine.targets import RegionTarget, region_target
    from .errors import RespondCamError, RespondCamWarning
    from .models.loading import load_model
    from .models.model_files import save_model
    from .models.registry import available_models, register_model
    from .tiling.explain_volume import explain_volume
    from .tiling.predict_volume import predict_volume
    from .tiling.progress import Cancelled


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'napari_respond_cam' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
