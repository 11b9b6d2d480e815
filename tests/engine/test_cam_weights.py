import numpy as np
import pytest
import torch

from napari_respond_cam.engine.cam_weights import (
    RESPOND_EPS,
    grad_weights,
    relevance_total,
    respond_weights,
    weight_function,
    weighted_map,
)
from napari_respond_cam.errors import RespondCamError

A = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]]], dtype=torch.float64)
G = torch.tensor([[[[0.5, -1.0], [2.0, 0.0]], [[7.0, 7.0], [7.0, 7.0]]]], dtype=torch.float64)


def test_respond_weights_by_hand():
    # channel 0: (0.5 - 2 + 6 + 0) / (1 + 2 + 3 + 4 + 4 eps); channel 1 has no activation
    w = respond_weights(A, G)
    assert w.shape == (1, 2)
    assert w[0, 0].item() == pytest.approx(4.5 / (10 + 4 * RESPOND_EPS), rel=1e-15)
    assert w[0, 1].item() == 0.0


def test_grad_weights_by_hand():
    w = grad_weights(A, G)
    np.testing.assert_allclose(w.numpy(), [[1.5 / 4, 7.0]])


def test_map_is_the_weighted_sum_of_channels():
    w = torch.tensor([[0.45, 3.0]], dtype=torch.float64)
    maps = weighted_map(w, A)
    np.testing.assert_allclose(maps.numpy(), [[[0.45, 0.9], [1.35, 1.8]]])


def test_respond_map_sums_to_the_relevance_total():
    torch.manual_seed(0)
    a = torch.rand(3, 5, 4, 4, 4, dtype=torch.float64)
    g = torch.randn(3, 5, 4, 4, 4, dtype=torch.float64)
    maps = weighted_map(respond_weights(a, g), a)
    np.testing.assert_allclose(maps.sum(dim=(1, 2, 3)).numpy(), relevance_total(a, g).numpy())
    np.testing.assert_allclose(relevance_total(a, g).numpy(), (a * g).sum(dim=(1, 2, 3, 4)))


def test_maps_stay_signed():
    maps = weighted_map(torch.tensor([[-2.0]]), torch.ones(1, 1, 2, 2))
    assert (maps == -2.0).all()


def test_unknown_method_names_the_choices():
    with pytest.raises(RespondCamError, match="'respond', 'grad'"):
        weight_function("gradcam++")
