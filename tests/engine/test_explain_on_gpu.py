"""The same maps on the GPU as on the CPU (run by hand on the accelerator machine)."""

import numpy as np
import pytest
import torch

from napari_respond_cam import explain
from toy_models import DenseHead, TinyUNet


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["respond", "grad"])
def test_cuda_matches_cpu_and_model_returns_to_cpu(method):
    torch.manual_seed(0)
    model = DenseHead()
    x = torch.rand(5, 1, 8, 8, 8)
    on_cpu = explain(model, x, "pool", target="all", method=method)
    on_gpu = explain(model, x, "pool", target="all", method=method, device="cuda", batch_size=2)
    np.testing.assert_allclose(on_gpu.cam, on_cpu.cam, rtol=1e-4, atol=1e-6)
    assert next(model.parameters()).device.type == "cpu"


@pytest.mark.gpu
def test_cuda_model_and_cuda_input():
    torch.manual_seed(0)
    model = TinyUNet().cuda()
    x = torch.rand(2, 1, 8, 8, 8, device="cuda")
    result = explain(model, x, "enc", target=lambda out: out[:, 1].sum(dim=(1, 2, 3)))
    np.testing.assert_allclose(result.cam_sums, result.scores - result.bias, rtol=1e-3)
