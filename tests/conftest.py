import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device; run on the accelerator machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def kernel_caps_restored(monkeypatch):
    """Training pins torch's kernels in os.environ; undone after the test."""
    from napari_respond_cam.training.reproducible_kernels import PINNED_KERNELS

    for name in PINNED_KERNELS:
        monkeypatch.setenv(name, "")  # so that monkeypatch restores the variable's state
        monkeypatch.delenv(name)
