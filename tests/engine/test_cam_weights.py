import numpy as np
import pytest
import torch

from napari_respond_cam.engine.cam_weights import (
    RESPOND_EPS,
    grad_plus_plus_weights,
    grad_weights,
    relevance_total,
    respond_weights,
    weighted_map,
    xgrad_weights,
)

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


def test_grad_plus_plus_weights_by_hand():
    # alpha = g^2 / (2 g^2 + S g^3) = 1 / (2 + S g) where g != 0, S = sum of A = 10 on
    # channel 0: g = 0.5 -> 1/7, g = -1 -> -1/8 (its ReLU(g) is 0), g = 2 -> 1/22.
    # w0 = 0.5/7 + 2/22 = 25/154. Channel 1 (S = 0): alpha = 1/2, w1 = 4 * 7/2 = 14.
    w = grad_plus_plus_weights(A, G)
    np.testing.assert_allclose(w.numpy(), [[25 / 154, 14.0]], rtol=1e-15)


def test_grad_plus_plus_alpha_is_zero_where_its_denominator_is():
    # S g = -2 makes 2 g^2 + S g^3 vanish: that position adds nothing, the other one
    # (g = 1, alpha = 1 / (2 + 1)) adds 1/3.
    a = torch.tensor([[[1.0, 0.0]]], dtype=torch.float64)  # S = 1
    g = torch.tensor([[[-2.0, 1.0]]], dtype=torch.float64)
    w = grad_plus_plus_weights(a, g)
    assert w.isfinite().all()
    assert w.item() == pytest.approx(1 / 3, rel=1e-15)


def test_xgrad_weights_by_hand_and_zero_for_a_channel_without_activation():
    w = xgrad_weights(A, G)
    np.testing.assert_allclose(w.numpy(), [[4.5 / 10, 0.0]], rtol=1e-15)


def test_xgrad_weights_are_respond_weights_without_eps():
    torch.manual_seed(1)
    a = torch.rand(2, 3, 4, 4, 4, dtype=torch.float64)
    g = torch.randn(2, 3, 4, 4, 4, dtype=torch.float64)
    np.testing.assert_allclose(xgrad_weights(a, g), respond_weights(a, g), rtol=1e-9)
    assert not torch.equal(xgrad_weights(a, g), respond_weights(a, g))


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
