"""explain_layers(): several target layers from one forward and one backward pass."""

import numpy as np
import pytest
import torch
from torch import nn

from napari_respond_cam import RespondCamError, explain, region_target, target_layers
from napari_respond_cam.engine.explain_layers import explain_layers
from napari_respond_cam.engine.options import METHOD_LABELS, PERTURBATION_METHODS
from napari_respond_cam.models.paper_cnns import CNN1
from toy_models import TinyUNet

ONE_PASS_METHODS = [m for m in METHOD_LABELS if m not in PERTURBATION_METHODS]
X = torch.rand(3, 1, 8, 8, 8, generator=torch.Generator().manual_seed(3))


def tiny_cnn1(bias: bool = True) -> CNN1:
    """The paper's CNN-1, a few channels wide, on 8^3 inputs (in-place ReLUs included)."""
    torch.manual_seed(0)
    model = CNN1(3, input_size=8, channels=(2, 3, 3, 4), dense=(8, 8)).eval()
    if not bias:
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if name.endswith("bias"):
                    parameter.zero_()
    return model


def hook_counts(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


class _CountBackward(torch.autograd.Function):
    """The identity; counts how often autograd runs back through it."""

    calls = 0

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        _CountBackward.calls += 1
        return grad


class CountingCNN1(CNN1):
    """CNN-1 that counts its forward passes and the backward passes through its output."""

    def __init__(self):
        torch.manual_seed(0)
        super().__init__(3, input_size=8, channels=(2, 3, 3, 4), dense=(8, 8))
        self.forwards = 0

    def forward(self, x):
        self.forwards += 1
        return _CountBackward.apply(super().forward(x))


class TwoBranches(nn.Module):
    """A learned branch and a parameter-free one side by side, joined in the head: the
    second branch's layer is not downstream of the first."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(1, 2, 3, padding=1)
        self.smooth = nn.AvgPool3d(3, stride=1, padding=1)
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        joined = torch.cat([self.conv(x).relu(), self.smooth(x)], dim=1)
        return self.fc(joined.mean(dim=(2, 3, 4)))


class WithDeadEnd(CNN1):
    """CNN-1 with a layer whose output is computed and thrown away."""

    def __init__(self):
        torch.manual_seed(0)
        super().__init__(3, input_size=8, channels=(2, 3, 3, 4), dense=(8, 8))
        self.side = nn.Conv3d(3, 1, 1)

    def forward(self, x):
        features = self.maxpool1(self.conv2(self.conv1(x)))
        self.side(features)
        features = self.maxpool2(self.conv4(self.conv3(features)))
        return self.fc3(self.fc2(self.fc1(self.flatten(features))))


def hand_model() -> nn.Module:
    """x -> a = 2x -> b = 3a + 1 -> score = sum(b), on two positions of a 1D signal."""
    a, b = nn.Conv1d(1, 1, 1, bias=False), nn.Conv1d(1, 1, 1)
    head = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        a.weight.fill_(2.0)
        b.weight.fill_(3.0)
        b.bias.fill_(1.0)
        head.weight.fill_(1.0)
    return nn.Sequential(a, b, nn.Flatten(), head).double()


@pytest.mark.parametrize("method", ["respond", "grad"])
def test_two_layers_by_hand(method):
    x = np.array([[1.0, 2.0]])
    result = explain_layers(hand_model(), x, ["0", "1"], method=method)
    # a = (2, 4), b = (7, 13), score 20; G_b = (1, 1), G_a = 3 G_b = (3, 3).
    # Respond-CAM: w_b = 20/20 = 1, w_a = 18/6 = 3; Grad-CAM: the means, the same 1 and 3.
    for layer in result.values():
        np.testing.assert_allclose(layer.scores, [20.0])
    np.testing.assert_allclose(result["1"].cam, [[7.0, 13.0]], rtol=1e-6)
    np.testing.assert_allclose(result["1"].bias, [0.0], atol=1e-6)
    np.testing.assert_allclose(result["0"].cam, [[6.0, 12.0]], rtol=1e-6)
    # The bias of b, once per position, lies beyond the layer a: 20 - 18.
    np.testing.assert_allclose(result["0"].bias, [2.0], rtol=1e-6)
    assert result["0"].layer == "0" and result["1"].method == method


@pytest.mark.parametrize(
    ("method", "target"),
    [(method, [2, 0, 1]) for method in ONE_PASS_METHODS]
    + [(method, target) for method in ("respond", "grad") for target in (None, "all")],
)
def test_every_layer_equals_explain_at_that_layer_alone(method, target):
    model = tiny_cnn1()
    several = explain_layers(model, X, target=target, method=method)
    assert list(several) == target_layers(model)
    assert "conv1.0" in several and "maxpool2" in several
    for name, layer in several.items():
        alone = explain(model, X, name, target=target, method=method)
        assert layer.layer == name and layer.cam.shape == alone.cam.shape
        np.testing.assert_allclose(layer.cam, alone.cam, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(layer.heatmap, alone.heatmap, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(layer.bias, alone.bias, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(layer.scores, alone.scores)
        np.testing.assert_array_equal(layer.targets, alone.targets)


@pytest.mark.parametrize(
    ("model", "layers", "target"),
    [
        (TwoBranches(), ["smooth", "conv"], None),
        (TinyUNet(), ["enc", "bottleneck", "up", "dec"], region_target(1)),
    ],
    ids=["side-by-side branches", "u-net with a region target"],
)
def test_layers_off_each_others_path_and_dense_outputs(model, layers, target):
    several = explain_layers(model, X, layers, target=target)
    for name in layers:
        alone = explain(model, X, name, target=target)
        np.testing.assert_allclose(several[name].cam, alone.cam, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(several[name].bias, alone.bias, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("target", [None, "all"])
def test_one_forward_pass_and_one_backward_pass_for_all_layers(target):
    model = CountingCNN1().eval()
    layers = ["conv1", "conv2", "maxpool1", "conv3", "conv4", "maxpool2"]
    _CountBackward.calls = 0
    explain_layers(model, X, layers, target=target)
    assert (model.forwards, _CountBackward.calls) == (1, 1)
    explain_layers(model, X, layers, target=target, batch_size=2)
    assert (model.forwards, _CountBackward.calls) == (3, 3)  # two chunks: 3 samples by 2


@pytest.mark.parametrize("layers", [None, ["conv1.0", "conv2", "maxpool1", "conv4", "maxpool2"]])
def test_respond_cam_sums_to_the_score_at_every_layer_of_a_bias_free_relu_network(layers):
    # Without biases a ReLU/max-pool network is positively homogeneous: every layer's
    # sum(A * G) is the whole score, so beta = 0 and the maps sum to the score.
    several = explain_layers(tiny_cnn1(bias=False), X.double(), layers, target="all")
    for layer in several.values():
        np.testing.assert_allclose(layer.cam_sums, layer.scores, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(layer.bias, 0.0, atol=1e-5)


def test_with_biases_the_maps_sum_to_score_minus_each_layers_own_bias():
    several = explain_layers(tiny_cnn1(), X, target="all")
    biases = []
    for layer in several.values():
        np.testing.assert_allclose(layer.cam_sums, layer.scores - layer.bias, atol=1e-4)
        biases.append(layer.bias)
    # The deeper the layer, the fewer biases beyond it: beta differs from layer to layer.
    assert not np.allclose(biases[0], biases[-1], atol=1e-3)


def test_model_left_as_found_and_input_unchanged():
    model = tiny_cnn1().train()
    model.fc1[2].eval()
    flags = [m.training for m in model.modules()]
    x = X.clone()
    explain_layers(model, x, target="all")
    torch.testing.assert_close(x, X, rtol=0, atol=0)
    assert hook_counts(model) == 0
    assert [m.training for m in model.modules()] == flags
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    assert torch.is_grad_enabled()


def test_order_kept_duplicates_dropped_and_modules_accepted():
    model = tiny_cnn1()
    several = explain_layers(model, X, ["maxpool2", model.conv1, "conv1", "maxpool2"])
    assert list(several) == ["maxpool2", "conv1"]


def test_no_layers():
    x = X.clone()
    with pytest.raises(RespondCamError, match=r"No target layer was given.*layers=None"):
        explain_layers(tiny_cnn1(), x, [])
    torch.testing.assert_close(x, X, rtol=0, atol=0)


def test_unknown_layer_among_several():
    model = tiny_cnn1()
    with pytest.raises(RespondCamError, match=r"no layer named 'conv5'.*Did you mean"):
        explain_layers(model, X, ["conv1", "conv5"])
    assert hook_counts(model) == 0


def test_a_layer_the_score_does_not_depend_on_is_named():
    model = WithDeadEnd().eval()
    x = X.clone()
    with pytest.raises(RespondCamError, match="does not depend on the layer 'side'"):
        explain_layers(model, x, ["conv1", "side", "maxpool2"])
    torch.testing.assert_close(x, X, rtol=0, atol=0)
    assert hook_counts(model) == 0 and all(p.grad is None for p in model.parameters())


def test_a_layer_without_a_spatial_output_is_named():
    model = tiny_cnn1()
    with pytest.raises(RespondCamError, match=r"'fc1' gives shape \(3, 8\), not a spatial map"):
        explain_layers(model, X, ["conv1", "fc1"])
    assert hook_counts(model) == 0 and torch.is_grad_enabled()


@pytest.mark.parametrize("method", sorted(PERTURBATION_METHODS))
def test_a_perturbation_method_is_refused_with_the_way_round(method):
    model = tiny_cnn1()
    message = r"cannot share one forward.*choose one of 'respond'.*once per layer"
    with pytest.raises(RespondCamError, match=message):
        explain_layers(model, X, ["conv1", "conv2"], method=method)
    assert hook_counts(model) == 0


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_on_cuda_every_layer_matches_the_cpu_and_the_model_returns(precision):
    model = tiny_cnn1()
    on_cpu = explain_layers(model, X, target="all")
    on_gpu = explain_layers(model, X, target="all", device="cuda", precision=precision)
    tolerance = {"fp32": 1e-4, "bf16": 5e-2}[precision]
    for name, layer in on_gpu.items():
        scale = np.abs(on_cpu[name].cam).max()
        np.testing.assert_allclose(layer.cam, on_cpu[name].cam, atol=tolerance * scale)
        assert layer.cam.dtype == np.float32
    assert next(model.parameters()).device.type == "cpu"
