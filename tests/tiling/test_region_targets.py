"""explain_volume with a region target: one region of the whole tomogram, sum-to-score."""

import numpy as np
import pytest
import torch
from torch import nn

from napari_respond_cam import RespondCamError, explain, explain_volume, region_target
from napari_respond_cam.tiling.predict_volume import predict_volume
from napari_respond_cam.tiling.window_predictions import WindowPredictions
from toy_models import GapHead, TinyUNet, sign_classifier

#: Window 8 at stride 5 over this volume: 2 x 3 x 3 windows, overlapping unevenly.
SHAPE = (12, 16, 18)


def unet(bias: bool) -> TinyUNet:
    torch.manual_seed(0)
    return TinyUNet(classes=2, bias=bias).eval()


def half_resolution_net(bias: bool) -> nn.Sequential:
    """Its layer "2" (a max pool) is at half resolution; a transposed conv brings it back."""
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv3d(1, 4, 3, padding=1, bias=bias),
        nn.ReLU(),
        nn.MaxPool3d(2),
        nn.Conv3d(4, 4, 3, padding=1, bias=bias),
        nn.ReLU(),
        nn.ConvTranspose3d(4, 2, 2, stride=2, bias=bias),
    ).eval()


def noise(shape=SHAPE) -> np.ndarray:
    return np.random.default_rng(5).normal(size=shape).astype(np.float32)


def partial_mask() -> np.ndarray:
    mask = np.zeros(SHAPE, np.float32)
    mask[3:9, 2:11, 4:15] = 1.0
    mask[5, 6, 7] = 2.5  # weights, not only 0 and 1
    return mask


def region_score(model, volume, channel, mask) -> float:
    """Y from the stitched prediction, summed over the mask, independently of the CAMs."""
    stitched = predict_volume(model, volume, window=8, stride=5).astype(np.float64)
    weights = 1.0 if mask is None else mask
    return float((weights * stitched[channel]).sum())


@pytest.mark.parametrize(("network", "layer"), [(unet, "enc"), (half_resolution_net, "2")])
@pytest.mark.parametrize("masked", [False, True])
def test_without_biases_the_stitched_map_sums_to_the_region_score(network, layer, masked):
    # Everything after the layer is ReLU, max pooling and bias-free convolutions: y =
    # sum(A * G) exactly, so every window's bias is 0 and the maps add up to Y. Layer
    # "2" is at half resolution: each map is spread over 8 voxels per layer position.
    model, volume = network(bias=False), noise()
    mask = partial_mask() if masked else None
    heatmap, windows = explain_volume(
        model, volume, layer, target=region_target(1, mask), window=8, stride=5,
        return_windows=True,
    )  # fmt: skip
    score = region_score(model, volume, 1, mask)
    assert windows.total_score == pytest.approx(score, rel=1e-5)
    assert abs(windows.total_bias) < 1e-4 * abs(score)
    assert heatmap.sum(dtype=np.float64) == pytest.approx(score, rel=1e-4)
    assert windows.total_map_sum == pytest.approx(score, rel=1e-4)


@pytest.mark.parametrize("masked", [False, True])
def test_with_biases_the_stitched_map_sums_to_the_score_less_the_bias(masked):
    model, volume = unet(bias=True), noise()
    mask = partial_mask() if masked else None
    heatmap, windows = explain_volume(
        model, volume, "bottleneck", target=region_target(0, mask), window=8, stride=5,
        return_windows=True,
    )  # fmt: skip
    score = region_score(model, volume, 0, mask)
    assert windows.total_score == pytest.approx(score, rel=1e-5)
    assert abs(windows.total_bias) > 1e-2 * abs(score)  # the biases matter here
    explained = score - windows.total_bias
    assert heatmap.sum(dtype=np.float64) == pytest.approx(explained, rel=1e-3)
    # Each window's record: its own share and its map's sum, as explain gives them.
    np.testing.assert_allclose(
        windows.cam_sums, windows.scores - windows.bias, rtol=1e-3, atol=1e-4
    )


