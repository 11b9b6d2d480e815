"""Mixed precision: autocast for the network, float32 for the CAM."""

import numpy as np
import pytest
import torch

from napari_respond_cam import RespondCamError, explain, explain_volume
from toy_models import DenseHead, TinyUNet


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_bf16_maps_agree_with_fp32_and_come_back_as_float32():
    torch.manual_seed(0)
    model = DenseHead(dims=3, classes=4)
    x = torch.rand(6, 1, 8, 8, 8)
    full = explain(model, x, "pool", target="all")
    half = explain(model, x, "pool", target="all", precision="bf16")
    for name in ("cam", "heatmap", "scores", "logits", "bias"):
        assert getattr(half, name).dtype == np.float32, name
    assert not np.array_equal(half.cam, full.cam)  # autocast did run
    assert correlation(half.cam, full.cam) > 0.99
    np.testing.assert_allclose(half.scores, full.scores, rtol=0.05, atol=0.02)
    # sum-to-score holds within the precision the network ran in
    np.testing.assert_allclose(half.cam_sums, half.scores - half.bias, rtol=1e-4, atol=1e-5)


def test_bf16_leaves_the_model_in_float32():
    model = TinyUNet()
    explain(model, torch.rand(1, 1, 8, 8, 8), "enc", target=lambda out: out.sum((1, 2, 3, 4)),
            precision="bf16")  # fmt: skip
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_explain_volume_in_bf16():
    torch.manual_seed(0)
    model = DenseHead(dims=3, classes=4)
    model.input_shape = (1, 8, 8, 8)
    volume = np.random.default_rng(0).random((12, 16, 16), dtype=np.float32)
    full = explain_volume(model, volume, "pool", target=1, stride=4)
    half = explain_volume(model, volume, "pool", target=1, stride=4, precision="bf16")
    assert half.dtype == np.float32
    assert correlation(half, full) > 0.99


def test_unknown_precision():
    with pytest.raises(RespondCamError, match="Unknown precision 'int8'"):
        explain(DenseHead(), torch.rand(1, 1, 8, 8, 8), "pool", precision="int8")
