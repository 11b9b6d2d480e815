"""Mistakes that used to end in a raw error or silent nonsense get a sentence that says what
to do, and leave the user's input and model as they were."""

import numpy as np
import pytest
import torch
from torch import nn

from napari_respond_cam import (
    RespondCamError,
    explain,
    explain_volume,
    region_target,
    target_layers,
)
from napari_respond_cam.engine.batch_cam import check_input_fits
from napari_respond_cam.engine.explanation import Explanation
from napari_respond_cam.engine.run_setup import RunSetup
from tiny_classifier import tiny_cnn1
from toy_models import AsksForTooMuchMemory, DenseHead, TinyUNet


def dense_head() -> DenseHead:
    torch.manual_seed(0)
    return DenseHead(dims=3, classes=4)


def samples() -> torch.Tensor:
    return torch.rand(2, 1, 8, 8, 8, generator=torch.Generator().manual_seed(0))


def same_state(model: nn.Module, state: dict) -> bool:
    return all(torch.equal(value, state[key]) for key, value in model.state_dict().items())


@pytest.mark.parametrize(
    "x",
    [
        np.full((2, 1, 8, 8, 8), 1 + 2j, np.complex64),
        torch.full((2, 1, 8, 8, 8), 1 + 2j, dtype=torch.complex64),
    ],
)
def test_complex_input_is_refused_not_cut_to_its_real_part(x):
    kept = x.clone() if isinstance(x, torch.Tensor) else x.copy()
    with pytest.raises(RespondCamError, match=r"holds complex numbers .*input\.real, abs\(input\)"):
        explain(dense_head(), x, "pool")
    assert (x == kept).all()


def test_complex_volume_is_refused_before_any_window_is_read():
    volume = np.full((8, 8, 8), 3 - 4j, np.complex128)
    with pytest.raises(RespondCamError, match=r"volume holds complex numbers \(complex128\)"):
        explain_volume(dense_head(), volume, "pool", window=8)
    assert (volume == 3 - 4j).all()


def test_region_target_names_a_channel_the_output_does_not_have():
    torch.manual_seed(0)
    unet = TinyUNet(classes=2)
    x = samples()
    kept = x.clone()
    with pytest.raises(RespondCamError, match=r"channel 5, but the model gives 2 .*\(0 to 1\)"):
        explain(unet, x, "enc", target=region_target(5))
    with pytest.raises(RespondCamError, match="channel -1, but the model gives 2"):
        explain(unet, x, "enc", target=region_target(-1))
    assert torch.equal(x, kept)


def test_region_target_on_a_classifier_says_to_pass_the_class():
    x = samples()
    message = r"per-voxel model output .* it is \(2, 4\); .* class index as target \(target in"
    with pytest.raises(RespondCamError, match=message):
        explain(dense_head(), x, "pool", target=region_target(1))


def test_region_target_takes_an_int_channel():
    with pytest.raises(RespondCamError, match="channel as an int, not 'membrane'"):
        region_target("membrane")


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
@pytest.mark.parametrize("compile_model", ["script", "trace"])
def test_a_live_torchscript_module_is_refused_with_how_to_export(compile_model):
    model = dense_head().eval()
    x = samples()
    compiled = torch.jit.script(model) if compile_model == "script" else torch.jit.trace(model, x)
    state = {k: v.clone() for k, v in compiled.state_dict().items()}
    message = r"TorchScript module .*cannot be hooked.*torch\.export\.export\(model\.eval\(\)"
    with pytest.raises(RespondCamError, match=message):
        explain(compiled, x, "pool")
    with pytest.raises(RespondCamError, match=message):
        explain_volume(compiled, x[0, 0].numpy(), "pool", window=8)
    with pytest.raises(RespondCamError, match=message):
        target_layers(compiled)
    assert same_state(compiled, state)


def test_probabilities_need_class_scores():
    logits = np.array([[0.0, np.log(3.0)]], np.float32)
    fields = {"cam": np.zeros((1, 2)), "heatmap": np.zeros((1, 2)), "bias": np.zeros(1)}
    fields.update(scores=np.zeros(1), targets=None, method="respond", layer="enc")
    np.testing.assert_allclose(
        Explanation(logits=logits, **fields).probabilities, [[0.25, 0.75]], rtol=1e-6
    )
    per_voxel = np.zeros((1, 2, 4, 4, 4), np.float32)
    message = r"softmax over classes.*shape \(1, 2, 4, 4, 4\); use \.logits itself"
    with pytest.raises(RespondCamError, match=message):
        _ = Explanation(logits=per_voxel, **fields).probabilities


