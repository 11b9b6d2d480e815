"""The names users choose from have exactly one implementation each, and devices an order."""

import torch

from napari_respond_cam.engine.cam_maps import MAP_RULES
from napari_respond_cam.engine.devices import available_devices, best_device
from napari_respond_cam.engine.options import (
    DEFAULT_METHOD,
    DEFAULT_PRECISION,
    METHOD_LABELS,
    PERTURBATION_METHODS,
    PRECISIONS,
)
from napari_respond_cam.engine.precision import AUTOCAST_DTYPES


def test_every_method_name_has_a_map_rule_or_is_a_perturbation_and_no_rule_is_unnamed():
    assert set(MAP_RULES) | PERTURBATION_METHODS == set(METHOD_LABELS)
    assert not set(MAP_RULES) & PERTURBATION_METHODS
    assert DEFAULT_METHOD in METHOD_LABELS


def test_every_precision_name_has_an_autocast_dtype_and_no_dtype_is_unnamed():
    assert tuple(AUTOCAST_DTYPES) == PRECISIONS
    assert AUTOCAST_DTYPES[DEFAULT_PRECISION] is None


def test_the_best_device_is_a_gpu_when_there_is_one_and_the_cpu_comes_last():
    devices = available_devices()
    assert devices[-1] == "cpu" and best_device() == devices[0]
    assert ("cuda" in devices) == torch.cuda.is_available()
