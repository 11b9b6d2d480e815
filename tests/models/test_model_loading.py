"""load_model / save_model: every file kind we accept, and the ones we refuse."""

import json
import re
import sys
import warnings

import numpy as np
import pytest
import torch

from napari_respond_cam import (
    RespondCamError,
    available_models,
    explain,
    load_model,
    save_model,
    target_layers,
)
from napari_respond_cam.engine.preprocessing import Preprocessing
from napari_respond_cam.models.paper_cnns import CNN1, CNN2
from tiny_classifier import tiny_cnn1
from toy_models import TinyUNet

X = torch.rand(3, 1, 16, 16, 16, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def cnn1():
    return tiny_cnn1()


def same_maps(a, b, x=X, layer="maxpool2"):
    first, second = explain(a, x, layer, target="all"), explain(b, x, layer, target="all")
    np.testing.assert_allclose(first.cam, second.cam, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(first.scores, second.scores, rtol=1e-5)


def test_registry_lists_the_paper_networks():
    names = available_models()
    assert {"cnn1", "cnn2"} <= set(names)
    with pytest.warns(UserWarning):
        model = load_model("cnn2")
    assert isinstance(model, CNN2)
    assert model.input_shape == (1, 40, 40, 40)
    assert len(model.class_names) == 5
    assert not model.training


def test_pt2_round_trip_keeps_layer_names_and_maps(cnn1, tmp_path):
    path = save_model(cnn1, tmp_path / "model.pt2")
    loaded = load_model(path)
    assert "maxpool2" in dict(loaded.named_modules())
    assert loaded.class_names == cnn1.class_names
    assert loaded.input_shape == (1, 16, 16, 16)
    same_maps(cnn1, loaded)


def test_pt2_exported_with_a_fixed_batch_explains_any_batch(cnn1, tmp_path):
    program = torch.export.export(cnn1, (torch.zeros(2, 1, 16, 16, 16),))
    torch.export.save(program, tmp_path / "fixed.pt2")
    loaded = load_model(tmp_path / "fixed.pt2")
    assert loaded.fixed_batch_size == 2
    # Its layers are found on a batch of two zeros (one sample failed inside the program).
    assert target_layers(loaded) == target_layers(cnn1)
    same_maps(cnn1, loaded)  # three samples: two batches, the last one padded


def test_pt2_of_a_unet_keeps_its_skip_connection(tmp_path):
    torch.manual_seed(0)
    unet = TinyUNet().eval()
    save_model(unet, tmp_path / "unet.pt2", example_input=torch.zeros(2, 1, 8, 8, 8))
    loaded = load_model(tmp_path / "unet.pt2")
    x = torch.rand(2, 1, 8, 8, 8)
    ours = explain(unet, x, "enc", target=lambda out: out[:, 1].sum(dim=(1, 2, 3)))
    theirs = explain(loaded, x, "enc", target=lambda out: out[:, 1].sum(dim=(1, 2, 3)))
    np.testing.assert_allclose(theirs.cam, ours.cam, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".safetensors"])
def test_checkpoint_round_trip(cnn1, tmp_path, suffix):
    loaded = load_model(save_model(cnn1, tmp_path / f"model{suffix}"))
    assert isinstance(loaded, CNN1)
    assert loaded.class_names == cnn1.class_names
    assert loaded.config == cnn1.config
    same_maps(cnn1, loaded)


def test_bare_state_dict_needs_and_infers_its_architecture(cnn1, tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(cnn1.state_dict(), path)
    with pytest.raises(RespondCamError, match="architecture='cnn1'"):
        load_model(path)
    loaded = load_model(path, architecture="cnn1")
    assert loaded.config == cnn1.config
    same_maps(cnn1, loaded)


def test_bare_paper_cnn_weights_say_the_input_size_they_were_built_for(tmp_path):
    torch.manual_seed(0)
    cnn2 = CNN2(num_classes=3, input_size=16, channels=(2, 2, 2, 2), dense=(4, 4))
    path = tmp_path / "weights.pt"
    torch.save(cnn2.state_dict(), path)

    with pytest.warns(UserWarning) as caught:
        as_cnn1 = load_model(path, architecture="cnn1")  # the weights fit, at half the size
    [warning] = caught
    assert str(warning.message) == (
        "weights.pt holds bare weights, built as cnn1 for inputs of 8^3 voxels, the size they "
        "fit. The same weights fit cnn2 at 16^3: if they are cnn2's, load them with "
        "architecture='cnn2' in Python, --architecture cnn2 on the command line, the "
        "'architecture' control set to cnn2 in napari. Saved with save_model, the file "
        "records its architecture and loads without this note."
    )
    assert warning.filename == __file__  # at the user's line, not inside the library
    assert as_cnn1.input_shape == (1, 8, 8, 8)
    with pytest.warns(UserWarning, match="built as cnn2 for inputs of 16\\^3 voxels"):
        assert load_model(path, architecture="cnn2").input_shape == (1, 16, 16, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a file that records its architecture is not in doubt
        assert isinstance(load_model(save_model(cnn2, tmp_path / "named.pt")), CNN2)


def test_state_dict_of_another_architecture(cnn1, tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(cnn1.state_dict(), path)
    with pytest.raises(RespondCamError, match="do not fit the architecture 'cnn2'"):
        load_model(path, architecture="cnn2", input_size=40)
    with pytest.raises(RespondCamError, match="Unknown architecture 'resnet'"):
        load_model(path, architecture="resnet")


def test_pickled_module_needs_trust(cnn1, tmp_path):
    path = tmp_path / "whole.pt"
    torch.save(cnn1, path)
    with pytest.raises(RespondCamError, match="trust=True"):
        load_model(path)
    loaded = load_model(path, trust=True)
    same_maps(cnn1, loaded)


def test_trusted_module_whose_class_is_gone_says_so_not_corrupt(tmp_path, monkeypatch):
    (tmp_path / "my_net.py").write_text(
        "import torch\nclass Tiny(torch.nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.conv = torch.nn.Conv3d(1, 2, 3)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_net

    path = tmp_path / "whole.pt"
    torch.save(my_net.Tiny(), path)
    monkeypatch.delitem(sys.modules, "my_net")
    (tmp_path / "my_net.py").unlink()
    with pytest.raises(
        RespondCamError, match=r"class cannot be imported here \(No module named 'my_net'\)"
    ) as caught:
        load_model(path, trust=True)
    assert "corrupt" not in str(caught.value)


def checkpoint_of(network, **entries):
    optimiser = torch.optim.Adam(network.parameters())
    return {"epoch": 3, "optimizer": optimiser.state_dict(), **entries}


@pytest.mark.parametrize("key", ["state_dict", "model_state_dict", "model"])
def test_a_training_checkpoint_loads_its_weights_with_a_note(cnn1, tmp_path, key):
    path = tmp_path / "epoch3.pth"
    torch.save(checkpoint_of(cnn1, **{key: cnn1.state_dict()}), path)
    with pytest.warns(UserWarning, match=rf"training checkpoint .* from its '{key}' entry"):
        loaded = load_model(path, architecture="cnn1")
    same_maps(cnn1, loaded)


def test_a_lightning_checkpoint_loses_the_wrapper_prefix(cnn1, tmp_path):
    # Lightning saves the LightningModule's state dict: every weight under its attribute.
    wrapped = {f"net.{key}": value for key, value in cnn1.state_dict().items()}
    path = tmp_path / "last.ckpt"  # as Lightning names it
    torch.save(checkpoint_of(cnn1, state_dict=wrapped), path)
    with pytest.warns(UserWarning) as notes:
        loaded = load_model(path, architecture="cnn1")
    said = " ".join(str(note.message) for note in notes)
    assert "'state_dict' entry" in said and "starts with 'net.'; the prefix was removed" in said
    same_maps(cnn1, loaded)


def test_wrapped_weights_of_another_size_name_the_size_not_the_prefix(cnn1, tmp_path):
    wrapped = {f"net.{key}": value for key, value in cnn1.state_dict().items()}
    wrapped["net.fc3.weight"] = torch.zeros(3, 7)
    path = tmp_path / "resized.pt"
    torch.save(wrapped, path)
    with pytest.raises(RespondCamError, match=r"size mismatch for fc3\.weight"):
        load_model(path, architecture="cnn1")


def test_a_checkpoint_with_two_sets_of_weights_or_none_asks_which(cnn1, tmp_path):
    path = tmp_path / "two.pt"
    torch.save(checkpoint_of(cnn1, model=cnn1.state_dict(), ema=cnn1.state_dict()), path)
    with pytest.raises(RespondCamError, match=r"several sets of weights \('model', 'ema'\)"):
        load_model(path, architecture="cnn1")
    torch.save(checkpoint_of(cnn1), path)
    with pytest.raises(
        RespondCamError, match=r"no set of weights among its entries \('epoch', 'optimizer'\)"
    ):
        load_model(path, architecture="cnn1")


def test_weights_of_another_network_name_the_weight_missing(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"encoder.weight": torch.zeros(2, 2), "head.bias": torch.zeros(2)}, path)
    with pytest.raises(
        RespondCamError,
        match=r"'cnn1': it needs a weight named 'conv1\.0\.weight', and the file's weights "
        r"are named 'encoder\.weight', 'head\.bias'",
    ):
        load_model(path, architecture="cnn1")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_is_refused_with_how_to_export(cnn1, tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(cnn1), path)
    with pytest.raises(RespondCamError, match=r"TorchScript.*torch\.export\.export"):
        load_model(path)


@pytest.mark.parametrize("suffix", [".pt", ".pt2", ".safetensors"])
def test_corrupt_files(cnn1, tmp_path, suffix):
    good = save_model(cnn1, tmp_path / f"good{suffix}")
    truncated = tmp_path / f"truncated{suffix}"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(RespondCamError, match="Could not read the model file truncated"):
        load_model(truncated)
    noise = tmp_path / f"noise{suffix}"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(RespondCamError, match="Could not read the model file noise") as err:
        load_model(noise)
    assert str(err.value).endswith("Save or download it again, and retry.")
    assert "MalformedFile" not in str(err.value)


def test_unknown_name_lists_the_models():
    with pytest.raises(RespondCamError, match="neither a model name.*'cnn1'"):
        load_model("cnn3")


def test_live_module_is_handed_back_untouched(cnn1):
    cnn1.train()
    assert load_model(cnn1) is cnn1
    assert cnn1.training


def test_save_refuses_unknown_suffix_and_unregistered_weights(tmp_path):
    with pytest.raises(RespondCamError, match="use a .pt2"):
        save_model(TinyUNet(), tmp_path / "model.onnx")
    with pytest.raises(RespondCamError, match="save it as a .pt2"):
        save_model(TinyUNet(), tmp_path / "model.pt")


def test_loading_warns_nothing_for_trained_files(cnn1, tmp_path):
    path = save_model(cnn1, tmp_path / "model.pt2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(path)


def test_live_module_registered_by_name_is_handed_back_untouched(cnn1):
    from napari_respond_cam import register_model

    cnn1.train()
    register_model("my live cnn", cnn1, overwrite=True)
    assert load_model("my live cnn") is cnn1
    assert cnn1.training


@pytest.mark.parametrize("source", [123, None, 4.5])
def test_a_source_that_is_no_name_file_or_module(source):
    with pytest.raises(
        RespondCamError, match=rf"takes a model name \('cnn2-demo'.* not \w+ {source}"
    ):
        load_model(source)


def test_weights_saved_from_data_parallel_load_with_a_note(cnn1, tmp_path):
    # DistributedDataParallel names its weights the same way but needs a process group.
    state = torch.nn.DataParallel(cnn1).state_dict()
    path = tmp_path / "parallel.pt"
    torch.save(state, path)
    before = path.read_bytes()
    assert all(key.startswith("module.") for key in state)
    with pytest.warns(
        UserWarning, match=r"wrapper \(DataParallel.*starts with 'module\.'.*prefix was removed"
    ):
        loaded = load_model(path, architecture="cnn1")
    assert loaded.config == cnn1.config
    same_maps(cnn1, loaded)
    assert path.read_bytes() == before


def test_bare_weights_name_the_architecture_setting_of_every_front_end(cnn1, tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(cnn1.state_dict(), path)
    message = (
        r"architecture='cnn1' in Python, --architecture cnn1 on the command line, the "
        r"'architecture' control set to cnn1 in napari"
    )
    with pytest.raises(RespondCamError, match=message):
        load_model(path)


@pytest.mark.parametrize("suffix", [".pt2", ".pt", ".safetensors"])
def test_preprocessing_and_voxel_size_travel_with_the_file(cnn1, tmp_path, suffix):
    chosen = Preprocessing("percentile", low=0.5, high=99.5, invert=True)
    cnn1.preprocessing, cnn1.voxel_size_a = chosen, 13.7
    loaded = load_model(save_model(cnn1, tmp_path / f"model{suffix}"))
    assert loaded.preprocessing == chosen
    assert loaded.voxel_size_a == 13.7
    x = torch.rand(2, 1, 16, 16, 16, generator=torch.Generator().manual_seed(1)) * 900 + 40
    ours, theirs = explain(cnn1, x, "maxpool2"), explain(loaded, x, "maxpool2")
    np.testing.assert_allclose(theirs.cam, ours.cam, rtol=1e-5, atol=1e-7)
    bare = tiny_cnn1()
    assert not hasattr(load_model(save_model(bare, tmp_path / f"bare{suffix}")), "preprocessing")


def test_a_preprocessing_in_a_file_that_is_not_one_is_unreadable(cnn1, tmp_path):
    path = tmp_path / "model.pt"
    checkpoint = {
        "format": "napari-respond-cam/1",
        "architecture": "cnn1",
        "config": cnn1.config,
        "preprocessing": {"kind": "zz"},
        "state_dict": cnn1.state_dict(),
    }
    torch.save(checkpoint, path)
    with pytest.raises(RespondCamError, match=r"Could not read the model file model.pt.*'zz'"):
        load_model(path)


def test_the_demo_models_z_score_each_window_and_were_trained_at_11_4_a():
    for name in ("cnn1-demo", "cnn2-demo"):
        model = load_model(name)
        assert model.preprocessing == Preprocessing("zscore-window")
        assert model.voxel_size_a == 11.4


def test_registered_models_carry_their_preprocessing_and_voxel_size(cnn1, monkeypatch):
    from napari_respond_cam import register_model
    from napari_respond_cam.models import registry

    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))
    register_model("scaled", tiny_cnn1, preprocessing="zscore-tomogram", voxel_size_a=7)
    model = load_model("scaled")
    assert (model.preprocessing, model.voxel_size_a) == (Preprocessing("zscore-tomogram"), 7.0)
    with pytest.raises(RespondCamError, match="positive number, not -1"):
        register_model("bad", tiny_cnn1, voxel_size_a=-1)
    with pytest.raises(RespondCamError, match="Unknown preprocessing 'norm'"):
        register_model("bad", tiny_cnn1, preprocessing="norm")
    assert "bad" not in registry._MODELS


@pytest.mark.parametrize("suffix", [".pt2", ".pt", ".safetensors"])
def test_the_background_class_travels_with_the_file(cnn1, tmp_path, suffix):
    cnn1.background_class = 2
    assert load_model(save_model(cnn1, tmp_path / f"model{suffix}")).background_class == 2
    cnn1.background_class = 0
    assert load_model(save_model(cnn1, tmp_path / f"zero{suffix}")).background_class == 0
    bare = tiny_cnn1()
    assert not hasattr(load_model(save_model(bare, tmp_path / f"bare{suffix}")), "background_class")


@pytest.mark.parametrize(
    ("attribute", "value", "words"),
    [
        ("class_names", ("a", "b"), "names 2 classes but the model gives 3 outputs"),
        ("class_names", ("a", "b", "a"), "names 'a' more than once; give each class its own"),
        (
            "class_names",
            ("a", "", "c"),
            "the classes' names, as non-empty text, not ['a', '', 'c']",
        ),
        ("voxel_size_a", 0.0, "a positive number, not 0.0"),
        ("voxel_size_a", float("nan"), "a positive number, not nan"),
        ("background_class", 3, "from 0 to 2, not 3"),
        ("input_shape", (1, 0, 16, 16), "at least 1, not (1, 0, 16, 16)"),
    ],
)
@pytest.mark.parametrize("suffix", [".pt2", ".safetensors"])
def test_save_refuses_metadata_that_does_not_fit_the_model(
    cnn1, tmp_path, suffix, attribute, value, words
):
    setattr(cnn1, attribute, value)
    path = tmp_path / f"model{suffix}"
    with pytest.raises(RespondCamError, match=re.escape(words)) as err:
        save_model(cnn1, path, example_input=torch.zeros(2, 1, 16, 16, 16))
    assert f"model{suffix} was not saved" in str(err.value)
    assert not path.exists()


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("class_names", ["a", "b"]),
        ("class_names", ["x", "x", "y"]),
        ("voxel_size_a", -2.0),
        ("background_class", 9),
        ("input_shape", [1, 8, 8, 8]),
        ("input_shape", [0]),
    ],
)
def test_a_file_whose_metadata_does_not_fit_loads_without_it_and_says_so(
    cnn1, tmp_path, attribute, value
):
    from safetensors.torch import save_file

    from napari_respond_cam.models.model_files import METADATA_KEY

    cnn1.voxel_size_a, cnn1.background_class = 11.4, 2
    metadata = {**_stored_metadata(cnn1), attribute: value}
    state = {k: v.contiguous() for k, v in cnn1.state_dict().items()}
    path = tmp_path / "edited.safetensors"
    save_file(state, path, metadata={METADATA_KEY: json.dumps(metadata)})
    with pytest.warns(UserWarning, match=f"edited.safetensors: .*Going on without its {attribute}"):
        loaded = load_model(path)
    assert getattr(loaded, attribute) is None
    kept = {"class_names": cnn1.class_names, "voxel_size_a": 11.4, "background_class": 2}
    kept.pop(attribute, None)
    assert {name: getattr(loaded, name) for name in kept} == kept
    same_maps(cnn1, loaded)


def _stored_metadata(model):
    from napari_respond_cam.models.model_files import _metadata

    return _metadata(model)


def test_a_pt2_saved_from_one_example_sample_keeps_its_batch_free(cnn1, tmp_path):
    path = save_model(cnn1, tmp_path / "one.pt2", example_input=torch.zeros(1, 1, 16, 16, 16))
    loaded = load_model(path)
    assert getattr(loaded, "fixed_batch_size", None) is None
    same_maps(cnn1, loaded)


@pytest.mark.parametrize("suffix", [".pt2", ".pt", ".safetensors"])
def test_a_saved_model_gets_the_permissions_of_any_new_file(cnn1, tmp_path, suffix):
    ordinary = tmp_path / "ordinary.txt"
    ordinary.write_text("")
    path = save_model(cnn1, tmp_path / f"model{suffix}")
    assert path.stat().st_mode & 0o777 == ordinary.stat().st_mode & 0o777


@pytest.mark.parametrize("shape", [(1, 8, 8, 8), (16, 16, 16)])
def test_save_refuses_an_input_shape_the_model_raises_an_error_on(cnn1, tmp_path, shape):
    cnn1.input_shape = shape
    with pytest.raises(RespondCamError) as err:
        save_model(cnn1, tmp_path / "model.safetensors")
    assert str(err.value).startswith(
        "model.safetensors was not saved: the model raised an error on zeros of its input_shape: "
    )
    assert not (tmp_path / "model.safetensors").exists()
