"""Which map to trust: faithfulness measures of CAMs in 3D, and comparisons of methods.

Deletion and insertion curves (voxels removed or added in the order of a map, the
target score followed, the area under each curve), ROAD's remove-and-debias (removed
voxels imputed from their neighbours, so the removal pattern leaks nothing), for a
batch of samples and for the windows of a tomogram; and a table comparing methods on
the same inputs. Qt-free; it runs the engine and the tiler.
"""

from .method_comparison import MethodScores, compare_methods, compare_methods_on_volume
from .sample_faithfulness import measure_faithfulness
from .score_curves import Faithfulness, ScoreCurve
from .window_faithfulness import measure_volume_faithfulness

__all__ = [
    "Faithfulness",
    "MethodScores",
    "ScoreCurve",
    "compare_methods",
    "compare_methods_on_volume",
    "measure_faithfulness",
    "measure_volume_faithfulness",
]
