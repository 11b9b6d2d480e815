"""The same stitched maps on the GPU as on the CPU (run by hand on the accelerator machine)."""

import numpy as np
import pytest
import torch

from napari_respond_cam import explain_volume
from napari_respond_cam.models.paper_cnns import CNN1


@pytest.mark.gpu
@pytest.mark.parametrize(("method", "target"), [("respond", None), ("grad", None), ("respond", 1)])
def test_cuda_matches_cpu_and_model_returns_to_cpu(method, target):
    torch.manual_seed(0)
    model = CNN1(num_classes=3, input_size=16, channels=(4, 4, 8, 8), dense=(16, 16))
    volume = np.random.default_rng(0).normal(size=(21, 19, 26)).astype(np.float32)
    on_cpu = explain_volume(model, volume, "maxpool2", target=target, method=method)
    on_gpu, windows = explain_volume(
        model,
        volume,
        "maxpool2",
        target=target,
        method=method,
        device="cuda",
        batch_size=5,
        return_windows=True,
    )
    np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-4, atol=1e-7)
    assert len(windows) == 12
    assert next(model.parameters()).device.type == "cpu"
