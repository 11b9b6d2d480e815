"""The Respond-CAM dock widget: pickers, Explain and Cancel, and a results area.

Layout and wiring only: the work comes from :mod:`.explain_worker` (and
:mod:`.compare_action` for Compare methods), the layers from :mod:`.heatmap_layer`
and :mod:`.detections_layer`, a dense model's channel and region from
:mod:`.region_controls`, the window's range from :mod:`.window_bounds`. One run at a
time: Explain and Compare methods are disabled (and the pickers locked, since the run
uses the model) until it ends; a progress bar under them counts windows or methods.
Closing the dock or the viewer stops the run and waits for its thread.
"""

from __future__ import annotations

import time
import warnings
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.types import FileDialogMode
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    ProgressBar,
    PushButton,
    SpinBox,
    TextEdit,
)
from napari.layers import Image
from napari.utils.notifications import show_error, show_warning
from qtpy.QtCore import QEvent, QObject, QTimer
from qtpy.QtWidgets import QWidget

from ..engine.layers import default_target_layer, target_layers
from ..engine.options import DEFAULT_PRECISION, METHOD_LABELS, PRECISIONS
from ..engine.preprocessing import PREPROCESSING_LABELS, resolve_preprocessing
from ..errors import LOAD_FROM_FILE, SETTING_NAMES, RespondCamError
from ..models.file_formats import MODEL_FILE_SUFFIXES
from ..models.model_metadata import class_names_for
from ..runs.choices import (
    DEFAULT_FREE_WINDOW,
    PREDICTED,
    class_names_of,
    device_choices,
    model_input_size,
    preprocessing_argument,
    preprocessing_choices,
    suggested_binning,
    target_argument,
    target_choices,
    tiling_defaults,
    voxel_size_warning,
)
from ..runs.counted_windows import background_class_of
from ..runs.explain_run import ExplainOutcome, outcome_metadata
from ..runs.request import WHERE_PREDICTED, ExplainRequest, ExplainSettings
from ..runs.summary import predicted_class, summary_text
from ..runs.time_left import time_left
from ..tiling.binned_volume import largest_binning
from ..tiling.progress import Phase
from .compare_action import (
    Comparison,
    check_comparable,
    compare_all_methods,
    comparison_layers,
    comparison_text,
)
from .detections_layer import (
    detections_layer_data,
    detections_name,
    hide_detections,
    show_detections,
)
from .explain_worker import ExplainJob, JobWords, WorkerJob
from .heatmap_layer import (
    DISPLAY_MODES,
    POSITIVE,
    LayerData,
    LayerGeometry,
    against_note,
    class_layers_data,
    colour_scale_text,
    heatmap_layer_data,
    heatmap_name,
    hide_older_heatmaps,
    is_heatmap_layer,
    restyle_heatmaps,
    show_heatmap,
)
from .layer_units import voxel_size_in_angstrom
from .method_cost import cost_sentence
from .model_output import dense_channels, takes_other_window_sizes
from .mrc_reader_writer import check_not_image_stack
from .overlay_toggle import TOGGLE_KEY, HeatmapToggle, bind_toggle_key, unbind_toggle_key
from .picked_volume import check_volume
from .region_controls import RegionControls
from .window_bounds import window_bounds

if TYPE_CHECKING:
    import napari

# How often the model picker looks for models registered from the console or a script.
_REGISTRY_POLL_MS = 1000
# Lines the results box shows before it scrolls: a summary of three classes fits.
_RESULTS_LINES = 12
_MODEL_FILES = (
    f"Model files ({' '.join('*' + suffix for suffix in MODEL_FILE_SUFFIXES)});;All files (*)"
)
#: Each control's label, as messages from the core name it (one source: errors.SETTING_NAMES).
_LABELS = {name: control for name, (_, _, control) in SETTING_NAMES.items()}
#: The binning control's limit while no volume is picked; a picked volume's is its
#: shortest side, the most the core bins by.
_MAX_BINNING = 64

#: The progress bar's label while no pass has named itself (then each pass's words).
PROGRESS_LABEL = "progress"
ARCHITECTURE_FROM_FILE = "as saved in the file"


def model_choices(available: Sequence[str], loaded_files: Sequence[str]) -> list[str]:
    """Entries of the model picker: registry names, models loaded from files, then the loader.

    Parameters
    ----------
    available : sequence of str
        ``available_models()``, the demo model first.
    loaded_files : sequence of str
        Labels of the models this widget has loaded from files.

    Returns
    -------
    list of str
    """
    return [*available, *loaded_files, LOAD_FROM_FILE]


