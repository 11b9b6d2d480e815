"""Branches, skip connections and region targets; listing the layers a CAM can target."""

import numpy as np
import pytest
import torch
from torch import nn

from napari_respond_cam import RespondCamError, explain, load_model, region_target, target_layers
from toy_models import DenseHead, TinyUNet

MASK = np.zeros((8, 8, 8), dtype=bool)
MASK[2:6, 2:6, 2:6] = True


def test_region_target_is_the_masked_channel_sum():
    torch.manual_seed(0)
    model = TinyUNet(classes=2)
    x = torch.rand(2, 1, 8, 8, 8)
    result = explain(model, x, "bottleneck", target=region_target(1, MASK))
    with torch.no_grad():
        expected = model(x)[:, 1][:, torch.from_numpy(MASK)].sum(dim=1)
    np.testing.assert_allclose(result.scores, expected.numpy(), rtol=1e-5)
    assert result.targets is None
    assert result.cam.shape == (2, 4, 4, 4)
    assert result.heatmap.shape == (2, 8, 8, 8)


def test_skip_connection_layer_sums_to_the_score_when_the_rest_is_homogeneous():
    # Without biases everything after `enc` is positively homogeneous of degree one in its
    # output, which feeds both the skip and the deep path: y = sum(A * G) exactly (Euler),
    # which holds only if the gradient took both paths.
    torch.manual_seed(1)
    model = TinyUNet(classes=2, bias=False).double()
    x = torch.rand(3, 1, 8, 8, 8, dtype=torch.float64)
    result = explain(model, x, "enc", target=region_target(0, MASK))
    np.testing.assert_allclose(result.bias, 0.0, atol=1e-10)
    np.testing.assert_allclose(result.cam_sums, result.scores, rtol=1e-6)


def test_region_target_without_mask_and_a_block_as_layer():
    torch.manual_seed(2)
    model = TinyUNet(classes=3)
    x = torch.rand(1, 1, 8, 8, 8)
    result = explain(model, x, "dec", target=region_target(2))
    with torch.no_grad():
        assert result.scores[0] == pytest.approx(model(x)[:, 2].sum().item(), rel=1e-5)
    np.testing.assert_allclose(result.cam_sums, result.scores - result.bias, rtol=1e-4)


def test_region_mask_of_the_wrong_shape():
    with pytest.raises(RespondCamError, match=r"mask has shape \(4, 4\)"):
        target = region_target(0, np.ones((4, 4)))
        explain(TinyUNet(), torch.rand(1, 1, 8, 8, 8), "enc", target=target)


def test_paper_cnn1_layers_with_the_pool_last():
    with pytest.warns(UserWarning, match="random weights"):
        model = load_model("cnn1")
    names = target_layers(model)
    assert names == [
        "conv1", "conv1.0", "conv1.1", "conv2", "conv2.0", "conv2.1", "maxpool1",
        "conv3", "conv3.0", "conv3.1", "conv4", "conv4.0", "conv4.1", "maxpool2",
    ]  # fmt: skip


def test_unet_layers_are_probed_without_a_declared_input_shape():
    names = target_layers(TinyUNet())
    assert names[0] == "enc"
    assert {"down", "bottleneck", "up", "dec"} <= set(names)
    # The head gives the model's output itself: not a default, still explainable by name.
    assert names[-1] == "dec.1" and "out" not in names
    cam = explain(TinyUNet(), torch.rand(1, 1, 8, 8, 8), "out", target=region_target(1)).cam
    assert cam.shape == (1, 8, 8, 8)


def test_layers_used_twice_or_without_spatial_output_are_left_out():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(1, 2, 3, padding=1)
            self.b = nn.Conv2d(2, 2, 3, padding=1)
            self.head = nn.Linear(2 * 16 * 16, 3)

        def forward(self, x):
            return self.head(self.b(self.b(self.a(x))).flatten(1))

    assert target_layers(Shared(), input_shape=(1, 16, 16)) == ["a"]


def test_input_shape_that_does_not_fit():
    with pytest.raises(RespondCamError, match="pass input_shape"):
        target_layers(DenseHead(size=8))
    assert target_layers(DenseHead(size=8), input_shape=(1, 8, 8, 8)) == ["conv", "relu", "pool"]
