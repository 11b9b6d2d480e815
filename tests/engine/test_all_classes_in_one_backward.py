"""All classes from one batched backward pass, equal to one call per class."""

import numpy as np
import pytest
import torch

from napari_respond_cam import explain
from toy_models import DenseHead

X = torch.rand(3, 1, 8, 8, 8, generator=torch.Generator().manual_seed(4))


def model() -> DenseHead:
    torch.manual_seed(1)
    return DenseHead(dims=3, classes=5).eval()


class _Unbatchable(torch.autograd.Function):
    """The identity, whose backward reads a number out of the gradient: fine in a plain
    backward pass, impossible in a batched one (vmap cannot turn a tensor into a float)."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float(grad.abs().max() >= 0)


class WithUnbatchableOp(DenseHead):
    def forward(self, x):
        features = self.pool(self.relu(self.conv(x)))
        return self.fc2(self.relu(self.fc1(_Unbatchable.apply(features).flatten(1))))


@pytest.fixture
def backward_passes(monkeypatch):
    calls = []
    grad = torch.autograd.grad

    def counting(*args, **kwargs):
        calls.append(kwargs.get("is_grads_batched", False))
        return grad(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", counting)
    return calls


@pytest.mark.parametrize("method", ["respond", "grad"])
def test_all_classes_take_one_backward_pass_and_equal_one_call_per_class(method, backward_passes):
    every = explain(model(), X, "pool", target="all", method=method)
    assert backward_passes == [True]
    for k in range(5):
        one = explain(model(), X, "pool", target=k, method=method)
        np.testing.assert_allclose(every.cam[:, k], one.cam, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(every.bias[:, k], one.bias, rtol=1e-5, atol=1e-6)


def test_a_model_whose_ops_do_not_batch_gets_one_backward_pass_per_class(backward_passes):
    torch.manual_seed(1)
    unbatchable = WithUnbatchableOp(dims=3, classes=5).eval()
    every = explain(unbatchable, X, "pool", target="all")
    assert backward_passes == [True, False, False, False, False, False]
    reference = explain(model(), X, "pool", target="all")  # same weights, no custom op
    np.testing.assert_allclose(every.cam, reference.cam, rtol=1e-5, atol=1e-7)
