"""Model files that would run code: refused untouched, unless the user trusts them.

Every hostile file here, loaded by torch as it is, writes a marker file: the tests
check that without trust nothing writes it, through ``load_model`` and the command
line, that the refusal says what to do, and that genuine files still load.
"""

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from napari_respond_cam import RespondCamError, load_model, save_model
from napari_respond_cam.cli import main
from napari_respond_cam.models.model_files import METADATA_KEY
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.mrc_io import write_mrc
from tiny_classifier import tiny_cnn1

#: PyTorch's advice to load unsafely, which our messages must never pass on.
UNSAFE_ADVICE = re.compile(r"weights_only\W*(set to\W*|=\W*)?False|re-?run", re.IGNORECASE)


class WritesMarker:
    """Unpickling this runs Python: it creates the file at ``path``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return exec, (f"open({self.path!r}, 'w').close()",)


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "code-ran"


@pytest.fixture
def cnn1():
    return tiny_cnn1()


@pytest.fixture
def tomogram(tmp_path):
    data = np.random.default_rng(0).normal(size=(20, 20, 20)).astype(np.float32)
    return write_mrc(tmp_path / "tomo.mrc", data, voxel_size=(10.0, 10.0, 10.0))


def torch_saved(obj, **kwargs) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def rewrite_zip(source: Path, target: Path, change: dict, add: dict | None = None) -> Path:
    """Copy a zip archive, replacing members by ``change[suffix](old bytes)``, adding ``add``."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        prefix = old.namelist()[0].split("/")[0]
        for info in old.infolist():
            data = old.read(info.filename)
            for suffix, replace in change.items():
                if info.filename.endswith(suffix):
                    data = replace(data)
            new.writestr(info, data)
        for name, data in (add or {}).items():
            new.writestr(f"{prefix}/{name}", data)
    return target


def edit_json(edit):
    def replace(data: bytes) -> bytes:
        document = json.loads(data)
        edit(document)
        return json.dumps(document).encode()

    return replace


# --- the hostile files, one builder per way in -------------------------------------


def pt2_sample_inputs(genuine, tmp_path, marker):
    """The example inputs, which torch.export.load retries with weights_only=False."""
    hostile = {"data/sample_inputs/model.pt": lambda _: torch_saved(WritesMarker(marker))}
    return rewrite_zip(genuine, tmp_path / "inputs.pt2", hostile)


def pt2_pickled_weight(genuine, tmp_path, marker):
    """A weight marked as pickled, which torch unpickles with weights_only=False."""

    def pickled(config):
        config["config"]["conv1.0.weight"]["use_pickle"] = True

    hostile = {
        "model_weights_config.json": edit_json(pickled),
        "data/weights/weight_0": lambda _: torch_saved(WritesMarker(marker)),
    }
    return rewrite_zip(genuine, tmp_path / "weight.pt2", hostile)


def pt2_opaque_constant(genuine, tmp_path, marker):
    """An opaque constant, which torch reads with plain pickle.loads."""
    import pickle

    def opaque(config):
        config["config"]["evil"] = {"path_name": "opaque_obj_0", "is_param": False,
                                    "use_pickle": True, "tensor_meta": None}  # fmt: skip

    hostile = {"model_constants_config.json": edit_json(opaque)}
    member = {"data/constants/opaque_obj_0": pickle.dumps(WritesMarker(marker), protocol=2)}
    return rewrite_zip(genuine, tmp_path / "constant.pt2", hostile, member)


def pt2_shape_expression(genuine, tmp_path, marker):
    """A symbolic size, which torch hands to sympy.sympify, which evaluates it."""
    code = f"sympify.__globals__['__builtins__']['exec'](\"open({str(marker)!r}, 'w').close()\")"

    def evaluated(program):
        program["graph_module"]["graph"]["tensor_values"]["x"]["sizes"][0]["as_expr"][
            "expr_str"
        ] = code

    return rewrite_zip(genuine, tmp_path / "shape.pt2", {"models/model.json": edit_json(evaluated)})


def pt2_guard_code(genuine, tmp_path, marker):
    """A guard on the input's sizes, which torch pastes into a function it executes."""
    code = f"open({str(marker)!r}, 'w').close() is None"

    def guarded(program):
        program["guards_code"] = ["L['x'].size()[0] >= 1", code]

    return rewrite_zip(genuine, tmp_path / "guard.pt2", {"models/model.json": edit_json(guarded)})


def pt2_input_name(genuine, tmp_path, marker):
    """An input name, which torch.fx pastes into the forward() it compiles."""
    name = f"x=exec(\"open({str(marker)!r}, 'w').close()\")"

    def renamed(data: bytes) -> bytes:
        return data.decode().replace('"x"', json.dumps(name)).encode()

    return rewrite_zip(genuine, tmp_path / "name.pt2", {"models/model.json": renamed})


