"""Which window sizes a model takes, found by running it on zeros."""

import torch

from napari_respond_cam.engine.run_setup import RunSetup
from napari_respond_cam.engine.window_sizes import takes_other_sizes
from tiny_classifier import tiny_cnn1
from toy_models import TinyUNet


class OnlyItsOwnSize(TinyUNet):
    """A U-Net whose code insists on its input size, as some users' do."""

    def forward(self, x):
        assert x.shape[-3:] == (8, 8, 8), "this network takes 8^3 only"
        return super().forward(x)


def setup(model, layer):
    return RunSetup.prepare(model, layer, method="respond", precision="fp32", device="cpu")


def test_a_unet_takes_other_sizes_and_a_dense_head_or_an_assertion_does_not():
    torch.manual_seed(0)
    assert takes_other_sizes(setup(TinyUNet().eval(), "dec"), (8, 8, 8))
    assert not takes_other_sizes(setup(tiny_cnn1(), "maxpool2"), (16, 16, 16))
    assert not takes_other_sizes(setup(OnlyItsOwnSize().eval(), "dec"), (8, 8, 8))
