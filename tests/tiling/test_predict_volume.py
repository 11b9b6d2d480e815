"""predict_volume: a per-voxel output stitched over a whole volume."""

import numpy as np
import pytest
import torch
from torch import nn

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.tiling.binned_volume import BinnedVolume, unbin
from napari_respond_cam.tiling.predict_volume import predict_volume
from toy_models import GapHead, TinyUNet


def pointwise() -> nn.Conv3d:
    torch.manual_seed(2)
    return nn.Conv3d(1, 3, 1).eval()


def noise(shape) -> np.ndarray:
    return np.random.default_rng(6).normal(size=shape).astype(np.float32)


def test_one_window_over_the_volume_is_the_models_output():
    torch.manual_seed(0)
    model, volume = TinyUNet(classes=2).eval(), noise((8, 8, 8))
    with torch.no_grad():
        direct = model(torch.from_numpy(volume)[None, None])[0].numpy()
    stitched = predict_volume(model, volume, window=8)
    assert stitched.shape == (2, 8, 8, 8) and stitched.dtype == np.float32
    np.testing.assert_allclose(stitched, direct, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 4])
def test_overlapping_windows_of_a_pointwise_model_blend_into_its_output_on_the_volume(
    batch_size,
):
    # A 1x1 conv gives every window the same value at a voxel, so any blend whose
    # weights sum to one over the windows (edges and corners included) gives it back.
    model, volume = pointwise(), noise((10, 13, 17))
    with torch.no_grad():
        direct = model(torch.from_numpy(volume)[None, None])[0].numpy()
    stitched = predict_volume(model, volume, window=8, stride=5, batch_size=batch_size)
    np.testing.assert_allclose(stitched, direct, rtol=1e-5, atol=1e-6)


def test_a_binned_volume_is_predicted_binned_and_brought_back():
    model, volume = pointwise(), noise((16, 18, 20))
    binned = np.asarray(BinnedVolume(volume, 2))
    with torch.no_grad():
        direct = model(torch.from_numpy(binned)[None, None])[0].numpy()
    stitched = predict_volume(model, volume, window=4, binning=2)
    assert stitched.shape == (3, 16, 18, 20)
    np.testing.assert_allclose(stitched, unbin(direct, 2, (16, 18, 20)), rtol=1e-5, atol=1e-6)


def test_a_classifier_is_refused_with_what_to_use_instead():
    torch.manual_seed(3)
    volume = noise((8, 8, 8))
    before = volume.copy()
    with pytest.raises(RespondCamError, match=r"per-voxel .* gives \(1, 2\).*explain_volume"):
        predict_volume(GapHead(dims=3, classes=2), volume, window=8)
    np.testing.assert_array_equal(volume, before)


def test_a_strided_output_is_refused_rather_than_misaligned():
    torch.manual_seed(3)
    strided = nn.Conv3d(1, 2, 2, stride=2)
    volume = noise((8, 8, 8))
    before = volume.copy()
    with pytest.raises(RespondCamError, match=r"grid \(4, 4, 4\) for a window of \(8, 8, 8\)"):
        predict_volume(strided, volume, window=8)
    np.testing.assert_array_equal(volume, before)
