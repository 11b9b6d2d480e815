"""What a model takes, read without running it: a torch.export program records it."""

import pytest
import torch
from torch import nn

from napari_respond_cam import target_layers
from napari_respond_cam.engine.model_inputs import InputSpec, as_batch, input_spec


@pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")  # torch.export.unflatten
def test_a_program_with_dynamic_sizes_shows_its_rank_and_channels():
    model = nn.Sequential(nn.Conv3d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv3d(3, 1, 1)).eval()
    side = torch.export.Dim("side", min=2, max=32)
    shapes = ({0: torch.export.Dim("batch", max=8), 2: side, 3: side, 4: side},)
    program = torch.export.export(model, (torch.zeros(2, 2, 8, 8, 8),), dynamic_shapes=shapes)
    unflattened = torch.export.unflatten(program)  # its layers are no nn.Conv3d any more
    assert input_spec(unflattened) == InputSpec(spatial_dims=3, channels=2, shape=None)
    assert as_batch(torch.zeros(2, 8, 8, 8), input_spec(unflattened)).shape == (1, 2, 8, 8, 8)
    assert target_layers(unflattened) == ["0", "1"]  # cubes of its two channels tried
