"""HiResCAM, LayerCAM and Eigen-CAM on inputs small enough to compute by hand."""

import math

import numpy as np
import pytest
import torch

from napari_respond_cam.engine.cam_maps import (
    MAP_RULES,
    eigen_map,
    hires_map,
    layercam_map,
    map_rule,
)
from napari_respond_cam.engine.cam_weights import relevance_total
from napari_respond_cam.errors import RespondCamError

# 2 channels x 3 positions: channel 0 active, channel 1 silent.
A = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]], dtype=torch.float64)
G = torch.tensor([[[0.5, -1.0, 2.0], [7.0, 7.0, 7.0]]], dtype=torch.float64)


def test_hires_map_by_hand():
    # sum_k G_ki A_ki: 0.5 * 1, -1 * 2, 2 * 3 (channel 1 adds 7 * 0)
    np.testing.assert_allclose(hires_map(A, G).numpy(), [[0.5, -2.0, 6.0]])


def test_hires_map_sums_to_the_relevance_total():
    torch.manual_seed(0)
    a = torch.randn(3, 4, 5, 6, dtype=torch.float64)
    g = torch.randn(3, 4, 5, 6, dtype=torch.float64)
    sums = hires_map(a, g).sum(dim=(1, 2))
    np.testing.assert_allclose(sums.numpy(), relevance_total(a, g).numpy())


def test_layercam_map_by_hand_keeps_only_positive_gradients():
    np.testing.assert_allclose(layercam_map(A, G).numpy(), [[0.5, 0.0, 6.0]])


def test_layercam_map_is_signed_where_activations_are():
    a = torch.tensor([[[-1.0, 2.0]]])
    g = torch.tensor([[[3.0, -1.0]]])
    np.testing.assert_allclose(layercam_map(a, g).numpy(), [[-3.0, 0.0]])


def test_eigen_map_by_hand_on_two_equal_channels():
    # Positions (1, 1), (2, 2), (3, 3): centred (-1, -1), (0, 0), (1, 1), first principal
    # axis (1, 1) / sqrt(2), projections -sqrt(2), 0, sqrt(2). The mean activation
    # (1, 2, 3) rises, so the rising sign is kept.
    a = torch.tensor([[[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]], dtype=torch.float64)
    r2 = math.sqrt(2)
    np.testing.assert_allclose(eigen_map(a, G).numpy(), [[-r2, 0.0, r2]], atol=1e-12)


def test_eigen_map_sign_follows_the_mean_activation_not_the_first_channel():
    # Channel 0 rises (1, 2, 3), channel 1 falls twice as steeply (6, 4, 2). Centred
    # positions (-1, 2), (0, 0), (1, -2); covariance [[2, -4], [-4, 8]], first axis
    # (1, -2) / sqrt(5); projections -sqrt(5), 0, sqrt(5). The mean activation
    # (3.5, 3, 2.5) falls, so the sign is flipped to correlate positively with it.
    a = torch.tensor([[[1.0, 2.0, 3.0], [6.0, 4.0, 2.0]]], dtype=torch.float64)
    r5 = math.sqrt(5)
    np.testing.assert_allclose(eigen_map(a, G).numpy(), [[r5, 0.0, -r5]], atol=1e-12)


def test_eigen_map_is_batched_n_dimensional_and_turns_with_the_activations():
    torch.manual_seed(2)
    a = torch.rand(3, 4, 2, 3, 4, dtype=torch.float64)
    maps = eigen_map(a, torch.zeros_like(a))
    assert maps.shape == (3, 2, 3, 4)
    for n in range(3):
        np.testing.assert_allclose(maps[n], eigen_map(a[n : n + 1], a[n : n + 1])[0])
    mean_activation = a.mean(dim=1).flatten(1)
    assert ((maps.flatten(1) * mean_activation).sum(dim=1) > 0).all()
    np.testing.assert_allclose(maps.sum(dim=(1, 2, 3)).numpy(), 0.0, atol=1e-12)
    np.testing.assert_allclose(eigen_map(-a, a).numpy(), -maps.numpy(), atol=1e-12)


def test_weight_methods_map_the_weighted_sum_of_channels():
    # Grad-CAM weights (mean gradient) 0.5 and 7: the map is 0.5 * channel 0.
    np.testing.assert_allclose(MAP_RULES["grad"](A, G).numpy(), [[0.5, 1.0, 1.5]])


def test_ablation_has_no_map_rule_and_unknown_names_list_the_choices():
    assert map_rule("ablation") is None
    assert map_rule("hires") is hires_map
    message = "Unknown CAM method 'gradcam\\+\\+': choose one of 'respond', 'grad', 'gradpp'"
    with pytest.raises(RespondCamError, match=message):
        map_rule("gradcam++")
    with pytest.raises(RespondCamError, match="Unknown CAM method \\['grad'\\]"):
        map_rule(["grad"])  # type: ignore[arg-type]
