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
    same_weights_note,
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


def test_methods_of_the_same_weights_are_said_to_agree_only_when_both_are_compared():
    assert same_weights_note(["respond", "grad"]) is None
    assert same_weights_note(["xgrad", "grad"]) is None
    assert same_weights_note(["grad", "xgrad", "respond"]) == (
        "XGrad-CAM and Respond-CAM: the same channel weights (sum of A·G over sum of A), so "
        "their maps and numbers agree but for rounding."
    )


def test_xgrad_and_respond_weights_agree_but_for_respond_cams_epsilon():
    import torch

    from napari_respond_cam.engine.cam_weights import respond_weights, xgrad_weights

    activations = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0)) * 10
    gradients = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(
        respond_weights(activations, gradients), xgrad_weights(activations, gradients),
        rtol=1e-4, atol=0,
    )  # fmt: skip
