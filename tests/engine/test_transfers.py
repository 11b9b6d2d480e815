"""Host-device copies that do not wait (on the CPU: no copies at all)."""

import numpy as np
import pytest
import torch

from napari_respond_cam.engine.transfers import HostCopy, staged, to_device

CPU = torch.device("cpu")


def test_staging_on_the_cpu_shares_the_array_and_converts_on_the_way():
    array = np.arange(6, dtype=np.int16).reshape(2, 3)
    tensor = staged(array, CPU)
    assert tensor.data_ptr() == array.ctypes.data
    moved = to_device(tensor, CPU, torch.float32)
    assert moved.dtype == torch.float32
    np.testing.assert_array_equal(moved.numpy(), array)


def test_host_copy_of_cpu_tensors_gives_their_values():
    maps = torch.rand(2, 3, requires_grad=True) * 2
    copy = HostCopy({"maps": maps, "nonzero": torch.tensor([True, False])})
    arrays = copy.arrays()
    np.testing.assert_array_equal(arrays["maps"], maps.detach().numpy())
    np.testing.assert_array_equal(arrays["nonzero"], [True, False])


@pytest.mark.gpu
def test_round_trip_through_the_gpu_with_pinned_buffers_and_an_event():
    array = np.random.default_rng(0).normal(size=(4, 1, 5, 6, 7)).astype(np.float32)
    tensor = staged(array, torch.device("cuda"))
    assert tensor.is_pinned()
    on_device = to_device(tensor, torch.device("cuda"), torch.float32)
    on_device.requires_grad_(True)
    doubled = on_device[:, 0, :3] * 2  # a non-contiguous view, as maps of padded windows are
    copy = HostCopy({"maps": doubled, "scores": on_device.sum(dim=(1, 2, 3, 4))})
    arrays = copy.arrays()
    np.testing.assert_array_equal(arrays["maps"], array[:, 0, :3] * 2)
    assert copy._host["maps"].is_pinned()
    np.testing.assert_allclose(arrays["scores"], array.sum(axis=(1, 2, 3, 4)), rtol=1e-5)
