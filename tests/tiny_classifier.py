"""A tiny named CNN-1 and test volumes, shared by the run-layer and napari tests."""

import numpy as np
import torch

from napari_respond_cam.models.paper_cnns import CNN1

CLASSES = ("ribosome", "proteasome", "membrane")


def tiny_cnn1(input_size: int = 16) -> CNN1:
    """A narrow CNN-1 taking ``input_size``^3 windows, with three named classes."""
    torch.manual_seed(0)
    model = CNN1(num_classes=3, input_size=input_size, channels=(4, 4, 8, 8), dense=(16, 16))
    model.class_names = CLASSES
    return model.eval()


def noise_volume(shape=(16, 16, 16), seed=0) -> np.ndarray:
    """A float32 test volume."""
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)