@pytest.mark.parametrize("layer", ["enc", "bottleneck"])
def test_one_window_over_the_volume_equals_explain_with_the_mask_on_the_output_grid(layer):
    model, volume = unet(bias=True), noise((8, 8, 8))
    mask = partial_mask()[:8, :8, :8]
    target = region_target(1, mask)
    heatmap, windows = explain_volume(
        model, volume, layer, target=target, return_windows=True, window=8
    )
    reference = explain(model, volume, layer, target=target)
    # One window: its blending weight is 1 everywhere, and its map keeps its sum.
    voxels_per_position = volume.size / reference.cam[0].size
    np.testing.assert_allclose(
        heatmap, reference.heatmap[0] / voxels_per_position, rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(windows.scores, reference.scores, rtol=1e-6)
    np.testing.assert_allclose(windows.bias, reference.bias, rtol=1e-5, atol=1e-6)
    assert windows.total_map_sum == pytest.approx(float(reference.cam_sums[0]), rel=1e-5)


class CountsWindows(nn.Module):
    """Wraps a model and counts the windows its forward pass sees."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model, self.windows = model, 0

    def forward(self, x):
        self.windows += len(x)
        return self.model(x)


def test_windows_the_mask_does_not_touch_are_not_run_and_add_nothing():
    counting = CountsWindows(unet(bias=True))
    volume = noise((8, 8, 28))
    mask = np.zeros(volume.shape, bool)
    mask[2:6, 2:6, 2:5] = True  # x starts 0, 4, ..., 20: only windows 0 and 4 touch it
    seen = []
    heatmap, windows = explain_volume(
        counting, volume, "model.enc", target=region_target(1, mask), window=8, stride=4,
        return_windows=True, progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert windows.starts.tolist() == [[0, 0, 0], [0, 0, 4]]
    assert counting.windows == 1 + 2  # the check on a window of zeros, then two windows
    assert seen == [(0, 2), (2, 2)]
    assert not heatmap[..., 12:].any() and heatmap[..., :12].any()
    assert mask.sum() == 4 * 4 * 3 and volume.shape == (8, 8, 28)


def test_background_windows_add_nothing_with_the_predicted_class():
    model = sign_classifier()
    volume = np.concatenate([np.full((8, 8, 8), v, np.float32) for v in (-1.0, 1.0, 2.0)], axis=2)
    kwargs = {"method": "grad", "window": 8, "stride": 8, "return_windows": True}
    everything, _ = explain_volume(model, volume, "0", **kwargs)
    heatmap, windows = explain_volume(model, volume, "0", background_class=0, **kwargs)
    assert windows.targets.tolist() == [0, 1, 1]  # every window's record is kept
    # Grad-CAM of a 1x1 conv + GAP + linear: L = W_t x / 512 per voxel.
    np.testing.assert_allclose(everything[..., :8], 1 / 512, rtol=1e-6)
    assert not heatmap[..., :8].any()
    np.testing.assert_array_equal(heatmap[..., 8:], everything[..., 8:])
    np.testing.assert_allclose(heatmap[..., 16:], 2 / 512, rtol=1e-6)


def test_a_background_class_the_model_does_not_have_is_refused_before_any_window():
    model = sign_classifier()
    model.class_names = ("negative", "positive")
    volume = np.ones((8, 8, 16), np.float32)
    with pytest.raises(RespondCamError, match=r"a whole number from 0 to 1, not 9\."):
        explain_volume(model, volume, "0", background_class=9, window=8)
    heatmap = explain_volume(model, volume, "0", background_class=np.int64(0), window=8)
    assert heatmap.any()  # a NumPy integer is a class index too


def test_a_class_map_where_predicted_keeps_the_windows_that_predict_the_class():
    model = sign_classifier()
    volume = np.concatenate([np.full((8, 8, 8), v, np.float32) for v in (-1.0, 1.0, 2.0)], axis=2)
    kwargs = {"method": "grad", "window": 8, "stride": 8, "return_windows": True}
    every, _ = explain_volume(model, volume, "0", target=0, **kwargs)
    maps = {
        k: explain_volume(model, volume, "0", target=k, where_predicted=True, **kwargs)
        for k in (0, 1)
    }
    heatmap, windows = maps[0]
    assert windows.predicted.tolist() == [0, 1, 1] and windows.targets.tolist() == [0, 0, 0]
    # Grad-CAM of class 0 is -x / 512 per voxel in every window; only the first predicts 0.
    np.testing.assert_allclose(every, -volume / 512, rtol=1e-6)
    np.testing.assert_array_equal(heatmap[..., :8], every[..., :8])
    assert not heatmap[..., 8:].any()
    np.testing.assert_allclose(maps[1][0][..., 8:], volume[..., 8:] / 512, rtol=1e-6)
    assert not maps[1][0][..., :8].any()
    # Each window adds to the map of its own predicted class: together, target=None's map.
    predicted = explain_volume(model, volume, "0", method="grad", window=8, stride=8)
    np.testing.assert_array_equal(maps[0][0] + maps[1][0], predicted)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_where_predicted_holds_on_a_binned_volume_and_in_reduced_precision(precision):
    model = sign_classifier()
    # Blocks of 16 voxels, 8 once binned by 2: one window each, predicting 0, 1, 1, 0.
    volume = np.concatenate(
        [np.full((16, 16, 16), v, np.float32) for v in (-1.0, 1.0, 2.0, -3.0)], axis=2
    )
    kwargs = {"method": "grad", "window": 8, "stride": 8, "binning": 2, "precision": precision}
    heatmap = explain_volume(model, volume, "0", target=1, where_predicted=True, **kwargs)
    every = explain_volume(model, volume, "0", target=1, **kwargs)
    np.testing.assert_array_equal(heatmap[..., 16:48], every[..., 16:48])
    assert every[..., 16:48].any() and every[..., :16].any() and every[..., 48:].any()
    assert not heatmap[..., :16].any() and not heatmap[..., 48:].any()


@pytest.mark.parametrize(
    ("target", "value", "message"),
    [
        (region_target(1), True, r"needs a class index as target; a function of the output"),
        (1, 1, r"where_predicted must be True or False, not 1"),
    ],
)
def test_where_predicted_is_refused_where_it_means_nothing(target, value, message):
    with pytest.raises(RespondCamError, match=message):
        explain_volume(
            unet(bias=False), noise(), "out", target=target, window=8, where_predicted=value
        )


def test_totals_sum_the_rows_in_double_precision():
    rows = WindowPredictions(
        starts=np.zeros((3, 3), np.int64),
        window=(8, 8, 8),
        targets=None,
        scores=np.array([1e8, 1.0, -1e8], np.float32),
        cam_sums=np.array([0.25, 0.5, 0.125], np.float32),
        bias=np.array([-1.5, 0.0, 2.0], np.float32),
        probabilities=None,
        nonzero_gradient=np.ones(3, bool),
    )
    assert (rows.total_score, rows.total_map_sum, rows.total_bias) == (1.0, 0.875, 0.5)
    nothing = WindowPredictions.empty((8, 8, 8))
    assert len(nothing) == 0 and nothing.total_score == 0.0 and nothing.starts.shape == (0, 3)


@pytest.mark.parametrize(
    ("model", "target", "kwargs", "message"),
    [
        (
            unet,
            region_target(1, np.ones((8, 8, 8))),
            {},
            r"mask has shape \(8, 8, 8\) but the volume's spatial shape is \(12, 16, 18\).*"
            r"target=region_target\(channel, mask\)",
        ),
        (unet, region_target(2), {}, r"channel 2, but the model gives 2 channel\(s\) \(0 to 1\)"),
        (
            lambda bias: GapHead(dims=3, classes=2),
            region_target(1),
            {},
            r"per-voxel model output .* it is \(1, 2\); .* pass the class index as target",
        ),
        (
            unet,
            region_target(1, partial_mask()),
            {"binning": 2},
            r"binned volume \(binning 2\).*binning=1 in Python, --bin 1 on the command line",
        ),
        (
            unet,
            None,
            {"background_class": "ribosome"},
            r"background_class is the index of the class .* a whole number, not 'ribosome'",
        ),
    ],
)
def test_region_mistakes_are_refused_before_any_window_and_the_inputs_kept(
    model, target, kwargs, message
):
    volume = noise()
    before = volume.copy()
    mask = None if target is None else target.mask
    kept = None if mask is None else mask.copy()
    layer = "features" if isinstance(model(True), GapHead) else "enc"
    with pytest.raises(RespondCamError, match=message):
        explain_volume(model(True), volume, layer, target=target, window=8, **kwargs)
    np.testing.assert_array_equal(volume, before)
    if mask is not None:
        np.testing.assert_array_equal(mask, kept)


def test_a_strided_output_is_refused_for_a_region_target():
    torch.manual_seed(0)
    strided = nn.Sequential(nn.Conv3d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv3d(2, 2, 2, stride=2))
    volume = noise()
    before = volume.copy()
    with pytest.raises(RespondCamError, match=r"grid \(4, 4, 4\) for a window of \(8, 8, 8\)"):
        explain_volume(strided, volume, "1", target=region_target(0), window=8)
    np.testing.assert_array_equal(volume, before)
