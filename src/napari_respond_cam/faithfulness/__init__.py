"""Which map to trust: faithfulness measures of CAMs in 3D, and comparisons of methods.

Deletion and insertion curves (voxels removed or added in the order of a map, the
target score followed, the area under each curve), ROAD's remove-and-debias (removed
voxels imputed from their neighbours, so the removal pattern leaks nothing), for a
batch of samples and for the windows of a tomogram; and a table comparing methods on
the same inputs. Qt-free; it runs the engine and the tiler.
"""

import importlib
from typing import TYPE_CHECKING

# Imported on first use, as the package's own API is: the command line's --help reads
# measure_options from here without loading torch.
_PUBLIC = {
    "Faithfulness": "score_curves",
    "MethodScores": "method_comparison",
    "ScoreCurve": "score_curves",
    "compare_methods": "method_comparison",
    "compare_methods_on_volume": "method_comparison",
    "measure_faithfulness": "sample_faithfulness",
    "measure_volume_faithfulness": "window_faithfulness",
}
__all__ = [
    "Faithfulness",
    "MethodScores",
    "ScoreCurve",
    "compare_methods",
    "compare_methods_on_volume",
    "measure_faithfulness",
    "measure_volume_faithfulness",
]

if TYPE_CHECKING:
    from .method_comparison import MethodScores, compare_methods, compare_methods_on_volume
    from .sample_faithfulness import measure_faithfulness
    from .score_curves import Faithfulness, ScoreCurve
    from .window_faithfulness import measure_volume_faithfulness


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    globals()[name] = value
    return value
