"""explain() leaves the model as it found it, also when something fails."""

import gc
import weakref
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import nn

from napari_respond_cam import RespondCamError, explain
from toy_models import DenseHead


def hook_counts(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


class Exploding(nn.Module):
    """Raises inside the forward pass, after the target layer ran."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(1, 2, 3, padding=1)

    def forward(self, x):
        self.conv(x)
        raise RuntimeError("boom")


def test_hooks_removed_and_no_gradients_left():
    torch.manual_seed(0)
    model = DenseHead()
    explain(model, torch.rand(2, 1, 8, 8, 8), "pool", target="all")
    assert hook_counts(model) == 0
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())


def test_frozen_parameters_stay_frozen_and_still_explain():
    torch.manual_seed(0)
    model = DenseHead().requires_grad_(False)
    result = explain(model, torch.rand(2, 1, 8, 8, 8), "pool")
    assert not any(p.requires_grad for p in model.parameters())
    np.testing.assert_allclose(result.cam_sums, result.scores - result.bias, rtol=1e-4, atol=1e-6)


def test_hooks_removed_and_grad_mode_restored_after_an_error_in_forward():
    model = Exploding().train()
    with pytest.raises(RespondCamError, match="boom"):
        explain(model, torch.rand(1, 1, 4, 4, 4), "conv")
    assert hook_counts(model) == 0
    assert model.training
    assert torch.is_grad_enabled()


def test_training_flags_restored_and_eval_used_during_the_call():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv3d(1, 3, 3, padding=1),
        nn.BatchNorm3d(3),
        nn.ReLU(),
        nn.Dropout3d(0.5),
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Linear(3, 2),
    )
    model.train()
    model[3].eval()
    flags = [m.training for m in model.modules()]
    running_mean = model[1].running_mean.clone()
    x = torch.rand(4, 1, 6, 6, 6)
    first = explain(model, x, "2")
    second = explain(model, x, "2")
    # eval mode: dropout off and batch norm on running statistics, so repeat calls agree
    np.testing.assert_array_equal(first.cam, second.cam)
    assert [m.training for m in model.modules()] == flags
    assert torch.equal(model[1].running_mean, running_mean)


class Marker:
    pass


class KeepsMarker(torch.autograd.Function):
    """Identity whose backward context holds a marker: the marker lives as long as the graph."""

    markers: ClassVar[list] = []

    @staticmethod
    def forward(ctx, x):
        ctx.marker = Marker()
        KeepsMarker.markers.append(weakref.ref(ctx.marker))
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad


class MarkedHead(DenseHead):
    def forward(self, x):
        features = KeepsMarker.apply(self.pool(self.relu(self.conv(x))))
        return self.fc2(torch.relu(self.fc1(features.flatten(1))))


def test_no_graph_kept_alive_after_the_call():
    KeepsMarker.markers.clear()
    explain(MarkedHead(), torch.rand(2, 1, 8, 8, 8), "pool", target="all")
    gc.collect()
    assert len(KeepsMarker.markers) == 1
    assert KeepsMarker.markers[0]() is None


class InPlaceAfterLayer(nn.Module):
    def __init__(self, inplace: bool):
        super().__init__()
        self.conv = nn.Conv3d(1, 3, 3, padding=1)
        self.relu = nn.ReLU(inplace=inplace)
        self.head = nn.Linear(3 * 4**3, 2)

    def forward(self, x):
        features = self.relu(self.conv(x))
        return self.head(features.flatten(1))


def test_in_place_ops_after_the_layer_do_not_corrupt_the_activation():
    torch.manual_seed(0)
    safe = InPlaceAfterLayer(inplace=False)
    in_place = InPlaceAfterLayer(inplace=True)
    in_place.load_state_dict(safe.state_dict())
    x = torch.randn(3, 1, 4, 4, 4)
    expected = explain(safe, x, "conv")
    got = explain(in_place, x, "conv")
    np.testing.assert_allclose(got.cam, expected.cam, rtol=1e-6, atol=1e-7)
    # the conv output has negative values the ReLU would have zeroed in place
    assert (got.cam < 0).any()


def test_input_is_not_modified():
    torch.manual_seed(0)
    x = torch.rand(2, 1, 8, 8, 8)
    copy = x.clone()
    array = x.numpy().copy()
    array_copy = array.copy()
    explain(DenseHead(), x, "pool")
    explain(DenseHead(), array, "pool")
    assert torch.equal(x, copy)
    np.testing.assert_array_equal(array, array_copy)


def test_a_model_on_cpu_asked_for_cpu_stays_put():
    model = DenseHead()
    weight = model.conv.weight
    explain(model, torch.rand(1, 1, 8, 8, 8), "pool", device="cpu")
    assert model.conv.weight is weight
    assert weight.device.type == "cpu"
