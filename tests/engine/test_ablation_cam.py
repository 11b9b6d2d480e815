"""Ablation-CAM: the paper's weights by hand, and its extra passes in few, fitting batches."""

import numpy as np
import pytest
import torch

from napari_respond_cam import explain
from napari_respond_cam.engine.ablation_cam import ablation_maps, ablation_weights
from napari_respond_cam.errors import RespondCamError
from toy_models import AsksForTooMuchMemory, DenseHead, GapHead


def hand_model() -> GapHead:
    """A = (x, 2x) on a 1D signal; y_0 = mean(A_0) - mean(A_1) + 0.5."""
    model = GapHead(dims=1, width=2, classes=2).double()
    with torch.no_grad():
        model.features.weight.copy_(torch.tensor([1.0, 2.0]).reshape(2, 1, 1))
        model.fc.weight.copy_(torch.tensor([[1.0, -1.0], [0.0, 1.0]]))
        model.fc.bias.copy_(torch.tensor([0.5, 0.0]))
    return model


X = np.array([[[1.0, 2.0, 3.0]]])


def test_weights_by_hand_and_zero_for_a_zero_score():
    scores = torch.tensor([[2.0, 0.0]])
    ablated = torch.tensor([[[1.0, 3.0], [4.0, -1.0]]])  # (N, C, J)
    np.testing.assert_allclose(ablation_weights(scores, ablated), [[[0.5, 0.0], [-1.0, 0.0]]])


def test_a_gap_model_by_hand():
    # A_0 = (1, 2, 3), A_1 = (2, 4, 6): y = 2 - 4 + 0.5 = -1.5. Zeroing A_0 gives
    # y_0 = -3.5, zeroing A_1 gives y_1 = 2.5: w = (2 / -1.5, -4 / -1.5) = (-4/3, 8/3),
    # L = -4/3 A_0 + 8/3 A_1 = (4, 8, 12).
    result = explain(hand_model(), X, "features", target=0, method="ablation")
    np.testing.assert_allclose(result.scores, [-1.5])
    np.testing.assert_allclose(result.cam, [[4.0, 8.0, 12.0]], rtol=1e-6)
    # The bias record is the model's, as for every method: 0.5 here.
    np.testing.assert_allclose(result.bias, [0.5], rtol=1e-6)


def test_maps_are_the_weighted_sum_of_channels():
    activations = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    weights = torch.tensor([[[2.0], [-1.0]]])
    np.testing.assert_allclose(ablation_maps(activations, weights), [[[-1.0, 0.0]]])


def model() -> DenseHead:
    torch.manual_seed(3)
    return DenseHead(dims=3, classes=3).eval()


BATCH = torch.rand(2, 1, 8, 8, 8, generator=torch.Generator().manual_seed(5))


def test_all_classes_are_each_class_and_the_predicted_class_stays_fixed():
    every = explain(model(), BATCH, "pool", target="all", method="ablation")
    assert every.cam.shape == (2, 3, 4, 4, 4) and every.heatmap.shape == (2, 3, 8, 8, 8)
    predicted = explain(model(), BATCH, "pool", method="ablation")
    for k in range(3):
        one = explain(model(), BATCH, "pool", target=k, method="ablation")
        np.testing.assert_allclose(every.cam[:, k], one.cam, rtol=1e-5, atol=1e-6)
    rows = np.arange(2)
    np.testing.assert_allclose(predicted.cam, every.cam[rows, predicted.targets], rtol=1e-5)


def recorded(limit: int = 1000) -> AsksForTooMuchMemory:
    return AsksForTooMuchMemory(model(), limit)


def test_copies_of_several_channels_share_a_call():
    # 4 channels at "pool", 2 samples, 4 samples per call: 2 channels side by side.
    wrapped = recorded()
    result = explain(wrapped, BATCH, "model.pool", method="ablation", perturbation_batch_size=4)
    assert wrapped.batches == [2, 4, 4]
    one_at_a_time = recorded()
    reference = explain(
        one_at_a_time, BATCH, "model.pool", method="ablation", perturbation_batch_size=1
    )
    assert one_at_a_time.batches == [2, 2, 2, 2, 2]
    np.testing.assert_allclose(result.cam, reference.cam, rtol=1e-5, atol=1e-7)


def test_out_of_memory_halves_the_copies_per_call_and_gives_the_same_maps():
    wrapped = recorded(limit=2)
    with pytest.warns(RuntimeWarning, match="ran out of memory") as caught:
        result = explain(wrapped, BATCH, "model.pool", method="ablation")
    halvings = [str(w.message).partition("copies ")[2] for w in caught]
    assert halvings == [
        "8 samples at a time; continuing with 4.",
        "4 samples at a time; continuing with 2.",
    ]
    # 64 samples per call take all 4 channels (8 samples): too many; so do 2 channels
    # (4 samples); one channel at a time fits.
    assert wrapped.batches == [2, 8, 4, 2, 2, 2, 2]
    reference = explain(recorded(), BATCH, "model.pool", method="ablation")
    np.testing.assert_allclose(result.cam, reference.cam, rtol=1e-5, atol=1e-7)


def test_a_model_exported_with_a_fixed_batch_gets_one_channel_per_call_padded():
    fixed = recorded()
    fixed.fixed_batch_size = 3
    result = explain(fixed, BATCH, "model.pool", method="ablation")
    assert fixed.batches == [3] * 5
    reference = explain(recorded(), BATCH, "model.pool", method="ablation")
    np.testing.assert_allclose(result.cam, reference.cam, rtol=1e-5, atol=1e-7)


def test_a_target_function_scores_each_copy_with_its_own_samples_rows():
    # A score that depends on the row (as a window's region does in a tiled run): the
    # copies of several channels in one call must be scored block by block.
    def by_row(output):
        return output[:, 0] * torch.arange(1, len(output) + 1, dtype=output.dtype)

    shared = explain(model(), BATCH, "pool", target=by_row, method="ablation")
    alone = explain(
        model(), BATCH, "pool", target=by_row, method="ablation", perturbation_batch_size=1
    )
    np.testing.assert_allclose(shared.cam, alone.cam, rtol=1e-5, atol=1e-7)
    class_zero = explain(model(), BATCH, "pool", target=0, method="ablation")
    # Row 2's score is twice class 0's, and w = (y - y_k) / y does not see the factor.
    np.testing.assert_allclose(shared.cam, class_zero.cam, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_a_wrong_perturbation_batch_size_is_refused(size):
    batch = BATCH.clone()
    message = f"perturbation_batch_size must be a positive int.*not {size!r}"
    with pytest.raises(RespondCamError, match=message):
        explain(model(), batch, "pool", method="ablation", perturbation_batch_size=size)
    assert torch.equal(batch, BATCH)
