"""The model registry: registering, listing order, overwriting, and building named models."""

import warnings

import pytest
import torch
from torch import nn

from napari_respond_cam import RespondCamError, available_models, load_model, register_model
from napari_respond_cam.models import registry
from napari_respond_cam.models.registry import build_registered, registered

BUILT_IN = ["cnn2-demo", "cnn1-demo", "unet-demo", "cnn1", "cnn2"]


@pytest.fixture(autouse=True)
def private_registry(monkeypatch):
    """A copy of the registry, so that models registered here do not leak."""
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))


def linear(seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    return nn.Linear(3, 2)


def test_built_in_models_come_demo_first():
    assert available_models()[: len(BUILT_IN)] == BUILT_IN


def test_new_models_are_listed_last_unless_first():
    before = available_models()
    register_model("a", linear())
    register_model("b", linear)
    assert available_models() == [*before, "a", "b"]
    register_model("c", linear, first=True)
    assert available_models() == ["c", *before, "a", "b"]
    register_model("d", linear, first=True)
    assert available_models() == ["d", "c", *before, "a", "b"]


def test_available_models_is_a_copy():
    before = available_models()
    names = available_models()
    names.clear()
    assert available_models() == before


def test_a_live_module_is_handed_back_as_the_same_object_each_time():
    module = linear().train()
    weight = module.weight.detach().clone()
    register_model("live", module)
    assert registered("live").live
    assert build_registered("live") is module
    assert load_model("live") is module
    assert module.training
    assert torch.equal(module.weight, weight)


def test_a_factory_builds_a_new_model_with_class_names_and_input_shape_attached():
    calls = []

    def factory():
        calls.append(1)
        return linear(seed=len(calls))

    register_model("built", factory, class_names=["a", "b"], input_shape=[3])
    entry = registered("built")
    assert not entry.live and entry.trained
    assert entry.class_names == ("a", "b") and entry.input_shape == (3,)
    first, second = build_registered("built"), build_registered("built")
    assert first is not second and len(calls) == 2
    assert first.class_names == ("a", "b") and first.input_shape == (3,)
    assert not torch.equal(first.weight, second.weight)


def test_a_factory_without_metadata_attaches_none():
    register_model("bare", linear)
    model = build_registered("bare")
    assert not hasattr(model, "class_names") and not hasattr(model, "input_shape")


def test_loading_a_factory_model_by_name_puts_it_in_eval_mode():
    register_model("train-mode", lambda: linear().train())
    assert not load_model("train-mode").training


def test_an_untrained_architecture_warns_when_built():
    register_model("random", linear, trained=False, description="random weights")
    assert registered("random").description == "random weights"
    with pytest.warns(UserWarning, match=r"'random' has random weights .*register it again once"):
        model = load_model("random")  # not an architecture: no --architecture advice
    with pytest.warns(UserWarning, match=r"--model FILE --architecture cnn2 on the command line"):
        load_model("cnn2")
    assert isinstance(model, nn.Linear)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register_model("trained", linear)
        load_model("trained")


def test_a_taken_name_is_refused_and_the_first_model_kept():
    module = linear()
    register_model("mine", module)
    names = available_models()
    with pytest.raises(RespondCamError, match=r"model named 'mine' is already registered"):
        register_model("mine", linear(seed=1), class_names=["x", "y"], first=True)
    assert available_models() == names
    assert load_model("mine") is module
    assert registered("mine").class_names is None
    with pytest.raises(RespondCamError, match="'cnn1-demo' is already registered"):
        register_model("cnn1-demo", module)


def test_overwrite_replaces_the_entry_in_its_place():
    old, new = linear(seed=0), linear(seed=1)
    register_model("mine", old)
    register_model("after mine", linear(seed=2))
    names = available_models()
    register_model("mine", new, overwrite=True)
    assert load_model("mine") is new
    assert available_models() == names
    register_model("mine", linear, class_names=["p", "q"], overwrite=True, first=True)
    assert available_models()[0] == "mine"
    assert available_models().count("mine") == 1
    assert build_registered("mine").class_names == ("p", "q")


def test_unknown_names_are_none():
    assert registered("no such model") is None


def test_a_live_module_gains_the_names_and_shape_it_was_registered_with():
    module = nn.Linear(2, 2)
    register_model("named live", module, class_names=["a", "b"], input_shape=(1, 8, 8, 8))
    assert load_model("named live") is module
    assert module.class_names == ("a", "b") and module.input_shape == (1, 8, 8, 8)


def test_a_registered_background_class_is_attached_and_checked():
    names = ["background", "ribosome"]
    register_model("seg", linear, class_names=names, background_class=0)
    assert registered("seg").background_class == 0
    assert load_model("seg").background_class == 0
    assert build_registered("cnn1-demo").background_class == 5  # from its weights file
    for bad in (2, -1, 1.0, True):
        with pytest.raises(RespondCamError, match=rf"a whole number from 0 to 1, not {bad!r}\."):
            register_model("bad", linear, class_names=names, background_class=bad)
    with pytest.raises(RespondCamError, match=r"a whole number, not 'x'\."):
        register_model("bad", linear, background_class="x")
    assert "bad" not in available_models()
    assert registered("seg").background_class == 0


def test_class_names_given_twice_are_refused_at_registration():
    with pytest.raises(RespondCamError, match=r"names 'ribosome' more than once; give each"):
        register_model("twice", linear, class_names=["ribosome", "ribosome"])
    assert "twice" not in available_models()


def test_an_architecture_for_a_registered_name_is_refused_not_ignored():
    with pytest.raises(RespondCamError) as refused:
        load_model("cnn2-demo", architecture="cnn1")
    assert str(refused.value) == (
        "'cnn2-demo' is a registered model, built as it was registered: architecture only "
        "applies to the bare weights of a model file. Drop architecture (architecture in "
        "Python, --architecture on the command line), or name a file of weights."
    )
    with pytest.raises(RespondCamError, match="architecture and input_size only apply to"):
        load_model("cnn1", architecture="cnn1", input_size=40)