class RespondCamWidget(Container):
    """Explain a model's decision on a tomogram and show the map as an aligned overlay.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer whose image layers can be explained and which receives the heatmaps.
    """

    def __init__(self, napari_viewer: napari.Viewer):
        self._viewer = napari_viewer
        self._model: Any = None
        self._model_label = ""
        self._file_models: dict[str, Any] = {}
        self._file_paths: dict[str, Path] = {}
        self._layer_names: list[str] = []
        self._target_names: list[str] = []
        self._class_names: list[str] = []
        self._job: WorkerJob | None = None
        self._progress_unit = "windows"
        self._phase: Phase | None = None
        self._progress_started = 0.0
        self._outcome_shown = False
        # Whether the picked model takes windows of other sizes than the one it names.
        self._sizes_free = False
        # The picked volume, whose voxel size (scale, units) the binning follows.
        self._watched: Image | None = None
        # The results box's text after a run, its lines but the display's, and its layers:
        # a display change rewrites that text while it is still shown.
        self._styled_results: _StyledResults | None = None
        self._closed = False
        self._regions = RegionControls(napari_viewer)
        super().__init__(widgets=self._build_widgets(), labels=True)
        # A read-only text box wraps long lines at the dock's width and scrolls the rest,
        # so no number is cut off and the dock never widens over the canvas.
        results = self.results.native
        results.setReadOnly(True)
        results.setMinimumHeight(results.fontMetrics().lineSpacing() * _RESULTS_LINES)
        self._connect()
        bind_toggle_key(napari_viewer, HeatmapToggle(self._picked_volume_name))
        self._poll = QTimer(self.native)
        self._poll.timeout.connect(self._refresh_models)
        self._poll.start(_REGISTRY_POLL_MS)
        self._on_model_changed(self.model.value)
        self.results.value = self._idle_hint()

    # -- building ---------------------------------------------------------------------

    def _build_widgets(self) -> list:
        from ..models.architectures import ARCHITECTURES

        return [
            ComboBox(name="volume", label="volume", choices=self._volume_choices),
            ComboBox(name="model", label=_LABELS["model"], choices=self._model_choices),
            FileEdit(
                name="model_file",
                label="model file",
                mode=FileDialogMode.EXISTING_FILE,
                filter=_MODEL_FILES,
            ),
            ComboBox(
                name="architecture",
                label=_LABELS["architecture"],
                choices=[ARCHITECTURE_FROM_FILE, *ARCHITECTURES],
                tooltip="For a bare state dict: the registered architecture it belongs to.",
            ),
            CheckBox(
                name="trust_file",
                text="trust this file (lets code in it run when it loads)",
                tooltip="Pickled modules, and .pt2 archives with more than weights, run "
                "code from the file when loaded. Without trust they are refused.",
            ),
            PushButton(name="load_file", text="Load model file"),
            # Choices are callables reading the chosen model's entries, so that napari's
            # reset_choices (on every layer change) keeps them.
            ComboBox(
                name="target_layer", label=_LABELS["layer"], choices=self._target_layer_choices
            ),
            ComboBox(name="target", label=_LABELS["target"], choices=self._target_choices),
            CheckBox(
                name="where_predicted",
                text=_LABELS["where_predicted"],
                value=WHERE_PREDICTED,
                visible=False,
                tooltip="On a tomogram explained window by window: the class's map holds "
                "only the windows the model calls that class, and Compare methods measures "
                "those. Untick to explain the class in every window (windows without the "
                "class add their evidence for it too).",
            ),
            *self._regions.widgets,
            ComboBox(
                name="method",
                label=_LABELS["method"],
                choices=[(label, name) for name, label in METHOD_LABELS.items()],
            ),
            ComboBox(name="device", label=_LABELS["device"], choices=device_choices()),
            ComboBox(
                name="precision",
                label=_LABELS["precision"],
                choices=list(PRECISIONS),
                value=DEFAULT_PRECISION,
                tooltip="bf16/fp16 run the network under autocast (faster on recent GPUs); "
                "the maps are computed in float32.",
            ),
            ComboBox(
                name="preprocessing",
                label=_LABELS["preprocessing"],
                choices=self._preprocessing_choices,
                tooltip="How raw voxels become the network's input, applied to every window "
                "on the device; the model's own comes first.",
            ),
            CheckBox(
                name="invert",
                text=_LABELS["invert"],
                tooltip="Negate the preprocessed input: for tomograms whose particles are "
                "bright where the model learnt them dark, or the other way round.",
            ),
            SpinBox(
                name="binning",
                label=_LABELS["binning"],
                min=1,
                max=_MAX_BINNING,
                tooltip="Average each cube of N^3 voxels before explaining, to match the voxel "
                "size the model was trained at; the map comes back on the tomogram's grid.",
            ),
            SpinBox(name="window", label=_LABELS["window"]),
            SpinBox(name="stride", label=_LABELS["stride"], min=1, max=4096),
            SpinBox(name="batch_size", label=_LABELS["batch_size"], min=1, max=4096),
            ComboBox(name="display", label="display", choices=list(DISPLAY_MODES), value=POSITIVE),
            PushButton(
                name="explain_button",
                text="Explain",
                tooltip=f"Explain in the background; then {TOGGLE_KEY} shows or hides the heatmap.",
            ),
            PushButton(
                name="compare_button",
                text="Compare methods",
                tooltip="Explain the volume with every method, each map in its own layer "
                "(from every window), and measure how faithful each is (deletion, insertion, "
                "ROAD).",
            ),
            ProgressBar(name="progress", label=PROGRESS_LABEL, visible=False),
            PushButton(name="cancel_button", text="Cancel", enabled=False),
            TextEdit(name="results", label="results"),
        ]

    def _connect(self) -> None:
        self.model.changed.connect(self._on_model_changed)
        self.load_file.changed.connect(self._load_file)
        self.explain_button.changed.connect(self.start_explain)
        self.compare_button.changed.connect(self.start_compare)
        self.cancel_button.changed.connect(self.cancel)
        events = self._viewer.layers.events
        for event in (events.inserted, events.removed, events.renamed, events.reordered):
            event.connect(self._refresh_volumes)
        self.volume.changed.connect(self._on_volume_changed)
        self.target.changed.connect(self._show_where_predicted)
        self.display.changed.connect(self._restyle_heatmaps)
        # What the run will cost, said before it starts, follows every setting it counts.
        for control in (self.binning, self.method, self.window, self.stride, self.batch_size):
            control.changed.connect(self._show_idle_hint)
        self.native.destroyed.connect(self._close_down)
        # napari's dock close button takes the widget out of its dock without deleting it.
        self._orphan_watch = _OrphanWatch(self.native, self._close_down)

    def _close_down(self) -> None:
        # The dock or the viewer is closing: no callback may reach the widgets,
        # and no thread may outlive them.
        if self._closed:
            return
        self._closed = True
        if self._job is not None:
            self._job.stop()
            self._job = None
        unbind_toggle_key(self._viewer)
        events = self._viewer.layers.events
        for event in (events.inserted, events.removed, events.renamed, events.reordered):
            event.disconnect(self._refresh_volumes)
        self._watch_voxel_size(None)

    # -- pickers ----------------------------------------------------------------------

    def _volume_choices(self, _widget: Any = None) -> list[tuple[str, Image]]:
        # Our own heatmaps are images too, but explaining a heatmap makes no sense.
        return [
            (layer.name, layer)
            for layer in self._viewer.layers
            if isinstance(layer, Image) and not layer.rgb and not is_heatmap_layer(layer)
        ]

    def _model_choices(self, _widget: Any = None) -> list[str]:
        from ..models.registry import available_models

        return model_choices(available_models(), list(self._file_models))

    def _target_layer_choices(self, _widget: Any = None) -> list[str]:
        return self._layer_names

    def _target_choices(self, _widget: Any = None) -> list[str]:
        return self._target_names

    def _preprocessing_choices(self, _widget: Any = None) -> list[tuple[str, str]]:
        if self._model is None:
            return []
        names = preprocessing_choices(self._model)
        labels = [PREPROCESSING_LABELS[name] for name in names]
        # A file without our metadata (a bare state dict) says nothing of how its model
        # was fed: the user should know the choice is theirs.
        named = getattr(self._model, "preprocessing", None) is not None
        labels[0] += " (the model's own)" if named else " (the model names none)"
        return list(zip(labels, names, strict=True))

    def _restyle_heatmaps(self, mode: str) -> None:
        name = self._picked_volume_name()
        if name is not None:
            restyle_heatmaps(self._viewer, name, mode)
        styled = self._styled_results
        if styled is not None and self.results.value == styled.text:
            self._show_styled_results(styled.lines, styled.layers, mode)

    def _refresh_volumes(self, _event: Any = None) -> None:
        picked = self.volume.value
        self.volume.reset_choices()
        self._regions.reset_layer_choices()
        if self.volume.value is not picked:
            self._on_volume_changed()
        elif not self._outcome_shown:
            # A rename changes the name H looks for without changing the picked layer;
            # a run's results, though, stay until the next run or setting replaces them.
            self._show_idle_hint()

    def _picked_volume_name(self) -> str | None:
        source = self.volume.value
        return None if source is None else source.name

    def _on_volume_changed(self, _value: Any = None) -> None:
        self._watch_voxel_size(self.volume.value)
        self._apply_window_bounds()
        self._suggest_binning()
        self._show_idle_hint()

    def _watch_voxel_size(self, layer: Image | None) -> None:
        """Follow ``layer``'s voxel size (its scale and units), and no other layer's."""
        for old in _voxel_size_events(self._watched):
            old.disconnect(self._on_voxel_size_changed)
        for new in _voxel_size_events(layer):
            new.connect(self._on_voxel_size_changed)
        self._watched = layer

    def _on_voxel_size_changed(self, _event: Any = None) -> None:
        # A voxel size set by hand in napari changes the binning that fits the model.
        self._suggest_binning()
        if not self._outcome_shown:
            self._show_idle_hint()

    def _show_idle_hint(self, _value: Any = None) -> None:
        if not self.running:
            self.results.value = self._idle_hint()

    def _idle_hint(self) -> str:
        hint = f"Press Explain. {self._toggle_hint()}"
        lines = [self._voxel_size_warning(), self._cost_sentence(), hint]
        return "\n".join(line for line in lines if line)

    def _cost_sentence(self) -> str | None:
        """The extra passes a perturbation method takes on the picked volume."""
        source = self.volume.value
        if self._model is None or source is None or self.target_layer.value is None:
            return None
        return cost_sentence(
            self._model,
            self.target_layer.value,
            self.method.value,
            _volume_of(source).shape,
            self.window.value,
            self.stride.value,
            self.batch_size.value,
            self.binning.value,
            dense=self._regions.shown,
        )

    def _picked_voxel_size(self) -> tuple[float, ...] | None:
        source = self.volume.value
        return None if source is None else voxel_size_in_angstrom(source)

    def _voxel_size_warning(self) -> str | None:
        trained_at = getattr(self._model, "voxel_size_a", None)
        voxel_size = self._picked_voxel_size()
        if trained_at is not None and voxel_size is None and self.volume.value is not None:
            return (
                f"The volume has no voxel size (its layer is in pixels), so it cannot be "
                f"checked against the {trained_at:.3g} Å the model was trained at; if you "
                "know it, set the layer's scale in ångström (or the file's header)."
            )
        return voxel_size_warning(trained_at, voxel_size, self.binning.value)

    def _suggest_binning(self) -> None:
        """Bin by the factor that brings the picked volume closest to the model's voxels."""
        trained_at, voxel_size = (
            getattr(self._model, "voxel_size_a", None),
            self._picked_voxel_size(),
        )
        source = self.volume.value
        self.binning.max = (
            _MAX_BINNING if source is None else largest_binning(_volume_of(source).shape[-3:])
        )
        if trained_at is None or voxel_size is None:
            self.binning.value = 1
            return
        self.binning.value = min(suggested_binning(trained_at, voxel_size), self.binning.max)

    def _toggle_hint(self) -> str:
        name = self._picked_volume_name()
        if name is None:
            return f"Then {TOGGLE_KEY} shows or hides the heatmaps of the picked volume."
        return f"Press {TOGGLE_KEY} to show or hide the heatmaps of {name!r} while you scroll."

    def _refresh_models(self) -> None:
        if list(self.model.choices) != self._model_choices():
            self.model.reset_choices()

    def _on_model_changed(self, choice: str) -> None:
        loading_file = choice == LOAD_FROM_FILE
        for widget in (self.model_file, self.architecture, self.trust_file, self.load_file):
            widget.visible = loading_file
        if loading_file:
            self._use_model(None, "")
            return
        try:
            model = (
                self._file_models[choice] if choice in self._file_models else _load_named(choice)
            )
        except RespondCamError as error:
            show_error(str(error))
            model = None
        except Exception as error:  # a user-registered factory may raise anything
            show_error(f"Could not build the model {choice!r}: {type(error).__name__}: {error}")
            model = None
        self._use_model(model, choice if model is not None else "")

    def _load_file(self) -> None:
        from ..models.loading import load_model

        path = Path(self.model_file.value)
        if not path.is_file():
            show_error(
                f"Choose a file under 'model file' first ({', '.join(MODEL_FILE_SUFFIXES)}), "
                "then press 'Load model file'."
            )
            return
        architecture = self.architecture.value
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = load_model(
                    path,
                    trust=self.trust_file.value,
                    architecture=None if architecture == ARCHITECTURE_FROM_FILE else architecture,
                )
        except RespondCamError as error:
            show_error(str(error))
            return
        _show_warnings(caught)
        label = self._file_label(path.resolve())
        self._file_models[label] = model
        self._file_paths[label] = path.resolve()
        # The architecture was this file's: the next file starts from its own again.
        self.architecture.value = ARCHITECTURE_FROM_FILE
        self.model.reset_choices()
        if self.model.value == label:
            # Re-selecting the selected entry emits nothing: apply the new model here.
            self._use_model(model, label)
        else:
            self.model.value = label

    def _file_label(self, path: Path) -> str:
        """The model picker's entry for a file: its name, or with its folder where another
        file of the same name was loaded (loading the same file again replaces it)."""
        label = f"{path.name} (file)"
        if self._file_paths.get(label, path) == path:
            return label
        return f"{path.name} (file in {path.parent})"

    def _use_model(self, model: Any, label: str) -> None:
        """Fill the target-layer, class and tiling pickers from the chosen model."""
        self._model, self._model_label = model, label
        layers, classes = [], []
        if model is not None:
            try:
                layers, classes = target_layers(model), class_names_of(model)
            except RespondCamError as error:
                show_error(str(error))
                self._model = None
        self._layer_names, self._class_names = layers, classes
        self._target_names = target_choices(classes) if self._model is not None else []
        self.target_layer.reset_choices()
        self.target.reset_choices()
        self.preprocessing.reset_choices()
        if layers:
            self.target_layer.value = default_target_layer(layers)
        self._offer_channels()
        if self._model is not None:
            self.invert.value = resolve_preprocessing(None, self._model).invert
        self._apply_tiling_defaults()
        self._suggest_binning()
        self._show_idle_hint()

    def _offer_channels(self) -> None:
        """A model whose output is a map per voxel gets channel and region pickers in
        place of the target class."""
        channels = None
        if self._model is not None and self.target_layer.value is not None:
            try:
                channels = dense_channels(self._model, self.target_layer.value)
            except RespondCamError:
                channels = None  # Explain's own first pass says what is wrong
        names = [] if channels is None else class_names_for(self._class_names, channels)
        # A per-voxel model given an input size may well take others (a U-Net): tried on
        # a larger window. A classifier keeps the size its dense layers were built for.
        self._sizes_free = self._model is not None and (
            model_input_size(self._model) is None
            or (
                channels is not None
                and takes_other_window_sizes(self._model, self.target_layer.value)
            )
        )
        self._regions.set_channels(names, background_class_of(self._model))
        self.target.visible = channels is None
        self._show_where_predicted()

    def _show_where_predicted(self, _value: Any = None) -> None:
        """The window choice goes with a chosen class (or all classes) of a classifier."""
        chosen = self.target.value not in (None, PREDICTED)
        self.where_predicted.visible = chosen and not self._regions.shown

    def _apply_tiling_defaults(self) -> None:
        if self._model is None:
            return
        defaults = tiling_defaults(self._model)
        self._apply_window_bounds()
        # A volume already picked may be smaller than the model's proposed window.
        self.window.value = min(max(defaults.window, self.window.min), self.window.max)
        self.stride.value = defaults.stride
        self.batch_size.value = defaults.batch_size
        self.window.enabled = self._window_is_free()

    def _apply_window_bounds(self) -> None:
        source = self.volume.value
        bounds = window_bounds(
            model_input_size(self._model) if self._model is not None else None,
            _volume_of(source).shape if source is not None else None,
            source.name if source is not None else "",
            fixed=not self._sizes_free,
        )
        self.window.min, self.window.max = bounds.minimum, bounds.maximum
        self.window.tooltip = bounds.tooltip

    def _window_is_free(self) -> bool:
        # A model with a fixed input size dictates the window.
        return self._model is not None and self._sizes_free

    # -- running ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether an explanation is in progress."""
        return self._job is not None

    def start_explain(self) -> None:
        """Explain the chosen volume in a worker thread (does nothing while one runs)."""
        if self.running:
            return
        try:
            request, source, region_voxels = self._request()
        except RespondCamError as error:
            show_error(str(error))
            return
        # The heatmap goes on the grid the volume has now, whatever changes meanwhile; in
        # the colours the display control says when it is shown.
        # Said beside the numbers: the region's size, and what a perturbation method cost.
        size = None if region_voxels is None else f"Region: {region_voxels:,} voxels."
        notes = [size, self._cost_sentence()]
        show = partial(self._show_outcome, LayerGeometry.of(source), notes)
        job = ExplainJob(request, show, self._finished, self._show_progress, self._show_phase)
        # The previous volume's numbers go, so they are not read as this run's.
        what = "a region" if self._regions.shown else request.target_label
        message = (
            f"Explaining {request.volume_name!r} with {request.model_name} "
            f"({request.method_label}, {what})..."
        )
        self._start(job, "windows", message)

    def start_compare(self) -> None:
        """Explain the chosen volume with every method and measure each map, in a
        worker thread (does nothing while a run is in progress)."""
        if self.running:
            return
        try:
            request, source, _ = self._request()
            check_comparable(request, self._regions.shown)
        except RespondCamError as error:
            show_error(str(error))
            return
        show = partial(self._show_comparison, LayerGeometry.of(source))
        words = JobWords(
            running=f"Comparing methods on {request.volume_name}",
            cancelled="Comparison cancelled; no layer was added.",
            failed="Compare methods failed",
        )
        work = partial(compare_all_methods, request)
        job = WorkerJob(work, words, show, self._finished, self._show_progress, self._show_phase)
        message = (
            f"Comparing every method on {request.volume_name!r} ({request.target_label}): "
            "each map, then deletion, insertion and ROAD in every window. On a CPU a whole "
            "tomogram takes minutes per method (ROAD's imputation most of it); the bar counts "
            "the steps, and Cancel stops the comparison."
        )
        self._start(job, "steps", message)

    def _start(self, job: WorkerJob, unit: str, message: str) -> None:
        self._job = job
        self._outcome_shown = False
        self._set_running(True)
        self.results.value = message
        self._progress_unit = unit
        self._phase = None
        self.progress.label = PROGRESS_LABEL
        self._progress_started = time.monotonic()
        # Until the first report there is no count to show (a bare bar reads "0 / 999").
        self.progress.native.setFormat("starting")
        self.progress.value = 0
        job.start()

    def cancel(self) -> None:
        """Stop the running explanation at its next batch; no layer is added."""
        if self._job is not None:
            self._job.cancel()

    def _request(self) -> tuple[ExplainRequest, Image, int | None]:
        """The run the controls ask for, its volume layer, and the size of a dense
        model's region when known before the run."""
        source = self.volume.value
        if source is None:
            raise RespondCamError(
                "Open a tomogram first (File > Open, or File > Open Sample > Respond-CAM), "
                "then pick it under 'volume'."
            )
        check_not_image_stack(source)
        if self._model is None:
            raise RespondCamError(
                "Pick a model that loads under 'model' (or 'Load from file...' there) "
                "before pressing Explain."
            )
        if self.target_layer.value is None:
            raise RespondCamError(
                "This model has no layer with a spatial output to explain; pick another "
                "under 'model'."
            )
        volume = _volume_of(source)
        check_volume(source)
        dense = self._regions.shown
        region = self._regions.choice(source, tuple(volume.shape)) if dense else None
        settings = ExplainSettings(
            layer=self.target_layer.value,
            target=None if dense else target_argument(self.target.value, self._class_names),
            method=self.method.value,
            device=self.device.value,
            precision=self.precision.value,
            # A model with a fixed input size dictates the window.
            window=self.window.value if self._window_is_free() else None,
            stride=self.stride.value,
            batch_size=self.batch_size.value,
            preprocessing=preprocessing_argument(
                self.preprocessing.value, self._model, self.invert.value
            ),
            binning=self.binning.value,
            channel=None if region is None else region.channel,
            region=None if region is None else region.region,
            where_predicted=self.where_predicted.value,
        )
        request = ExplainRequest(
            model=self._model,
            volume=volume,
            settings=settings,
            model_name=self._model_label,
            volume_name=source.name,
            class_names=tuple(self._class_names),
            voxel_size_a=voxel_size_in_angstrom(source),
            region_labels=None if region is None else region.labels,
        )
        return request, source, None if region is None else region.voxels

    def _set_running(self, running: bool) -> None:
        for widget in self:
            if widget not in (self.cancel_button, self.results, self.display, self.progress):
                widget.enabled = not running
        self.cancel_button.enabled = running
        self.progress.visible = running
        self.window.enabled = not running and self._window_is_free()

    def _show_progress(self, done: int, total: int) -> None:
        if done == 0:
            # A new phase (the tomogram's statistics, then the windows) starts its clock.
            self._progress_started = time.monotonic()
        self._set_progress_format(time_left(done, total, time.monotonic() - self._progress_started))
        self.progress.max = max(total, 1)
        self.progress.value = done

    def _show_phase(self, phase: Phase) -> None:
        # The pass is named beside the bar, which keeps its width for the counts.
        self._phase = phase
        self.progress.label = phase.words
        self._set_progress_format(None)

    def _set_progress_format(self, left: str | None) -> None:
        """``"12 / 40 windows"``, in the unit of the pass, with the time left when known."""
        phase = self._phase
        unit = (phase.unit if phase else None) or self._progress_unit
        self.progress.native.setFormat(f"%v / %m {unit}" + (f", {left}" if left else ""))

    def _show_outcome(
        self, geometry: LayerGeometry, notes: list[str | None], outcome: ExplainOutcome
    ) -> None:
        request, metadata = outcome.request, outcome_metadata(outcome)
        mode = self.display.value
        if outcome.heatmap.ndim == 4:
            names = list(request.class_names)
            shown = _class_shown_first(outcome, names)
            layers = class_layers_data(outcome.heatmap, geometry, mode, metadata, names, shown)
        else:
            name = heatmap_name(request.volume_name, request.method_label, outcome.target_label)
            layers = [heatmap_layer_data(outcome.heatmap, geometry, name, mode, metadata)]
        added = self._show_layers(request.volume_name, layers)
        lines = [
            *_results_head(request),
            summary_text(outcome.summary),
            *notes,
            self._detections_text(outcome, geometry),
        ]
        # Weakly: a layer the user deletes takes its map's memory with it.
        self._show_styled_results(lines, [weakref.ref(la) for la in added], mode)

    def _show_styled_results(self, lines: list[str | None], layers: list[Any], mode: str) -> None:
        """The run's results, with what its layers (weak references) show in display
        ``mode``: their colour scale, and for one map whether the mode hides nearly all
        of its evidence; layers no longer in the viewer are left out."""
        present = [la for la in (ref() for ref in layers) if la in self._viewer.layers]
        data = [
            (la.data, {"contrast_limits": la.contrast_limits, "metadata": la.metadata}, "image")
            for la in present
        ]
        styled = list(lines)
        if len(layers) == 1 and data:
            styled.append(against_note(np.asarray(data[0][0]), mode))
        if data:
            styled.append(colour_scale_text(data))
        styled.append(self._toggle_hint())
        self.results.value = "\n".join(line for line in styled if line)
        self._styled_results = _StyledResults(self.results.value, lines, layers)

    def _show_comparison(self, geometry: LayerGeometry, comparison: Comparison) -> None:
        mode = self.display.value
        request = comparison.request
        metadata = {
            "model": request.model_name,
            "layer": request.settings.layer,
            "target": request.target_label,
            "volume": request.volume_name,
            # Faithfulness is measured window by window: every window's map is kept.
            "windows": "all",
        }
        layers = comparison_layers(comparison, geometry, mode, metadata)
        self._show_layers(request.volume_name, layers)
        self._show_results(request, [comparison_text(comparison), self._toggle_hint()])

    def _show_layers(self, volume_name: str, layers: list[LayerData]) -> list[Any]:
        """Show the run's heatmaps; return their layers."""
        shown = [show_heatmap(self._viewer, layer_data) for layer_data in layers]
        hide_older_heatmaps(self._viewer, volume_name, layers)
        hide_detections(self._viewer, volume_name)
        self._outcome_shown = True
        return shown

    def _show_results(self, request: ExplainRequest, lines: list[str | None]) -> None:
        shown = [*_results_head(request), *lines]
        self.results.value = "\n".join(line for line in shown if line)

    def _detections_text(self, outcome: ExplainOutcome, geometry: LayerGeometry) -> str | None:
        """Show a tiled classifier's detections as points; say how many, and where."""
        found, request = outcome.detections, outcome.request
        if found is None:
            return None
        name = detections_name(request.volume_name)
        # Colours follow the model's classes; "class k" names where it has none.
        names = request.class_names or tuple(dict.fromkeys(found.class_names))
        size = _point_size(request)
        layer = detections_layer_data(found, geometry, request.volume_name, names, size)
        show_detections(self._viewer, layer)
        if not len(found):
            return "Detections: none; every window was called background."
        where = (
            "in windows not called background"
            if background_class_of(request.model) is not None
            else "in every window (the model names no background class)"
        )
        return (
            f"Detections: {len(found)} object(s) {where}, each at "
            f"its class's map peak (windows that saw the same object count once), as points "
            f"in {name!r} (class, probability and score under the cursor)."
        )

    def _finished(self) -> None:
        self._job = None
        self._set_running(False)
        if not self._outcome_shown:
            # Cancelled or failed: a notification said why; the running message goes.
            self.results.value = self._idle_hint()


