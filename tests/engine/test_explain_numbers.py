"""explain() against hand-computed numbers and the sum-to-score property."""

import numpy as np
import pytest
import torch

from napari_respond_cam import explain
from toy_models import DenseHead, GapHead


def hand_model() -> GapHead:
    """A = (x, 2x); y = W mean(A) + b, so G_k = W_ck / 4 on a 2x2 image."""
    model = GapHead(dims=2, width=2, classes=3).double()
    with torch.no_grad():
        model.features.weight.copy_(torch.tensor([1.0, 2.0]).reshape(2, 1, 1, 1))
        model.fc.weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0], [-1.0, 0.0]]))
        model.fc.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))
    return model


X = np.array([[1.0, 2.0], [3.0, 4.0]])


@pytest.mark.parametrize("method", ["respond", "grad"])
def test_gap_model_by_hand(method):
    result = explain(hand_model(), X, "features", method=method)
    # y = (2.5 - 5 + 0.1, 1.25 + 10 - 0.2, -2.5 + 0.3): class 1 is predicted
    np.testing.assert_allclose(result.logits, [[-2.4, 11.05, -2.2]])
    assert result.targets.tolist() == [1]
    np.testing.assert_allclose(result.scores, [11.05])
    # w = (0.5 / 4, 2 / 4) for both methods, so L = 0.125 x + 0.5 * 2x = 1.125 x
    np.testing.assert_allclose(result.cam, [[[1.125, 2.25], [3.375, 4.5]]], rtol=1e-6)
    np.testing.assert_allclose(result.bias, [-0.2], rtol=1e-6)
    assert result.cam.dtype == np.float32
    assert result.heatmap.shape == (1, 2, 2)


def test_fixed_class_and_per_sample_classes():
    model = hand_model()
    batch = np.stack([X, 2 * X])[:, None]
    single = explain(model, batch, "features", target=0)
    assert single.targets.tolist() == [0, 0]
    # class 0: w = (1/4, -1/4), L = x/4 - 2x/4 = -x/4 (negative evidence stays negative)
    np.testing.assert_allclose(single.cam[0], -X / 4, rtol=1e-6)
    np.testing.assert_allclose(single.cam[1], -X / 2, rtol=1e-6)
    mixed = explain(model, batch, "features", target=[2, 0])
    np.testing.assert_allclose(mixed.cam[0], -X / 4 * 1, rtol=1e-6)  # class 2: w = (-1/4, 0)
    np.testing.assert_allclose(mixed.cam[1], single.cam[1], rtol=1e-6)
    # the hand model names no classes: napari's name for class 0 is that class
    by_name = explain(model, batch, "features", target="class 0")
    assert by_name.targets.tolist() == [0, 0]
    np.testing.assert_array_equal(by_name.cam, single.cam)


def test_gap_head_sums_to_score_minus_bias_for_every_class():
    torch.manual_seed(1)
    model = GapHead(dims=3, in_channels=2, width=6, classes=5)
    x = torch.rand(4, 2, 6, 6, 6)
    result = explain(model, x, "features", target="all")
    expected = result.scores - model.fc.bias.detach().numpy()
    np.testing.assert_allclose(result.cam_sums, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        result.bias, np.broadcast_to(model.fc.bias.detach(), (4, 5)), atol=1e-5
    )


def dense_bias(model: DenseHead, x: torch.Tensor, classes: np.ndarray) -> np.ndarray:
    """beta of a dense head: the head's output with A = 0 and its ReLU pattern frozen."""
    with torch.no_grad():
        features = model.pool(model.relu(model.conv(x))).flatten(1)
        active = (model.fc1(features) > 0).double()
        hidden_bias = active * model.fc1.bias.double()
        beta = hidden_bias @ model.fc2.weight.double().T + model.fc2.bias.double()
    return beta[np.arange(len(classes)), classes].numpy()


def test_dense_head_sums_to_score_minus_beta():
    torch.manual_seed(2)
    model = DenseHead(dims=3, in_channels=1, size=8, classes=4)
    x = torch.rand(6, 1, 8, 8, 8)
    result = explain(model, x, "pool")
    beta = dense_bias(model, x, result.targets)
    np.testing.assert_allclose(result.bias, beta, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.cam_sums, result.scores - beta, rtol=1e-4, atol=1e-5)


def test_grad_cam_fails_the_sum_to_score_check_on_a_dense_head():
    torch.manual_seed(2)
    model = DenseHead(dims=3, in_channels=1, size=8, classes=4)
    x = torch.rand(6, 1, 8, 8, 8)
    grad = explain(model, x, "pool", method="grad")
    respond = explain(model, x, "pool", method="respond")
    relevance = grad.scores - grad.bias
    grad_error = np.abs(grad.cam_sums - relevance) / np.abs(relevance)
    respond_error = np.abs(respond.cam_sums - relevance) / np.abs(relevance)
    assert respond_error.max() < 1e-4
    assert grad_error.mean() > 0.05


