"""Training the demo U-Net: Dice, the loss, crops, the model's metadata, and a tiny run."""

import math

import numpy as np
import pytest
import torch

from napari_respond_cam import load_model
from napari_respond_cam.engine.preprocessing import Preprocessing
from napari_respond_cam.simulation import ParticleTable, SimulatedTomogram
from napari_respond_cam.training.segmentation import (
    SegmentationConfig,
    build_unet,
    dice_scores,
    random_crops,
    segmentation_loss,
    train_and_save,
)

TINY = SegmentationConfig(
    channels=(2, 2, 2),
    crop=16,
    tomogram_shape=(40, 48, 48),
    n_particles=3,
    n_tomograms=2,
    steps=2,
    n_validation_crops=2,
    log_every=1,
)


def test_dice_per_class_by_hand():
    predicted = np.array([0, 1, 1, 2])
    labels = np.array([0, 1, 2, 2])
    # class 0: 2*1/(1+1); class 1: 2*1/(2+1); class 2: 2*1/(1+2); class 3 absent from both.
    np.testing.assert_allclose(dice_scores(predicted, labels, 4), [1, 2 / 3, 2 / 3, np.nan])


def test_the_loss_of_an_undecided_network_by_hand():
    logits = torch.zeros(1, 2, 2, 1, 1)
    labels = torch.tensor([0, 1]).reshape(1, 2, 1, 1)
    # cross-entropy ln 2; class 1: softmax 1/2 on both voxels, soft Dice (2*0.5 + 1)/(1 + 1 + 1).
    expected = math.log(2) + (1 - 2 / 3)
    assert segmentation_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)
    assert segmentation_loss(logits, labels, dice_weight=0).item() == pytest.approx(math.log(2))


def one_cube_tomogram() -> SimulatedTomogram:
    volume = np.random.default_rng(0).normal(5, 3, size=(40, 48, 48)).astype(np.float32)
    labels = np.zeros(volume.shape, dtype=np.int32)
    labels[20:24, 30:34, 10:14] = 3
    particles = ParticleTable(np.array([[22, 32, 12]]), np.array([2]), np.zeros((1, 4)))
    return SimulatedTomogram(volume, labels, particles, ("a", "b", "c"), 11.4)


def test_crops_centred_on_particles_hold_them_whole_and_are_z_scored():
    tomogram = one_cube_tomogram()
    volume_before = tomogram.volume.copy()
    inputs, labels = random_crops([tomogram], TINY, np.random.default_rng(1), 6)
    assert inputs.shape == (6, 1, 16, 16, 16) and labels.shape == (6, 16, 16, 16)
    assert labels.dtype == torch.int64
    # centred_share 0.7: every crop is centred or random; centred ones hold all 64 voxels.
    counts = (labels == 3).flatten(1).sum(dim=1)
    assert set(counts.tolist()) <= set(range(65)) and counts.max() == 64
    torch.testing.assert_close(inputs.mean(dim=(1, 2, 3, 4)), torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(inputs.std(dim=(1, 2, 3, 4), correction=0), torch.ones(6))
    np.testing.assert_array_equal(tomogram.volume, volume_before)


def test_every_crop_is_centred_when_asked_and_the_seed_repeats_them():
    tomogram = one_cube_tomogram()
    config = SegmentationConfig(crop=16, centred_share=1.0)
    first = random_crops([tomogram], config, np.random.default_rng(2), 5)
    again = random_crops([tomogram], config, np.random.default_rng(2), 5)
    assert ((first[1] == 3).flatten(1).sum(dim=1) == 64).all()
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])


def test_the_unet_carries_what_explaining_it_needs():
    model = build_unet(TINY, ("background", "a", "b"))
    assert model.class_names == ("background", "a", "b")
    assert model.background_class == 0
    assert model.input_shape == (1, 16, 16, 16)
    assert model.preprocessing == Preprocessing("zscore-window")
    assert model.voxel_size_a == 11.4
    assert model.head.out_channels == 3


def test_a_tiny_run_saves_a_model_that_loads_with_its_record(tmp_path):
    lines = []
    path = tmp_path / "unet.pt"
    trained = train_and_save(TINY, path, lines.append)
    assert lines[0].startswith("simulated 2 tomograms") and lines[1].startswith("CPU kernels")
    assert [line.split()[1] for line in lines[2:4]] == ["1/2", "2/2"]
    assert lines[-1] == f"saved {path}"
    loaded = load_model(path)
    assert loaded.class_names[0] == "background" and len(loaded.class_names) == 6
    assert loaded.background_class == 0
    history = loaded.training_record["history"]
    assert history["steps"] == [1, 2] and all(np.isfinite(history["loss"]))
    assert loaded.training_record["config"]["crop"] == 16
    environment = loaded.training_record["environment"]
    assert environment["threads"] == torch.get_num_threads() and environment["device"] == "cpu"
    x = torch.rand(1, 1, 16, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), trained(x))