def test_samples_of_another_size_than_a_fixed_input_model_takes():
    model = tiny_cnn1(16)
    x = torch.rand(1, 1, 12, 12, 12)
    kept = x.clone()
    message = (
        r"(?s)takes inputs of \(16, 16, 16\) voxels \(its input_shape\) and raised an error on a "
        r"batch of \(12, 12, 12\) voxels.*fixed input size dictates.*--window 16 on the command"
    )
    with pytest.raises(RespondCamError, match=message):
        explain(model, x, "maxpool2")
    assert torch.equal(x, kept)


def test_running_out_of_memory_says_what_to_lower_with_the_numbers_in_use():
    model = AsksForTooMuchMemory(dense_head(), limit=1)
    x = torch.rand(4, 1, 8, 8, 8)
    kept = x.clone()
    message = (
        r"cpu device ran out of memory running the model on a batch of 4 sample\(s\) of "
        r"\(8, 8, 8\) voxels\. Lower the batch size \(now 4; batch_size=2 in Python, "
        r"--batch-size 2 on the command line, the 'batch size' control set to 2 in napari\)"
    )
    with pytest.raises(RespondCamError, match=message) as caught:
        explain(model, x, "model.pool")
    assert isinstance(caught.value, torch.OutOfMemoryError)  # so the tiler halves its batch
    assert torch.equal(x, kept)
    # One sample per pass fits: the maps are the wrapped model's own.
    by_one = explain(model, x, "model.pool", batch_size=1)
    whole = explain(model.model, x, "pool")
    np.testing.assert_allclose(by_one.cam, whole.cam, rtol=1e-5, atol=1e-9)
    assert model.batches == [4, 1, 1, 1, 1]


def test_a_model_exported_with_a_fixed_batch_is_not_told_to_lower_it():
    model = AsksForTooMuchMemory(dense_head(), limit=1)
    model.fixed_batch_size = 4
    x = torch.rand(4, 1, 8, 8, 8)
    with pytest.raises(
        RespondCamError, match=r"voxels\. Lower the window of a tiled volume \(now \(8, 8, 8\)\)"
    ) as caught:
        explain(model, x, "model.pool")
    assert "batch size" not in str(caught.value)


def test_batch_size_names_every_front_end():
    message = (
        r"batch_size must be a positive int, not 2\.0 \(batch_size in Python, --batch-size on "
        r"the command line, the 'batch size' control in napari\)"
    )
    with pytest.raises(RespondCamError, match=message):
        explain(dense_head(), samples(), "pool", batch_size=2.0)


def test_an_input_a_fixed_size_model_cannot_take_fails_in_one_line_before_any_work():
    model = tiny_cnn1()
    setup = RunSetup.prepare(model, "maxpool2", method="respond", precision="fp32", device=None)
    check_input_fits(setup, (16, 16, 16))  # its own size: runs quietly
    with pytest.raises(RespondCamError) as refused:
        check_input_fits(setup, (12, 12, 12))
    message = str(refused.value)
    assert message.startswith("The model takes inputs of (16, 16, 16) voxels (its input_shape)")
    assert "--window 16 on the command line" in message and "\n" not in message
    assert model.training is False  # left as found


class _CostlyBackward(torch.autograd.Function):
    """The identity, whose backward pass asks for more memory than any machine has."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        torch.empty(1 << 62, dtype=torch.uint8)
        return grad


class RunsOutInTheBackwardPass(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = dense_head()

    def forward(self, x):
        features = self.inner.pool(self.inner.relu(self.inner.conv(x)))
        return self.inner.fc2(self.inner.fc1(_CostlyBackward.apply(features).flatten(1)))


def test_running_out_of_memory_in_the_backward_pass_gets_the_same_advice():
    x = torch.rand(4, 1, 8, 8, 8)
    with pytest.raises(
        RespondCamError, match=r"ran out of memory .* Lower the batch size"
    ) as caught:
        explain(RunsOutInTheBackwardPass(), x, "inner.pool")
    assert isinstance(caught.value, torch.OutOfMemoryError)
