"""Load model file in the widget: a file that would run code is refused, not run."""

import io
import json
import zipfile

import pytest
import torch

from napari_respond_cam import save_model
from napari_respond_cam.models.paper_cnns import CNN1
from napari_respond_cam.napari_plugin.dock_widget import LOAD_FROM_FILE, RespondCamWidget

pytestmark = pytest.mark.gui


class WritesMarker:
    """Unpickling this runs Python: it creates the file at ``path``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return exec, (f"open({self.path!r}, 'w').close()",)


def tiny_cnn1() -> CNN1:
    torch.manual_seed(0)
    return CNN1(num_classes=3, input_size=16, channels=(4, 4, 8, 8), dense=(16, 16)).eval()


@pytest.fixture
def widget(make_napari_viewer, tiny_model):
    viewer = make_napari_viewer()
    widget = RespondCamWidget(viewer)
    viewer.window.add_dock_widget(widget)
    return widget


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "code-ran"


def hostile_pt(tmp_path, marker):
    path = tmp_path / "whole.pt"
    torch.save(WritesMarker(marker), path)
    return path


def rewritten_pt2(tmp_path, name, suffix, replace):
    """A genuine .pt2 with the member ending in ``suffix`` replaced."""
    genuine = save_model(tiny_cnn1(), tmp_path / "genuine.pt2")
    path = tmp_path / name
    with zipfile.ZipFile(genuine) as old, zipfile.ZipFile(path, "w") as new:
        for info in old.infolist():
            data = old.read(info.filename)
            new.writestr(info, replace(data) if info.filename.endswith(suffix) else data)
    return path


def hostile_sample_inputs(tmp_path, marker):
    """Example inputs that torch.export.load would unpickle with weights_only=False."""
    buffer = io.BytesIO()
    torch.save(WritesMarker(marker), buffer)
    payload = buffer.getvalue()
    return rewritten_pt2(tmp_path, "inputs.pt2", "sample_inputs/model.pt", lambda _: payload)


def hostile_shape(tmp_path, marker):
    """A symbolic size that sympy.sympify would evaluate."""
    code = f"sympify.__globals__['__builtins__']['exec'](\"open({str(marker)!r}, 'w').close()\")"

    def replace(data):
        program = json.loads(data)
        sizes = program["graph_module"]["graph"]["tensor_values"]["x"]["sizes"]
        sizes[0]["as_expr"]["expr_str"] = code
        return json.dumps(program).encode()

    return rewritten_pt2(tmp_path, "shape.pt2", "models/model.json", replace)


@pytest.mark.parametrize("build", [hostile_pt, hostile_sample_inputs, hostile_shape])
def test_untrusted_file_is_refused_and_runs_nothing(
    widget, tmp_path, marker, new_notifications, build
):
    path = build(tmp_path, marker)
    before = path.read_bytes()
    widget.model.value = LOAD_FROM_FILE
    widget.model_file.value = path
    widget.trust_file.value = False

    widget.load_file.native.click()

    assert not marker.exists(), "code from the file ran"
    assert path.read_bytes() == before
    message = new_notifications()[-1]
    assert path.name in message and "tick 'trust this file'" in message
    assert "weights_only" not in message
    assert widget.model.value == LOAD_FROM_FILE


def test_a_genuine_file_still_loads_untrusted(widget, tmp_path):
    path = save_model(tiny_cnn1(), tmp_path / "mine.pt2")
    widget.model.value = LOAD_FROM_FILE
    widget.model_file.value = path
    widget.trust_file.value = False

    widget.load_file.native.click()

    assert widget.model.value == "mine.pt2 (file)"
