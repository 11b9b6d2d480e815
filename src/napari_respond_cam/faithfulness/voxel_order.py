"""The order in which a map removes (or adds) an input's voxels: most or least relevant first.

Maps are signed and ranked by their signed value: "most relevant first" (MoRF) takes
the strongest positive evidence first and the strongest negative evidence last;
"least relevant first" (LeRF) is the reverse. Equal values (a flat region of the
map, or a constant map) are taken in a random order drawn from ``seed``, so a map
that says nothing ranks like a random map and no raster direction is favoured.
"""

from __future__ import annotations

import numpy as np

from ..errors import RespondCamError

MORF = "morf"
LERF = "lerf"
#: Order names, and what each means.
ORDER_LABELS = {MORF: "most relevant first", LERF: "least relevant first"}


def voxel_ranks(maps: np.ndarray, order: str = MORF, seed: int = 0) -> np.ndarray:
    """Each voxel's place in the order, ``0`` first: int64 ``(N, voxels)``.

    Parameters
    ----------
    maps : numpy.ndarray
        One map per sample, ``(N, *spatial)``.
    order : {"morf", "lerf"}
        Highest value first, or lowest value first.
    seed : int
        Seeds the order among equal values.
    """
    if order not in ORDER_LABELS:
        raise RespondCamError(
            f"Unknown order {order!r}; use one of {', '.join(map(repr, ORDER_LABELS))} "
            f"({', '.join(ORDER_LABELS.values())})."
        )
    flat = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
    keys = -flat if order == MORF else flat
    rng = np.random.default_rng(seed)
    ranks = np.empty(flat.shape, dtype=np.int64)
    for row, key in enumerate(keys):
        # A stable sort of a random permutation breaks ties at random.
        shuffled = rng.permutation(key.size)
        taken = shuffled[np.argsort(key[shuffled], kind="stable")]
        ranks[row, taken] = np.arange(key.size)
    return ranks
