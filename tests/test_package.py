"""The package as a user installs it: light import, a valid manifest napari can find."""

import subprocess
import sys
from pathlib import Path

import npe2

import napari_respond_cam

ROOT = Path(__file__).parents[1]


def test_import_does_not_load_torch():
    code = "import sys, napari_respond_cam; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_api_names():
    expected = {
        "available_models",
        "explain",
        "explain_layers",
        "explain_volume",
        "load_model",
        "predict_volume",
        "region_target",
        "RegionTarget",
        "target_layers",
    }
    assert expected <= set(napari_respond_cam.__all__)
    for name in napari_respond_cam.__all__:
        assert getattr(napari_respond_cam, name) is not None


def test_manifest_is_shipped_in_the_package_and_valid():
    shipped = Path(napari_respond_cam.__file__).parent / "napari.yaml"
    assert shipped.read_text() == (ROOT / "napari.yaml").read_text()
    manifest = npe2.PluginManifest.from_file(shipped)
    assert manifest.name == "napari-respond-cam"


def test_napari_finds_the_plugin_through_its_entry_point():
    manager = npe2.PluginManager()
    manager.discover()
    assert manager.get_manifest("napari-respond-cam").name == "napari-respond-cam"
