"""Telling model files apart by their contents, not their names."""

from __future__ import annotations

import zipfile
from pathlib import Path

#: The names model files usually have (a file of another name loads all the same: its
#: contents, not its name, say what it is).
MODEL_FILE_SUFFIXES = (".pt2", ".pt", ".pth", ".ckpt", ".safetensors")

EXPORTED = "torch.export program"
TORCHSCRIPT = "TorchScript"
TORCH_SAVE = "torch.save file"
SAFETENSORS = "safetensors"


def model_file_format(path: Path) -> str:
    """Which kind of model file ``path`` is: one of the constants of this module."""
    if path.suffix == ".safetensors":
        return SAFETENSORS
    if not zipfile.is_zipfile(path):
        return TORCH_SAVE
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if any(n.endswith("/archive_format") or n == "archive_format" for n in names):
        return EXPORTED
    # torch.load hands any zip with a constants.pkl to torch.jit.load, code folder or not.
    if any(n.lower().endswith("constants.pkl") for n in names):
        return TORCHSCRIPT
    return TORCH_SAVE