@dataclass(frozen=True)
class _StyledResults:
    """A run's results box as shown (``text``), and what rewrites it for another display:
    its lines but the display's, and weak references to its heatmap layers."""

    text: str
    lines: list[str | None]
    layers: list[Any]


def _voxel_size_events(layer: Image | None) -> list[Any]:
    """The events of a layer's voxel size: its scale, and its units (napari 0.6 on)."""
    if layer is None:
        return []
    names = ("scale", "units")
    return [getattr(layer.events, n) for n in names if hasattr(layer.events, n)]


def _results_head(request: ExplainRequest) -> list[str | None]:
    """What heads a run's results: a voxel-size mismatch stays in view beside the numbers
    it puts in doubt, and binning beside the numbers of a view the user does not see."""
    return [request.voxel_size_warning, request.binning_note]


class _OrphanWatch(QObject):
    """Calls ``on_orphaned`` when ``widget`` is taken out of its parent."""

    def __init__(self, widget: QWidget, on_orphaned: Callable[[], None]):
        super().__init__(widget)
        self._on_orphaned = on_orphaned
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if (
            event is not None
            and event.type() == QEvent.Type.ParentChange
            and isinstance(watched, QWidget)
            and watched.parent() is None
        ):
            self._on_orphaned()
        return False


def _volume_of(source: Image) -> Any:
    """The layer's array; the full-resolution level of a multiscale layer."""
    return source.data[0] if source.multiscale else source.data