def pt_pickled_code(suffix):
    def build(genuine, tmp_path, marker):
        path = tmp_path / f"whole{suffix}"
        torch.save(WritesMarker(marker), path)
        return path

    build.__name__ = f"pickled_code_{suffix[1:]}"
    return build


def pt_legacy_format(genuine, tmp_path, marker):
    """The pre-zip torch.save format: a run of pickles."""
    path = tmp_path / "legacy.pt"
    torch.save(WritesMarker(marker), path, _use_new_zipfile_serialization=False)
    return path


def torchscript_looking(genuine, tmp_path, marker):
    """A zip that torch.load would hand to torch.jit.load, with a hostile pickle."""
    path = tmp_path / "scripted.pt"
    hostile = torch_saved(WritesMarker(marker))
    with zipfile.ZipFile(io.BytesIO(hostile)) as saved, zipfile.ZipFile(path, "w") as new:
        for name in saved.namelist():
            new.writestr(name, saved.read(name))
        new.writestr("archive/constants.pkl", saved.read("archive/data.pkl"))
    return path


HOSTILE_PT2 = [
    pt2_sample_inputs,
    pt2_pickled_weight,
    pt2_opaque_constant,
    pt2_shape_expression,
    pt2_input_name,
]
HOSTILE = [
    *HOSTILE_PT2,
    pt2_guard_code,
    pt_pickled_code(".pt"),
    pt_pickled_code(".pth"),
    pt_legacy_format,
    torchscript_looking,
]


@pytest.fixture
def genuine_pt2(cnn1, tmp_path):
    return save_model(cnn1, tmp_path / "genuine.pt2")


def refuses_without_running(load, path, marker):
    """Run ``load(path)``, which must leave no marker and the file as it was."""
    before = path.read_bytes()
    result = load(path)
    assert not marker.exists(), "code from the file ran"
    assert path.read_bytes() == before
    return result


def says_what_to_do(message: str) -> None:
    assert not UNSAFE_ADVICE.search(message), message


@pytest.mark.parametrize("build", HOSTILE, ids=lambda b: b.__name__)
def test_load_model_runs_no_code_from_the_file(build, genuine_pt2, tmp_path, marker):
    path = build(genuine_pt2, tmp_path, marker)

    def load(p):
        with pytest.raises(RespondCamError) as refused:
            load_model(p)
        return str(refused.value)

    message = refuses_without_running(load, path, marker)
    assert path.name in message
    says_what_to_do(message)


@pytest.mark.parametrize("build", HOSTILE, ids=lambda b: b.__name__)
def test_the_command_line_runs_no_code_from_the_file(
    build, genuine_pt2, tmp_path, marker, tomogram, capsys
):
    path = build(genuine_pt2, tmp_path, marker)
    out = tmp_path / "maps"

    def explain(p):
        return main(["explain", str(tomogram), "--model", str(p), "--out", str(out)])

    assert refuses_without_running(explain, path, marker) == 1
    err = capsys.readouterr().err
    assert path.name in err
    says_what_to_do(err)
    assert not list(out.glob("*.mrc"))


@pytest.mark.parametrize(
    "build",
    [*HOSTILE_PT2, pt2_guard_code, pt_pickled_code(".pt"), pt_legacy_format],
    ids=lambda b: b.__name__,
)
def test_refusals_say_how_to_trust_the_file(build, genuine_pt2, tmp_path, marker):
    path = build(genuine_pt2, tmp_path, marker)
    with pytest.raises(RespondCamError) as refused:
        load_model(path)
    message = str(refused.value)
    for way in ("trust=True", "--trust", "tick 'trust this file'"):
        assert way in message


@pytest.mark.parametrize("build", [*HOSTILE_PT2, pt_pickled_code(".pt")], ids=lambda b: b.__name__)
def test_the_hostile_files_do_run_code_when_trusted(build, genuine_pt2, tmp_path, marker):
    # The files above are live: with trust, torch's own behaviour runs their code.
    path = build(genuine_pt2, tmp_path, marker)
    try:
        load_model(path, trust=True)
    except RespondCamError:
        pass  # what the code left behind is no model
    assert marker.exists()


def test_the_hostile_guard_runs_in_torchs_own_reader(cnn1, genuine_pt2, tmp_path, marker):
    # Our loader unflattens the program and never runs its guards; torch's module() does.
    path = pt2_guard_code(genuine_pt2, tmp_path, marker)
    torch.export.load(path).module()(torch.zeros(2, *cnn1.input_shape))
    assert marker.exists()


def test_an_aotinductor_archive_is_refused(genuine_pt2, tmp_path):
    library = {"data/aotinductor/model/model.so": b"\x7fELF not really"}
    path = rewrite_zip(genuine_pt2, tmp_path / "compiled.pt2", {}, library)
    with pytest.raises(RespondCamError, match="data/aotinductor/model/model.so"):
        load_model(path)


