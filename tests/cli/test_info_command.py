"""respond-cam --version, info and --help: what a bug report needs, and a help that is instant."""

import platform
import subprocess
import sys
from importlib.metadata import version

import pytest
import torch

import napari_respond_cam
from napari_respond_cam.cli import main


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"respond-cam {napari_respond_cam.__version__}\n"


def test_info_reports_versions_platform_and_devices(capsys):
    assert main(["info"]) == 0
    lines = capsys.readouterr().out.splitlines()
    facts = dict(line.split(": ", 1) for line in lines if not line.startswith("  "))
    assert facts["napari-respond-cam"] == napari_respond_cam.__version__
    assert facts["Python"].startswith(f"{platform.python_version()} (CPython, ")
    assert facts["platform"] == platform.platform()
    assert facts["torch"] == (
        f"{torch.__version__} (CUDA {torch.version.cuda or 'none'}, cuDNN "
        f"{torch.backends.cudnn.version() or 'none'})"
    )
    best = "cuda" if torch.cuda.is_available() else "cpu"
    assert facts["devices"].startswith(best) and "cpu" in facts["devices"]
    gpus = [line for line in lines if line.startswith("  cuda:")]
    assert len(gpus) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    assert facts["numpy"] == version("numpy") and facts["napari"] == version("napari")
    assert facts["Qt binding"].startswith(f"PyQt6 {version('PyQt6')}, Qt {version('PyQt6-Qt6')}")
    assert facts["mrcfile"] == version("mrcfile")
    assert facts["dask"] == f"{version('dask')} (distributed {version('distributed')})"


def test_info_names_the_qt_api_asked_for(capsys, monkeypatch):
    monkeypatch.setenv("QT_API", "pyqt6")
    assert main(["info"]) == 0
    assert f"(qtpy {version('qtpy')}, QT_API pyqt6)" in capsys.readouterr().out


def test_help_and_version_load_neither_torch_nor_qt():
    code = (
        "import sys\n"
        "from napari_respond_cam.cli import main\n"
        "for argv in (['--help'], ['--version'], ['explain', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted({'torch', 'qtpy', 'PyQt6', 'dask'} & set(sys.modules)), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stderr == "[]\n"
    assert "respond-cam" in done.stdout and "info" in done.stdout
