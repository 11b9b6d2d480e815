"""A single-axis tilt series about Y: projecting a volume and weighted back-projection.

The beam runs along Z at zero tilt; at tilt ``t`` a voxel at ``(x, z)`` from the volume's
centre lands on detector coordinate ``u = x cos t + z sin t`` of the image row at its
``y``. Each XZ slice is thus a 2D problem, the same for every ``y``, and the projector is
one sparse matrix (linear interpolation onto the detector's pixels) applied to all
slices at once. Back-projection is its transpose, after a ramp filter along ``u``
(weighted back-projection): a tilt range short of ±90° leaves the missing wedge, and a
finite tilt step the gaps between sampled planes, exactly as in a real reconstruction.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.sparse

from napari_respond_cam.errors import RespondCamError


def tilt_angles(max_tilt_deg: float | None, step_deg: float) -> np.ndarray:
    """The tilts of a series from ``-max_tilt_deg`` to ``+max_tilt_deg`` in steps.

    Parameters
    ----------
    max_tilt_deg : float or None
        Largest tilt in degrees, in (0, 90]; ``None`` or 90 for a full half turn (no
        missing wedge), which stops one step short of +90 (the same view as -90).
    step_deg : float
        Angle between consecutive images in degrees, > 0.

    Returns
    -------
    numpy.ndarray
        float64 angles in degrees, symmetric about 0 when the range is a multiple of the
        step.
    """
    if not step_deg > 0:
        raise RespondCamError(f"The tilt step must be > 0 degrees, got {step_deg}; 3 is typical.")
    if max_tilt_deg is None or max_tilt_deg == 90:
        return np.arange(-90.0, 90.0 - 1e-9, step_deg)
    if not 0 < max_tilt_deg <= 90:
        raise RespondCamError(
            f"The maximum tilt angle must be in (0, 90] degrees, got {max_tilt_deg}; "
            "pass 60 for a typical ±60° tilt series or None for no missing wedge."
        )
    n_steps = int(np.floor(2 * max_tilt_deg / step_deg + 1e-9))
    return -max_tilt_deg + step_deg * np.arange(n_steps + 1)


def detector_width(shape: tuple[int, int, int]) -> int:
    """Detector pixels along ``u``: wide enough to see the whole volume at every tilt."""
    return int(np.ceil(np.hypot(shape[0], shape[2]))) + 2


def project(volume: np.ndarray, tilts_deg: np.ndarray) -> np.ndarray:
    """The tilt series of a volume.

    Parameters
    ----------
    volume : numpy.ndarray
        ZYX volume.
    tilts_deg : numpy.ndarray
        Tilt angles in degrees (see :func:`tilt_angles`).

    Returns
    -------
    numpy.ndarray
        float32 ``(n_tilts, detector_width, Y)`` images, indexed ``[tilt, u, y]``; each
        image holds the volume's total mass (the projector conserves it).
    """
    nz, ny, nx = volume.shape
    matrix = _projector(nz, nx, tuple(float(t) for t in tilts_deg))
    slices = np.ascontiguousarray(volume.transpose(0, 2, 1), dtype=np.float32).reshape(-1, ny)
    return (matrix @ slices).reshape(len(tilts_deg), -1, ny).astype(np.float32, copy=False)


def back_project(
    series: np.ndarray, tilts_deg: np.ndarray, shape: tuple[int, int, int]
) -> np.ndarray:
    """Weighted back-projection of a tilt series onto a volume of ``shape``.

    Each image is ramp-filtered along ``u`` (the Ram-Lak filter built in real space, so
    the mean survives) and smeared back along its rays; the sum over tilts, times the
    step in radians, reconstructs the volume up to the tilt range and step.

    Parameters
    ----------
    series : numpy.ndarray
        ``(n_tilts, detector_width(shape), Y)`` images from :func:`project` (or noisy ones).
    tilts_deg : numpy.ndarray
        The tilts the images were taken at, evenly spaced.
    shape : tuple of int
        ZYX shape of the reconstruction.

    Returns
    -------
    numpy.ndarray
        float32 ZYX volume.
    """
    nz, ny, nx = shape
    filtered = _ramp_filter(series)
    matrix = _projector(nz, nx, tuple(float(t) for t in tilts_deg))
    step = np.deg2rad(tilts_deg[1] - tilts_deg[0]) if len(tilts_deg) > 1 else 1.0
    slices = matrix.T @ filtered.reshape(-1, ny)
    volume = (step * slices).reshape(nz, nx, ny).transpose(0, 2, 1)
    return np.ascontiguousarray(volume, dtype=np.float32)


def _ramp_filter(series: np.ndarray) -> np.ndarray:
    """Each image convolved along ``u`` with the Ram-Lak kernel (zero-padded, no wrap)."""
    width = series.shape[1]
    padded = int(2 ** np.ceil(np.log2(2 * width)))
    offsets = np.fft.fftfreq(padded, d=1 / padded)  # 0, 1, ..., -1 as integers
    # Kak and Slaney's discrete ramp: 1/4 at 0, -1/(pi n)^2 at odd n, 0 at even n.
    kernel = np.where(offsets == 0, 0.25, 0.0)
    odd = offsets % 2 == 1
    kernel[odd] = -1 / (np.pi * offsets[odd]) ** 2
    response = scipy.fft.rfft(kernel).real[None, :, None]
    spectrum = scipy.fft.rfft(series, n=padded, axis=1)
    return scipy.fft.irfft(spectrum * response, n=padded, axis=1)[:, :width].astype(np.float32)


@lru_cache(maxsize=4)
def _projector(nz: int, nx: int, tilts_deg: tuple[float, ...]) -> scipy.sparse.csr_matrix:
    """``(n_tilts * width, nz * nx)``: an XZ slice (z-major) to its image rows at every tilt."""
    width = detector_width((nz, 1, nx))
    z, x = np.meshgrid(np.arange(nz) - (nz - 1) / 2, np.arange(nx) - (nx - 1) / 2, indexing="ij")
    angles = np.deg2rad(np.asarray(tilts_deg))[:, None]
    position = x.ravel() * np.cos(angles) + z.ravel() * np.sin(angles) + (width - 1) / 2
    pixel = np.floor(position).astype(np.int64)
    fraction = (position - pixel).astype(np.float32)
    rows = pixel + width * np.arange(len(tilts_deg))[:, None]
    columns = np.broadcast_to(np.arange(nz * nx), rows.shape)
    matrix = scipy.sparse.csr_matrix(
        (
            np.concatenate([(1 - fraction).ravel(), fraction.ravel()]),
            (np.concatenate([rows.ravel(), rows.ravel() + 1]), np.tile(columns.ravel(), 2)),
        ),
        shape=(len(tilts_deg) * width, nz * nx),
    )
    return matrix