def test_all_classes_equals_one_call_per_class():
    torch.manual_seed(3)
    model = DenseHead(dims=3, classes=4)
    x = torch.rand(3, 1, 8, 8, 8)
    everything = explain(model, x, "pool", target="all")
    assert everything.cam.shape == (3, 4, 4, 4, 4)
    assert everything.heatmap.shape == (3, 4, 8, 8, 8)
    assert everything.targets.tolist() == [0, 1, 2, 3]
    for k in range(4):
        one = explain(model, x, "pool", target=k)
        np.testing.assert_allclose(everything.cam[:, k], one.cam, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(everything.scores[:, k], one.scores, rtol=1e-6)


def test_batches_in_chunks_give_the_same_maps():
    torch.manual_seed(4)
    model = DenseHead(dims=3, classes=4)
    x = torch.rand(7, 1, 8, 8, 8)
    whole = explain(model, x, "pool")
    chunked = explain(model, x, "pool", batch_size=3)
    np.testing.assert_allclose(chunked.cam, whole.cam, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(chunked.targets, whole.targets)


def test_heatmap_is_the_trilinear_upsampling_of_the_cam():
    torch.manual_seed(5)
    model = DenseHead(dims=3, classes=4)
    x = torch.rand(2, 1, 8, 8, 8)
    result = explain(model, x, "pool")
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(result.cam)[:, None], size=(8, 8, 8), mode="trilinear"
    )[:, 0]
    np.testing.assert_allclose(result.heatmap, expected.numpy(), rtol=1e-6)
    # linear interpolation keeps the mean, so the heatmap's sum is the map's sum x 8
    np.testing.assert_allclose(result.heatmap.sum(axis=(1, 2, 3)), result.cam_sums * 8, rtol=1e-4)


def test_2d_model_with_three_channels():
    torch.manual_seed(6)
    model = DenseHead(dims=2, in_channels=3, size=8, classes=4)
    x = torch.rand(5, 3, 8, 8)
    result = explain(model, x, "pool")
    assert result.cam.shape == (5, 4, 4)
    assert result.heatmap.shape == (5, 8, 8)
    np.testing.assert_allclose(result.cam_sums, result.scores - result.bias, rtol=1e-4, atol=1e-6)


def test_one_sample_without_batch_or_channel_axes():
    torch.manual_seed(7)
    model = DenseHead(dims=3, classes=4)
    volume = np.random.default_rng(0).random((8, 8, 8), dtype=np.float32)
    bare = explain(model, volume, "pool")
    with_channel = explain(model, volume[None], "pool")
    full = explain(model, volume[None, None], "pool")
    assert bare.cam.shape == (1, 4, 4, 4)
    np.testing.assert_array_equal(bare.cam, full.cam)
    np.testing.assert_array_equal(with_channel.cam, full.cam)


def test_scores_are_pre_softmax_logits():
    torch.manual_seed(8)
    model = DenseHead(dims=3, classes=4)
    x = torch.rand(3, 1, 8, 8, 8)
    result = explain(model, x, "pool")
    with torch.no_grad():
        logits = model(x).numpy()
    np.testing.assert_allclose(result.logits, logits, rtol=1e-6)
    np.testing.assert_allclose(result.scores, logits.max(axis=1), rtol=1e-6)
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, rtol=1e-6)


def test_big_endian_and_read_only_arrays_give_the_same_maps():
    torch.manual_seed(9)
    model = DenseHead(dims=3, classes=4)
    x = np.random.default_rng(1).random((2, 1, 8, 8, 8), dtype=np.float32)
    read_only = x.copy()
    read_only.flags.writeable = False
    expected = explain(model, x, "pool").cam
    np.testing.assert_array_equal(explain(model, x.astype(">f4"), "pool").cam, expected)
    np.testing.assert_array_equal(explain(model, read_only, "pool").cam, expected)


def test_an_explanation_prints_its_scores_and_classes_and_the_shapes_of_its_maps():
    result = explain(hand_model(), np.stack([X] * 3)[:, None], "features")
    assert repr(result) == (
        "Explanation(method='respond', layer='features', cam=float32 (3, 2, 2), "
        "heatmap=float32 (3, 2, 2), scores=[11.05, 11.05, 11.05], bias=[-0.2, -0.2, -0.2], "
        "targets=[1, 1, 1])"
    )
    every = explain(hand_model(), np.stack([X] * 3)[:, None], "features", target="all")
    assert "scores=float64 (3, 3), bias=float64 (3, 3), targets=[0, 1, 2])" in repr(every)