def test_a_pytree_spec_that_imports_modules_is_refused(genuine_pt2, tmp_path):
    def imports(program):
        [entry, *_] = program["graph_module"]["module_call_graph"]
        spec = json.loads(entry["signature"]["out_spec"])
        spec[1]["context"] = json.dumps({"__enum__": True, "fqn": "antigravity:x", "name": "y"})
        entry["signature"]["out_spec"] = json.dumps(spec)

    path = rewrite_zip(
        genuine_pt2, tmp_path / "spec.pt2", {"models/model.json": edit_json(imports)}
    )
    with pytest.raises(RespondCamError, match="imports Python modules"):
        load_model(path)


def test_twin_members_are_refused(genuine_pt2, tmp_path, marker):
    # torch's zip reader ignores case: the twin it reads may not be the one checked.
    twin = {"data/sample_inputs/MODEL.pt": torch_saved(WritesMarker(marker))}
    path = rewrite_zip(genuine_pt2, tmp_path / "twins.pt2", {}, twin)
    with pytest.raises(RespondCamError, match="same name"):
        refuses_without_running(load_model, path, marker)


def copy_into_a_second_folder(genuine: Path, target: Path, hostile: bytes) -> Path:
    """The genuine archive, plus a copy of it under another top folder, first in the zip,
    whose sample inputs are hostile."""
    with zipfile.ZipFile(genuine) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            inner = info.filename.split("/", 1)[1]
            data = hostile if inner == "data/sample_inputs/model.pt" else old.read(info)
            new.writestr(f"evil/{inner}", data)
        for info in old.infolist():
            new.writestr(info, old.read(info))
    return target


def test_members_in_two_top_folders_are_refused(genuine_pt2, tmp_path, marker):
    # Checked by their names inside the folder, one copy would stand for the other.
    path = copy_into_a_second_folder(
        genuine_pt2, tmp_path / "two.pt2", torch_saved(WritesMarker(marker))
    )
    with pytest.raises(RespondCamError, match="several top folders"):
        refuses_without_running(load_model, path, marker)


@pytest.mark.parametrize(
    "metadata",
    [
        {"architecture": "__import__('os').system('echo hi')", "config": {}},
        {"architecture": "cnn1", "config": {"__class__": "exec('1')", "input_size": "16"}},
        "not JSON {",
        ["a", "list"],
    ],
)
def test_safetensors_metadata_is_only_data(cnn1, tmp_path, metadata):
    from safetensors.torch import save_file

    path = tmp_path / "weights.safetensors"
    stored = metadata if isinstance(metadata, str) else json.dumps(metadata)
    save_file(cnn1.state_dict(), path, metadata={METADATA_KEY: stored})
    before = path.read_bytes()
    with pytest.raises(RespondCamError) as refused:
        load_model(path)
    assert path.read_bytes() == before
    says_what_to_do(str(refused.value))


@pytest.mark.parametrize("suffix", [".pt2", ".pt", ".pth", ".safetensors"])
def test_genuine_files_still_load(cnn1, tmp_path, suffix):
    loaded = load_model(save_model(cnn1, tmp_path / f"model{suffix}"))
    assert loaded.class_names == cnn1.class_names
    x = torch.rand(2, 1, 16, 16, 16)
    torch.testing.assert_close(loaded(x), cnn1(x), rtol=1e-5, atol=1e-6)


def test_a_genuine_legacy_state_dict_still_loads(cnn1, tmp_path):
    path = tmp_path / "old.pt"
    torch.save(cnn1.state_dict(), path, _use_new_zipfile_serialization=False)
    assert isinstance(load_model(path, architecture="cnn1"), CNN1)


def test_torch_advice_is_not_passed_on(tmp_path):
    # Nothing but a string handed to persistent_load: torch's weights_only reader fails
    # and advises re-running with weights_only=False, which our message must not repeat.
    path = tmp_path / "broken.pt"
    path.write_bytes(b"\x80\x02X\x01\x00\x00\x00aQ.")
    with pytest.raises(RespondCamError, match="Could not read the model file broken.pt") as err:
        load_model(path)
    says_what_to_do(str(err.value))
    assert "persistent_load id must be tuple or int" in str(err.value)


@pytest.mark.parametrize(
    "content",
    [b"\x80\x02ccollections\nOrderedDict\nK\x05\x85R.", b"\x80\x02]q\x00h\x05."],
    ids=["bad-call", "bad-memo"],
)
def test_damaged_pickles_are_unreadable_not_crashes(tmp_path, content):
    path = tmp_path / "damaged.pt"
    path.write_bytes(content)
    with pytest.raises(RespondCamError, match="Could not read the model file damaged.pt"):
        load_model(path)
