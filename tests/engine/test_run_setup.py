"""RunSetup: the choices checked before any work, one batch-size rule, the model restored."""

import pytest
import torch

from napari_respond_cam.engine.cam_maps import MAP_RULES
from napari_respond_cam.engine.run_setup import RunSetup
from napari_respond_cam.errors import RespondCamError
from toy_models import DenseHead


def test_prepare_resolves_every_choice_without_running_the_model():
    model = DenseHead().train()
    calls = []
    model.register_forward_hook(lambda *args: calls.append(1))
    setup = RunSetup.prepare(model, "pool", method="grad", precision="bf16", device=None)
    assert (setup.layer_name, setup.module) == ("pool", model.pool)
    assert setup.map_of is MAP_RULES["grad"]
    assert setup.autocast == torch.bfloat16
    assert (setup.spec.spatial_dims, setup.spec.channels) == (3, 1)
    assert setup.device == torch.device("cpu") and setup.placement is None
    assert setup.dtype == torch.float32 and setup.fixed_batch_size is None
    assert calls == [] and model.training  # nothing ran, nothing switched


def test_a_named_device_is_also_where_the_model_goes():
    setup = RunSetup.prepare(DenseHead(), "conv", method="respond", precision="fp32", device="cpu")
    assert setup.map_of is MAP_RULES["respond"]
    assert setup.placement == torch.device("cpu")


@pytest.mark.parametrize(
    ("choice", "message"),
    [
        ({"method": "score"}, "Unknown CAM method 'score': choose one of 'respond', 'grad'"),
        ({"precision": "fp8"}, "Unknown precision 'fp8': choose one of 'fp32', 'bf16', 'fp16'"),
        ({"layer": "pol"}, "no layer named 'pol'. Did you mean 'pool'"),
        ({"device": "tpu0"}, "'tpu0' is not a device name"),
    ],
)
def test_wrong_choices_are_refused_with_what_to_choose(choice, message):
    arguments = {"layer": "pool", "method": "respond", "precision": "fp32", "device": None}
    arguments.update(choice)
    with pytest.raises(RespondCamError, match=message):
        RunSetup.prepare(DenseHead(), arguments.pop("layer"), **arguments)


def test_batch_size_is_the_exported_one_else_the_requested_one_else_the_default():
    setup = RunSetup.prepare(DenseHead(), "pool", method="respond", precision="fp32", device=None)
    assert setup.batch_size(None, default=7) == 7
    assert setup.batch_size(3, default=7) == 3
    with pytest.raises(RespondCamError, match="batch_size must be a positive int, not 0"):
        setup.batch_size(0, default=7)
    exported = DenseHead()
    exported.fixed_batch_size = 4
    fixed = RunSetup.prepare(exported, "pool", method="respond", precision="fp32", device=None)
    assert fixed.batch_size(3, default=7) == 4


def test_running_switches_to_eval_with_autograd_and_restores_the_flags():
    model = DenseHead().train()
    model.fc1.eval()
    setup = RunSetup.prepare(model, "pool", method="respond", precision="fp32", device="cpu")
    with torch.inference_mode():
        with setup.running():
            assert not any(m.training for m in model.modules())
            assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    assert model.training and model.conv.training and not model.fc1.training


def test_flags_are_restored_when_the_run_fails():
    model = DenseHead().train()
    setup = RunSetup.prepare(model, "pool", method="respond", precision="fp32", device=None)
    with pytest.raises(RuntimeError, match="boom"), setup.running():
        raise RuntimeError("boom")
    assert all(m.training for m in model.modules())
