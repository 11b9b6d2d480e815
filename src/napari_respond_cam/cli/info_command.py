"""``respond-cam info``: the versions and devices a bug report needs, one fact per line."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version

from .. import __version__

#: The Qt bindings qtpy can use, each with the distribution whose version is its Qt's
#: (PySide is numbered after the Qt it wraps; PyQt ships Qt in a wheel of its own).
QT_BINDINGS = {
    "PyQt6": "PyQt6-Qt6",
    "PySide6": "PySide6",
    "PyQt5": "PyQt5-Qt5",
    "PySide2": "PySide2",
}

NOT_INSTALLED = "not installed"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``info`` subcommand."""
    parser = subparsers.add_parser(
        "info",
        help="print versions, platform and devices (paste them into a bug report)",
        description="Print the package's version, Python, the platform, torch with its "
        "CUDA and cuDNN, the devices torch sees, and the versions of numpy, napari, the "
        "Qt binding, mrcfile and dask: what a bug report needs.",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the report; 0."""
    print("\n".join(report_lines()))
    return 0


def report_lines() -> list[str]:
    """The report, one ``name: value`` line per fact."""
    return [
        f"napari-respond-cam: {__version__}",
        f"Python: {platform.python_version()} ({platform.python_implementation()}, "
        f"{sys.executable})",
        f"platform: {platform.platform()}",
        *_torch_lines(),
        f"numpy: {installed_version('numpy')}",
        f"napari: {installed_version('napari')}",
        f"Qt binding: {_qt_binding()}",
        f"mrcfile: {installed_version('mrcfile')}",
        f"dask: {installed_version('dask')} (distributed {installed_version('distributed')})",
    ]


def installed_version(distribution: str) -> str:
    """The installed version of ``distribution``, read without importing it."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return NOT_INSTALLED


def _torch_lines() -> list[str]:
    import torch

    from ..engine.devices import available_devices

    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    lines = [
        f"torch: {torch.__version__} (CUDA {torch.version.cuda or 'none'}, cuDNN "
        f"{cudnn or 'none'})",
        f"devices: {', '.join(available_devices())} (best first; cuda and mps when usable)",
    ]
    for index in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        properties = torch.cuda.get_device_properties(index)
        memory = properties.total_memory / 2**30
        lines.append(f"  cuda:{index}: {properties.name}, {memory:.1f} GiB")
    return lines


def _qt_binding() -> str:
    # Importing qtpy loads Qt, which only the napari side does: read the wheels' versions.
    bindings = [
        f"{name} {version(name)}, Qt {installed_version(qt)}"
        for name, qt in QT_BINDINGS.items()
        if installed_version(name) != NOT_INSTALLED
    ]
    if not bindings:
        return f"{NOT_INSTALLED} (pip install 'napari-respond-cam[qt]' for napari's window)"
    chosen = os.environ.get("QT_API", "not set")
    return f"{'; '.join(bindings)} (qtpy {installed_version('qtpy')}, QT_API {chosen})"
