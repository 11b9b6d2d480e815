"""The imaging model of a cryo-electron tomogram, applied to a noise-free density.

As the Respond-CAM paper's simulator did: the density is projected into a tilt series
about the Y axis (±60° in 3° steps by default), each image is filtered by the microscope's
contrast transfer function (CTF), Gaussian noise is added to the images at the
signal-to-noise ratio, and the tomogram is reconstructed by weighted back-projection
(:mod:`.tilt_series`). The missing wedge, the gaps between tilts and the noise's spectrum
in the tomogram all come from that one path.

Simplification: the defocus is the same over each image; the defocus gradient across a
tilted image is ignored, as in most subtomogram simulators.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation.tilt_series import back_project, project, tilt_angles

#: Degrees between consecutive images of the simulated tilt series.
TILT_STEP_DEG = 3.0
_SPATIAL_AXES = (-3, -2, -1)


@dataclass(frozen=True)
class CTF:
    """Microscope parameters of the contrast transfer function.

    Attributes
    ----------
    defocus_um : float
        Underfocus in µm (positive), 5 µm by default, typical of cryo-ET.
    voltage_kv : float
        Acceleration voltage in kV.
    spherical_aberration_mm : float
        Spherical aberration coefficient Cs in mm.
    amplitude_contrast : float
        Fraction of amplitude contrast, between 0 and 1.
    """

    defocus_um: float = 5.0
    voltage_kv: float = 300.0
    spherical_aberration_mm: float = 2.7
    amplitude_contrast: float = 0.07

    def __post_init__(self) -> None:
        if not (self.defocus_um > 0 and self.voltage_kv > 0 and self.spherical_aberration_mm >= 0):
            raise RespondCamError(
                f"CTF parameters must be physical (defocus_um > 0, voltage_kv > 0, "
                f"spherical_aberration_mm >= 0), got {self}; for example CTF(defocus_um=5)."
            )
        if not 0 <= self.amplitude_contrast < 1:
            raise RespondCamError(
                f"The amplitude contrast is a fraction in [0, 1), got "
                f"{self.amplitude_contrast}; 0.07 is typical for cryo-ET."
            )


def electron_wavelength_a(voltage_kv: float) -> float:
    """Relativistic electron wavelength in Å at an acceleration voltage in kV."""
    volts = voltage_kv * 1e3
    return 12.2643 / np.sqrt(volts * (1 + 0.978466e-6 * volts))


def ctf_image(shape: tuple[int, int], pixel_size_a: float, ctf: CTF) -> np.ndarray:
    """Contrast transfer function on the ``rfft2`` half spectrum of an image.

    ``CTF(k) = sqrt(1 - A^2) sin(chi) + A cos(chi)`` with ``chi = pi lambda dz k^2 -
    pi/2 Cs lambda^3 k^4``. The sign is that of contrast-inverted tomograms: the first lobe
    is positive, so particles stay bright like their templates.

    Parameters
    ----------
    shape : tuple of int
        Image shape (two sides).
    pixel_size_a : float
        Pixel size in Å.
    ctf : CTF
        Microscope parameters.

    Returns
    -------
    numpy.ndarray
        float32 half spectrum ``(shape[0], shape[1] // 2 + 1)`` with values in [-1, 1].
    """
    wavelength = electron_wavelength_a(ctf.voltage_kv)
    ku = scipy.fft.fftfreq(shape[0], d=pixel_size_a)[:, None]
    ky = scipy.fft.rfftfreq(shape[1], d=pixel_size_a)[None, :]
    k_squared = ku**2 + ky**2
    defocus_a = ctf.defocus_um * 1e4
    cs_a = ctf.spherical_aberration_mm * 1e7
    chi = np.pi * wavelength * defocus_a * k_squared - 0.5 * np.pi * cs_a * wavelength**3 * (
        k_squared**2
    )
    amplitude = ctf.amplitude_contrast
    spectrum = np.sqrt(1 - amplitude**2) * np.sin(chi) + amplitude * np.cos(chi)
    return spectrum.astype(np.float32)


def apply_ctf(series: np.ndarray, pixel_size_a: float, ctf: CTF) -> np.ndarray:
    """Every image of a tilt series ``(n_tilts, U, Y)`` filtered by the CTF, as float32.

    The defocus is the same over each image (the defocus gradient across a tilted image
    is ignored, as in most subtomogram simulators).
    """
    spectrum = scipy.fft.rfft2(series, axes=(1, 2))
    spectrum *= ctf_image(series.shape[1:], pixel_size_a, ctf)
    return scipy.fft.irfft2(spectrum, s=series.shape[1:], axes=(1, 2)).astype(np.float32)


def add_noise(signal: np.ndarray, snr: float | None, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise at a signal-to-noise ratio ``var(signal) / var(noise)``.

    The variances are taken over the last three axes (a whole tilt series, or each volume
    of a batch), and the noise is scaled to its measured variance, so the ratio holds
    exactly, as in the Respond-CAM paper's definition of SNR. A signal without variance
    gets unit-variance noise.

    Parameters
    ----------
    signal : numpy.ndarray
        A tilt series ``(n_tilts, U, Y)``, one volume ``(Z, Y, X)`` or a batch of them.
    snr : float or None
        Signal-to-noise ratio, > 0; ``None`` or ``inf`` returns the signal unchanged.
    rng : numpy.random.Generator
        Source of the noise.

    Returns
    -------
    numpy.ndarray
        float32 noisy signal, same shape as ``signal``.
    """
    if snr is None or np.isinf(snr):
        return signal.astype(np.float32, copy=False)
    if not snr > 0:
        raise RespondCamError(
            f"The signal-to-noise ratio must be positive, got {snr}; pass for example 0.1, "
            "or None for noise-free volumes."
        )
    noise = rng.standard_normal(signal.shape, dtype=np.float32)
    scale = np.sqrt(noise_variance(signal, snr) / _volume_variance(noise)).astype(np.float32)
    return (signal + scale * noise).astype(np.float32, copy=False)


def noise_variance(signal: np.ndarray, snr: float) -> np.ndarray:
    """The variance of the noise :func:`add_noise` gives ``signal`` at ``snr`` (> 0):
    ``var(signal) / snr`` over the last three axes, 1 for a signal without variance;
    shaped to broadcast against ``signal``.
    """
    signal_var = _volume_variance(signal)
    return np.where(signal_var > 0, signal_var / snr, 1.0)


def normalise(volumes: np.ndarray) -> np.ndarray:
    """Scale each volume to zero mean and unit standard deviation (constant volumes to 0).

    Parameters
    ----------
    volumes : numpy.ndarray
        One volume ``(Z, Y, X)`` or a batch ``(N, Z, Y, X)``.

    Returns
    -------
    numpy.ndarray
        float32 normalised volumes.
    """
    centred = volumes - volumes.mean(axis=_SPATIAL_AXES, keepdims=True, dtype=np.float64)
    std = np.sqrt(_volume_variance(centred))
    return (centred / np.where(std > 0, std, 1.0)).astype(np.float32)


def simulate_imaging(
    density: np.ndarray,
    voxel_size_a: float,
    snr: float | None,
    max_tilt_deg: float | None,
    ctf: CTF | bool | None,
    rng: np.random.Generator,
    tilt_step_deg: float = TILT_STEP_DEG,
) -> np.ndarray:
    """Image a noise-free density as a tomogram: tilt series, CTF, noise, back-projection.

    Parameters
    ----------
    density : numpy.ndarray
        ZYX volume.
    voxel_size_a : float
        Voxel size in Å, also the pixel size of the images.
    snr : float or None
        Signal-to-noise ratio of the tilt series' images after the CTF (see
        :func:`add_noise`); ``None`` or ``inf`` for no noise.
    max_tilt_deg : float or None
        Tilt range ±``max_tilt_deg`` about Y (see :func:`.tilt_series.tilt_angles`).
    ctf : CTF, bool or None
        ``True`` for the default :class:`CTF`, a :class:`CTF` for other parameters,
        ``False`` or ``None`` for none.
    rng : numpy.random.Generator
        Source of the noise.
    tilt_step_deg : float
        Angle between consecutive images.

    Returns
    -------
    numpy.ndarray
        float32 ZYX reconstruction with zero mean and unit standard deviation.
    """
    tilts = tilt_angles(max_tilt_deg, tilt_step_deg)
    series = noise_free_series(density, voxel_size_a, tilts, ctf)
    noisy = add_noise(series, snr, rng)
    return normalise(back_project(noisy, tilts, density.shape))


def noise_free_series(
    density: np.ndarray, voxel_size_a: float, tilts_deg: np.ndarray, ctf: CTF | bool | None
) -> np.ndarray:
    """The tilt series of a density, filtered by the CTF, before noise.

    Parameters
    ----------
    density : numpy.ndarray
        ZYX volume.
    voxel_size_a : float
        Voxel size in Å, also the pixel size of the images.
    tilts_deg : numpy.ndarray
        Tilt angles about Y (:func:`.tilt_series.tilt_angles`).
    ctf : CTF, bool or None
        As for :func:`simulate_imaging`.

    Returns
    -------
    numpy.ndarray
        float32 ``(n_tilts, U, Y)``, ``U`` the detector's width
        (:func:`.tilt_series.detector_width`).
    """
    if ctf is True:
        ctf = CTF()
    if not isinstance(ctf, CTF | None) and ctf is not False:
        raise RespondCamError(
            f"ctf must be True, False, None or a CTF(...) instance, got {ctf!r}; for example "
            "ctf=CTF(defocus_um=3)."
        )
    series = project(density, tilts_deg)
    if isinstance(ctf, CTF):
        series = apply_ctf(series, voxel_size_a, ctf)
    return series


def _volume_variance(volumes: np.ndarray) -> np.ndarray:
    """Variance of each volume, shaped to broadcast back against ``volumes``."""
    return volumes.var(axis=_SPATIAL_AXES, keepdims=True, dtype=np.float64)
