"""The registry of named models.

Named models are what ``available_models()`` lists and ``load_model(name)`` builds:
built-in ones (the paper's networks, the trained demo models) and any a user
registers from Python, such as a live module handed over from napari's console.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from importlib.resources import files
from pathlib import Path

from torch import nn

from ..engine.class_index import checked_background_class, fallback_class_names
from ..engine.preprocessing import Preprocessing
from ..errors import LOAD_FROM_FILE, RespondCamError, in_every_front_end, warn_user
from .architectures import ARCHITECTURES
from .model_files import load_model_file
from .model_metadata import checked_class_names, checked_voxel_size, set_model_attribute


@dataclass(frozen=True)
class RegisteredModel:
    """A named model: how to build it, what its classes are, and where its weights lie."""

    name: str
    factory: Callable[[], nn.Module]
    live: bool = False
    class_names: tuple[str, ...] | None = None
    input_shape: tuple[int, ...] | None = None
    trained: bool = True
    description: str = ""
    preprocessing: Preprocessing | None = None
    voxel_size_a: float | None = None
    background_class: int | None = None


_MODELS: dict[str, RegisteredModel] = {}


def available_models() -> list[str]:
    """Names of the models ``load_model`` can build by name, the demo model first."""
    return list(_MODELS)


def register_model(
    name: str,
    model: nn.Module | Callable[[], nn.Module],
    *,
    class_names: Sequence[str] | None = None,
    input_shape: Sequence[int] | None = None,
    trained: bool = True,
    description: str = "",
    first: bool = False,
    overwrite: bool = False,
    preprocessing: Preprocessing | str | None = None,
    voxel_size_a: float | None = None,
    background_class: int | None = None,
) -> None:
    """Make a model available by name (to ``load_model`` and the napari widget).

    Parameters
    ----------
    name : str
        The name to list it under.
    model : torch.nn.Module or callable
        A live module (handed out as it is, not copied) or a function building one.
    class_names : sequence of str, optional
        One name per output class (for a dense output, per output channel).
    input_shape : sequence of int, optional
        ``(C, *spatial)`` of one sample.
    trained : bool
        False for an architecture with random weights (loading it warns).
    description : str
        One line shown to users.
    first : bool
        List it before the others (the demo model is).
    overwrite : bool
        Replace a model already registered under ``name``, in its place in the list.
    preprocessing : Preprocessing or str, optional
        How raw voxels become its input (a :class:`Preprocessing` or one of its
        names, such as ``"zscore-window"``); ``explain`` and ``explain_volume``
        apply it unless told otherwise.
    voxel_size_a : float, optional
        The voxel size in ångström it was trained at, which tomograms are compared
        with (a binning factor is suggested when they differ).
    background_class : int, optional
        The class (for a dense output, the output channel) that means "nothing here".
    """
    if name in _MODELS and not overwrite:
        raise RespondCamError(
            f"A model named {name!r} is already registered; pick another name or pass "
            "overwrite=True."
        )
    factory = (lambda: model) if isinstance(model, nn.Module) else model
    entry = RegisteredModel(
        name,
        factory,
        isinstance(model, nn.Module),
        checked_class_names(class_names) if class_names is not None else None,
        tuple(input_shape) if input_shape is not None else None,
        trained,
        description,
        None if preprocessing is None else Preprocessing.from_json(preprocessing),
        None if voxel_size_a is None else checked_voxel_size(voxel_size_a),
        None
        if background_class is None
        else checked_background_class(
            background_class, None if class_names is None else len(class_names)
        ),
    )
    # A replaced entry keeps its place in the list (the demo models stay first).
    _MODELS[name] = entry
    if first:
        _move_first(name)


def _move_first(name: str) -> None:
    entry = _MODELS.pop(name)
    rest = dict(_MODELS)
    _MODELS.clear()
    _MODELS[name] = entry
    _MODELS.update(rest)


def registered(name: str) -> RegisteredModel | None:
    """The registry entry for ``name``, or ``None``."""
    return _MODELS.get(name)


def build_registered(name: str) -> nn.Module:
    """Build the named model and attach the metadata registered with it.

    A live module is handed back as the user's own object, not a copy; it gains only
    the class names, input shape, preprocessing, voxel size and background class its
    registration named.
    """
    entry = _MODELS[name]
    if not entry.trained:
        how = (
            "load trained weights into it: "
            + in_every_front_end(
                f"load_model(path, architecture={name!r})",
                f"--model FILE --architecture {name}",
                f"'{LOAD_FROM_FILE}' with the 'architecture' control set to {name}",
            )
            if name in ARCHITECTURES
            else "register it again once it is trained (trained=True, the default)"
        )
        warn_user(f"The model {name!r} has random weights (it is the architecture only); {how}.")
    model = entry.factory()
    if entry.class_names is not None:
        set_model_attribute(model, "class_names", entry.class_names)
    if entry.input_shape is not None:
        set_model_attribute(model, "input_shape", entry.input_shape)
    if entry.preprocessing is not None:
        set_model_attribute(model, "preprocessing", entry.preprocessing)
    if entry.voxel_size_a is not None:
        set_model_attribute(model, "voxel_size_a", entry.voxel_size_a)
    if entry.background_class is not None:
        set_model_attribute(model, "background_class", entry.background_class)
    return model


#: The first is the demo the widget and ``respond-cam demo`` open on: CNN-2, which names
#: 29 of the sample's 30 particles (as CNN-1 does), whose class maps land on all five
#: classes (CNN-1's misses the SH1 unit; docs/paper_measurements.md), and which explains
#: the tomogram several times faster than CNN-1.
_DEMO_MODELS = {
    "cnn2-demo": (
        "demo_cnn2.pt",
        "CNN-2 (narrow) trained on 40^3 windows of simulated tomograms: five complexes and "
        "background",
    ),
    "cnn1-demo": (
        "demo_cnn1.pt",
        "CNN-1 (narrow) trained on 40^3 windows of simulated tomograms: five complexes and "
        "background",
    ),
    "unet-demo": (
        "demo_unet.pt",
        "3D U-Net (small) segmenting five complexes and background in simulated tomograms, "
        "a channel per class",
    ),
}


def _load_shipped(filename: str) -> nn.Module:
    return load_model_file(Path(str(files(__package__) / "weights" / filename)))


def _register_demo_models() -> None:
    for name, (filename, description) in _DEMO_MODELS.items():
        register_model(
            name,
            partial(_load_shipped, filename),
            description=description,
        )


def _build_untrained(name: str) -> nn.Module:
    return ARCHITECTURES[name].build(num_classes=5)


#: The paper's networks are offered untrained as well: the classifiers' starting point.
_PAPER_ARCHITECTURES = ("cnn1", "cnn2")


def _register_paper_architectures() -> None:
    for name in _PAPER_ARCHITECTURES:
        register_model(
            name,
            partial(_build_untrained, name),
            class_names=fallback_class_names(5),
            input_shape=(1, 40, 40, 40),
            trained=False,
            description=f"{ARCHITECTURES[name].description}, untrained, 5 classes, 40^3",
        )


_register_demo_models()
_register_paper_architectures()
