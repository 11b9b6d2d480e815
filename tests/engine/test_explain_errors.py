"""Every mistake a user can make gets a sentence that says what to do."""

import numpy as np
import pytest
import torch
from torch import nn

from napari_respond_cam import RespondCamError, explain
from toy_models import DenseHead


@pytest.fixture
def model():
    torch.manual_seed(0)
    return DenseHead(dims=3, classes=4)


@pytest.fixture
def x():
    return torch.rand(2, 1, 8, 8, 8)


def test_unknown_layer_suggests_close_names(model, x):
    with pytest.raises(RespondCamError, match=r"no layer named 'pol'.*Did you mean 'pool'"):
        explain(model, x, "pol")


def test_module_from_another_model(model, x):
    with pytest.raises(RespondCamError, match="not part of this model"):
        explain(model, x, nn.Conv3d(1, 1, 1))


def test_layer_given_as_the_module_itself(model, x):
    by_module = explain(model, x, model.pool)
    by_name = explain(model, x, "pool")
    np.testing.assert_array_equal(by_module.cam, by_name.cam)
    assert by_module.layer == "pool"


def test_layer_without_spatial_output(model, x):
    with pytest.raises(RespondCamError, match=r"'fc1' gives shape \(2, 16\), not a spatial map"):
        explain(model, x, "fc1")


class WithUnusedLayer(DenseHead):
    def __init__(self):
        super().__init__()
        self.unused = nn.Conv3d(4, 4, 1)


def test_layer_never_reached(x):
    with pytest.raises(RespondCamError, match="never reached the layer 'unused'"):
        explain(WithUnusedLayer(), x, "unused")


class SharedLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(1, 1, 3, padding=1)
        self.fc = nn.Linear(8**3, 2)

    def forward(self, x):
        return self.fc(self.conv(self.conv(x)).flatten(1))


def test_layer_used_twice():
    with pytest.raises(RespondCamError, match="runs more than once"):
        explain(SharedLayer(), torch.rand(1, 1, 8, 8, 8), "conv")


def test_input_of_the_wrong_dimensionality(model):
    with pytest.raises(RespondCamError, match=r"takes 3D inputs shaped \(N, C, D, H, W\)"):
        explain(model, torch.rand(2, 1, 8, 8), "pool")


def test_input_with_the_wrong_channel_count(model):
    with pytest.raises(RespondCamError, match="takes 1 channel.*input has 3"):
        explain(model, torch.rand(2, 3, 8, 8, 8), "pool")


def test_input_of_the_wrong_size(model):
    message = r"raised an error on an input batch of shape \(2, 1, 6, 6, 6\)"
    with pytest.raises(RespondCamError, match=message):
        explain(model, torch.rand(2, 1, 6, 6, 6), "pool")


def test_target_class_out_of_range(model, x):
    with pytest.raises(RespondCamError, match=r"class 4 is out of range.*4 classes \(0 to 3\)"):
        explain(model, x, "pool", target=4)
    with pytest.raises(RespondCamError, match="class -1 is out of range"):
        explain(model, x, "pool", target=[0, -1])


def test_one_target_per_sample(model, x):
    with pytest.raises(RespondCamError, match="3 target classes were given for 2 samples"):
        explain(model, x, "pool", target=[0, 1, 2])


def test_target_that_is_not_a_class(model, x):
    with pytest.raises(RespondCamError, match="not a class index"):
        explain(model, x, "pool", target=1.5)
    with pytest.raises(RespondCamError, match="Unknown target 'everything'"):
        explain(model, x, "pool", target="everything")


def test_target_function_with_the_wrong_shape(model, x):
    with pytest.raises(RespondCamError, match=r"returned \(\); it must return .* shape \(2,\)"):
        explain(model, x, "pool", target=lambda out: out.sum())


def test_nan_and_infinite_input(model, x):
    x[0, 0, 0, 0, :2] = float("nan")
    x[1, 0, 0, 0, 0] = float("inf")
    with pytest.raises(RespondCamError, match="2 NaN and 1 infinite"):
        explain(model, x, "pool")


class IgnoresLayer(DenseHead):
    def forward(self, x):
        self.pool(self.relu(self.conv(x)))
        return self.fc2(torch.zeros(x.shape[0], 16))


class ZeroesLayer(DenseHead):
    def forward(self, x):
        return super().forward(x) * 0.0


def test_output_that_does_not_depend_on_the_layer(x):
    with pytest.raises(RespondCamError, match="does not depend on the layer 'pool'"):
        explain(IgnoresLayer(), x, "pool")


def test_gradient_zero_everywhere(x):
    with pytest.raises(RespondCamError, match="gradient at the layer 'pool' is zero everywhere"):
        explain(ZeroesLayer(), x, "pool")


def test_unknown_method_and_bad_batch_size(model, x):
    with pytest.raises(RespondCamError, match="Unknown CAM method 'score'"):
        explain(model, x, "pool", method="score")
    with pytest.raises(RespondCamError, match="batch_size must be a positive int"):
        explain(model, x, "pool", batch_size=0)


def test_class_target_on_a_segmentation_output():
    seg = nn.Conv3d(1, 2, 3, padding=1)
    with pytest.raises(RespondCamError, match=r"output shaped \(N, classes\).*region_target"):
        explain(seg, torch.rand(1, 1, 4, 4, 4), "", target=1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without CUDA")
def test_cuda_asked_for_where_there_is_none(model, x):
    with pytest.raises(RespondCamError, match="CUDA is not available"):
        explain(model, x, "pool", device="cuda")