def _point_size(request: ExplainRequest) -> float:
    """A detection's diameter in the volume's voxels: a quarter of the window, so the
    rings of half-overlapping windows stay apart, with room for their labels."""
    settings = request.settings
    window = settings.window or DEFAULT_FREE_WINDOW
    sides = model_input_size(request.model) or np.atleast_1d(window)
    return float(min(sides)) * settings.binning / 4


def _class_shown_first(outcome: ExplainOutcome, names: Sequence[str]) -> int:
    """The class of an all-classes run whose layer is shown: the most probable on average,
    past the background class when the model has one (a tomogram is mostly background,
    and its map is not what the user came for)."""
    summary = outcome.summary
    if not summary.probabilities or list(summary.class_names) != list(names):
        predicted = predicted_class(summary)
        return names.index(predicted) if predicted in names else 0
    probabilities = np.asarray(summary.probabilities, dtype=np.float64)
    background = background_class_of(outcome.request.model)
    if background is not None and len(probabilities) > 1:
        probabilities[background] = -np.inf
    return int(np.argmax(probabilities))


def _load_named(name: str) -> Any:
    """Load a registry model, showing its warnings (an untrained model) as notifications."""
    from ..models.loading import load_model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_model(name)
    _show_warnings(caught)
    return model


def _show_warnings(caught: list[warnings.WarningMessage]) -> None:
    for warning in caught:
        show_warning(str(warning.message))
