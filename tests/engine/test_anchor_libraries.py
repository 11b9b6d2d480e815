"""Our maps against the libraries users know, on a small 3D model, each skipped when absent.

pytorch-grad-cam and torchcam apply a ReLU and a min-max scaling to every map; those
are applied to ours before comparing. captum's Grad-CAM is raw, like ours. Not
compared: torchcam's Grad-CAM++ (it sums ``A g^3`` over positions where the paper
multiplies ``sum A`` by each position's ``g^3``) and pytorch-grad-cam's Ablation-CAM
(it sets a channel to ``min - 1e7`` instead of zero, and only in 2D).
"""

import importlib

import numpy as np
import pytest
import torch

from napari_respond_cam import explain
from toy_models import DenseHead

X = torch.rand(2, 1, 8, 8, 8, generator=torch.Generator().manual_seed(6))
CLASSES = [0, 2]  # one per sample


def model() -> DenseHead:
    torch.manual_seed(2)
    net = DenseHead(dims=3, classes=3).eval()
    with torch.no_grad():
        # Gradients of order one at the layer, so the libraries' small eps do not show.
        net.fc2.weight.mul_(100)
    return net


def anchor(name: str):
    """The library, or a skip when it is absent (or its torchvision does not load)."""
    try:
        return importlib.import_module(name)
    except (ImportError, RuntimeError) as err:
        pytest.skip(f"{name} is not usable here: {err}")


def ours(method: str) -> np.ndarray:
    """Our maps at the layer "relu", which lies on the input grid."""
    return explain(model(), X, "relu", target=CLASSES, method=method).cam


def relu_and_min_max(maps: np.ndarray, eps: float) -> np.ndarray:
    """The display step both libraries apply: ReLU, then per map (x - min) / (max + eps)."""
    maps = np.maximum(maps, 0)
    axes = tuple(range(1, maps.ndim))
    maps = maps - maps.min(axis=axes, keepdims=True)
    return maps / (maps.max(axis=axes, keepdims=True) + eps)


def test_grad_cam_is_captums_layer_grad_cam_raw():
    attr = anchor("captum.attr")
    net = model()
    theirs = attr.LayerGradCam(net, net.relu).attribute(X, target=CLASSES)
    grad = ours("grad")
    assert (grad < 0).any()  # raw: the comparison covers the signs
    np.testing.assert_allclose(grad, theirs[:, 0].detach().numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("method", "extractor"), [("grad", "GradCAM"), ("xgrad", "XGradCAM"), ("layercam", "LayerCAM")]
)
def test_torchcam(method, extractor):
    methods = anchor("torchcam.methods")
    net = model()
    with getattr(methods, extractor)(net, target_layer="relu", input_shape=(1, 8, 8, 8)) as cam:
        (theirs,) = cam(class_idx=CLASSES, scores=net(X))
    expected = relu_and_min_max(ours(method), eps=1e-8)
    np.testing.assert_allclose(expected, theirs.detach().numpy(), atol=1e-5)


PYTORCH_GRAD_CAM = [
    ("grad", "GradCAM"),
    ("gradpp", "GradCAMPlusPlus"),
    ("xgrad", "XGradCAM"),
    ("hires", "HiResCAM"),
    ("layercam", "LayerCAM"),
]


def pytorch_grad_cam_maps(extractor: str) -> np.ndarray:
    library = anchor("pytorch_grad_cam")
    targets = anchor("pytorch_grad_cam.utils.model_targets")
    net = model()
    with getattr(library, extractor)(model=net, target_layers=[net.relu]) as cam:
        return cam(input_tensor=X, targets=[targets.ClassifierOutputTarget(c) for c in CLASSES])


@pytest.mark.parametrize(("method", "extractor"), PYTORCH_GRAD_CAM)
def test_pytorch_grad_cam(method, extractor):
    theirs = pytorch_grad_cam_maps(extractor)
    np.testing.assert_allclose(relu_and_min_max(ours(method), eps=1e-7), theirs, atol=1e-4)


def test_eigen_cam_is_pytorch_grad_cams_up_to_its_arbitrary_sign():
    theirs = pytorch_grad_cam_maps("EigenCAM")
    ours_eigen = ours("eigen")
    candidates = [relu_and_min_max(sign * ours_eigen, eps=1e-7) for sign in (1, -1)]
    assert not np.allclose(candidates[0], candidates[1], atol=1e-2)
    for n in range(len(CLASSES)):
        assert any(np.allclose(c[n], theirs[n], atol=1e-4) for c in candidates)
