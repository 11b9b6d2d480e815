"""The demo models' step sizes: the schedule over epochs, and each layer's cut."""

import numpy as np
import torch

from napari_respond_cam.training.classifier import TrainingConfig, build_model, demo_class_names
from napari_respond_cam.training.step_sizes import (
    FULL_STEP_FAN_IN,
    set_step_sizes,
    step_groups,
    step_size_factor,
)


def test_the_step_size_rises_over_the_first_epoch_then_falls_along_a_half_cosine():
    # 4 epochs: the rise ends at progress 1/4; the cosine spans the remaining 3/4.
    assert step_size_factor(0.0, 4) == 1e-3
    assert step_size_factor(0.125, 4) == 0.5
    assert step_size_factor(0.25, 4) == 1.0
    assert abs(step_size_factor(0.625, 4) - 0.5) < 1e-12  # halfway down the cosine
    assert abs(step_size_factor(0.25 + 0.75 / 3, 4) - 0.75) < 1e-12  # cos(pi/3) = 1/2
    assert step_size_factor(1.0, 4) == 0.0
    # One epoch: up over its first half, down over its second.
    assert step_size_factor(0.25, 1) == 0.5 and step_size_factor(0.5, 1) == 1.0
    assert abs(step_size_factor(0.75, 1) - 0.5) < 1e-12 and step_size_factor(1.0, 1) == 0.0


def test_a_layer_summing_many_inputs_takes_a_proportionally_smaller_step():
    model = build_model(TrainingConfig(), demo_class_names())
    groups = step_groups(model)
    # conv1 27, conv2 and conv3 216, conv4 432 inputs; fc1 16 x 10^3, fc2 and fc3 128
    assert FULL_STEP_FAN_IN == 216
    assert [group["step_scale"] for group in groups] == [1, 1, 1, 0.5, 216 / 16000, 1, 1]
    grouped = [id(p) for group in groups for p in group["params"]]
    assert sorted(grouped) == sorted(id(p) for p in model.parameters())  # each once
    optimiser = torch.optim.Adam(groups, lr=1.0)
    set_step_sizes(optimiser, 1e-3, 0.625, 4)  # halfway down the cosine
    steps = [group["lr"] for group in optimiser.param_groups]
    np.testing.assert_allclose(steps, [5e-4, 5e-4, 5e-4, 2.5e-4, 5e-4 * 216 / 16000, 5e-4, 5e-4])
    # CNN-2 sees the input pooled: its fc1 sums 16 x 5^3 = 2000.
    cnn2 = step_groups(build_model(TrainingConfig(architecture="cnn2"), demo_class_names()))
    assert cnn2[4]["step_scale"] == 216 / 2000
