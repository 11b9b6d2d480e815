"""The layer picked under 'volume' must hold one 3D volume; otherwise the message says how."""

import numpy as np
import pytest
from napari.layers import Image

from napari_respond_cam import RespondCamError
from napari_respond_cam.napari_plugin.picked_volume import check_volume


def refusal(layer) -> str:
    with pytest.raises(RespondCamError) as refused:
        check_volume(layer)
    return str(refused.value)


def test_a_stack_gets_the_console_line_that_takes_one_volume_out():
    message = refusal(Image(np.zeros((2, 16, 16, 16), np.float32), name="stack"))
    assert "'stack' has 4 axes (shape (2, 16, 16, 16)); pick a 3D volume" in message
    assert message.endswith(
        "viewer.add_image(viewer.layers['stack'].data[0], scale=viewer.layers['stack'].scale[1:])."
    )
    series = refusal(Image(np.zeros((3, 2, 8, 8, 8), np.float32), name="series"))
    assert "data[0, 0], scale=viewer.layers['series'].scale[2:])." in series


def test_a_multiscale_stack_takes_its_volume_from_the_full_resolution_level():
    levels = [np.zeros((2, 16, 16, 16), np.float32), np.zeros((2, 8, 8, 8), np.float32)]
    message = refusal(Image(levels, multiscale=True, name="pyramid"))
    assert "viewer.add_image(viewer.layers['pyramid'].data[0][0], scale=" in message


def test_an_image_is_told_it_is_not_a_volume_and_a_volume_passes():
    assert refusal(Image(np.zeros((200, 200), np.float32), name="micrograph")) == (
        "The volume 'micrograph' has 2 axes (shape (200, 200)): it is an image, not a "
        "volume. The models explain 3D volumes (Z, Y, X); open a tomogram and pick it "
        "under 'volume'."
    )
    check_volume(Image(np.zeros((16, 16, 16), np.float32), name="tomo"))
