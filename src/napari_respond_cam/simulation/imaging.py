"""The imaging model of a cryo-electron tomogram, applied to noise-free densities.

A tilt series about the Y axis samples, in Fourier space, only the planes tilted up to the
maximum tilt angle: the missing wedge. Each sampled frequency is modulated by the
microscope's contrast transfer function (CTF), and the recorded images carry noise. All
functions work on one volume ``(Z, Y, X)`` or a batch ``(N, Z, Y, X)``; Fourier arrays are
the half spectra of ``scipy.fft.rfftn`` over the last three axes.

Simplifications, all standard in subtomogram simulators: the CTF is applied in 3D as a
function of the spatial frequency's magnitude (exact for an untilted defocus; the defocus
gradient across tilted images is ignored), and the noise is white Gaussian noise restricted
to the sampled (not missing) frequencies, as in a reconstruction from noisy projections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from napari_respond_cam.errors import RespondCamError

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


def spatial_frequencies(
    shape: tuple[int, int, int], voxel_size_a: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frequencies (kz, ky, kx) of the rfftn half spectrum, broadcastable to its shape.

    Parameters
    ----------
    shape : tuple of int
        Real-space shape (Z, Y, X).
    voxel_size_a : float
        Voxel size in Å; frequencies are in 1/Å (cycles per voxel when 1).

    Returns
    -------
    tuple of numpy.ndarray
        Arrays of shape ``(Z, 1, 1)``, ``(1, Y, 1)`` and ``(1, 1, X // 2 + 1)``.
    """
    kz = scipy.fft.fftfreq(shape[0], d=voxel_size_a)[:, None, None]
    ky = scipy.fft.fftfreq(shape[1], d=voxel_size_a)[None, :, None]
    kx = scipy.fft.rfftfreq(shape[2], d=voxel_size_a)[None, None, :]
    return kz, ky, kx


def missing_wedge_mask(shape: tuple[int, int, int], max_tilt_deg: float | None) -> np.ndarray:
    """Fourier support of a single-axis tilt series about Y, tilted from -max to +max.

    The beam runs along Z at zero tilt. A projection at tilt ``t`` samples the central
    plane containing the ky axis and the direction ``(kx, kz) = (cos t, -sin t)``, so the
    series samples every frequency with ``|kz| <= |kx| tan(max_tilt)``; the wedge around
    the kz axis is missing.

    Parameters
    ----------
    shape : tuple of int
        Real-space shape (Z, Y, X).
    max_tilt_deg : float or None
        Largest tilt angle in degrees, in (0, 90]; ``None`` or 90 samples everything.

    Returns
    -------
    numpy.ndarray
        Boolean half spectrum, True where a frequency is sampled.
    """
    half_shape = (shape[0], shape[1], shape[2] // 2 + 1)
    if max_tilt_deg is None or max_tilt_deg == 90:
        return np.ones(half_shape, dtype=bool)
    if not 0 < max_tilt_deg <= 90:
        raise RespondCamError(
            f"The maximum tilt angle must be in (0, 90] degrees, got {max_tilt_deg}; "
            "pass 60 for a typical ±60° tilt series or None for no missing wedge."
        )
    kz, _, kx = spatial_frequencies(shape)
    # The tolerance keeps frequencies exactly on the wedge's edge, lost otherwise to rounding.
    sampled = np.abs(kz) <= np.abs(kx) * np.tan(np.deg2rad(max_tilt_deg)) + 1e-9
    return np.broadcast_to(sampled, half_shape).copy()


def ctf_spectrum(shape: tuple[int, int, int], voxel_size_a: float, ctf: CTF) -> np.ndarray:
    """Contrast transfer function on the rfftn half spectrum.

    ``CTF(k) = sqrt(1 - A^2) sin(chi) + A cos(chi)`` with ``chi = pi lambda dz k^2 -
    pi/2 Cs lambda^3 k^4``. The sign is that of contrast-inverted tomograms: the first lobe
    is positive, so particles stay bright like their templates.

    Parameters
    ----------
    shape : tuple of int
        Real-space shape (Z, Y, X).
    voxel_size_a : float
        Voxel size in Å.
    ctf : CTF
        Microscope parameters.

    Returns
    -------
    numpy.ndarray
        float32 half spectrum with values in [-1, 1].
    """
    wavelength = electron_wavelength_a(ctf.voltage_kv)
    kz, ky, kx = spatial_frequencies(shape, voxel_size_a)
    k_squared = kz**2 + ky**2 + kx**2
    defocus_a = ctf.defocus_um * 1e4
    cs_a = ctf.spherical_aberration_mm * 1e7
    chi = np.pi * wavelength * defocus_a * k_squared - 0.5 * np.pi * cs_a * wavelength**3 * (
        k_squared**2
    )
    amplitude = ctf.amplitude_contrast
    spectrum = np.sqrt(1 - amplitude**2) * np.sin(chi) + amplitude * np.cos(chi)
    return spectrum.astype(np.float32)


def fourier_filter(volumes: np.ndarray, transfer: np.ndarray) -> np.ndarray:
    """Multiply the spectrum of each volume by a transfer function.

    Parameters
    ----------
    volumes : numpy.ndarray
        One volume ``(Z, Y, X)`` or a batch ``(N, Z, Y, X)``.
    transfer : numpy.ndarray
        Half spectrum for one volume, as from :func:`missing_wedge_mask` or
        :func:`ctf_spectrum` (or their product).

    Returns
    -------
    numpy.ndarray
        float32 filtered volumes, same shape as ``volumes``.
    """
    spectrum = scipy.fft.rfftn(volumes.astype(np.float32, copy=False), axes=_SPATIAL_AXES)
    spectrum *= transfer
    filtered = scipy.fft.irfftn(spectrum, s=volumes.shape[-3:], axes=_SPATIAL_AXES)
    return filtered.astype(np.float32, copy=False)


def add_noise(
    signal: np.ndarray,
    snr: float | None,
    rng: np.random.Generator,
    support: np.ndarray | None = None,
) -> np.ndarray:
    """Add Gaussian noise at a signal-to-noise ratio ``var(signal) / var(noise)``.

    The variances are taken over each volume, and the noise is scaled to its measured
    variance, so the ratio holds exactly for every volume, as in the Respond-CAM paper's
    definition of SNR. A volume without signal (variance 0) gets unit-variance noise.

    Parameters
    ----------
    signal : numpy.ndarray
        One volume ``(Z, Y, X)`` or a batch ``(N, Z, Y, X)``.
    snr : float or None
        Signal-to-noise ratio, > 0; ``None`` or ``inf`` returns the signal unchanged.
    rng : numpy.random.Generator
        Source of the noise.
    support : numpy.ndarray, optional
        Boolean half spectrum the noise is restricted to (the missing-wedge mask, so that
        noise, like signal, is absent from the missing wedge). White noise when omitted.

    Returns
    -------
    numpy.ndarray
        float32 noisy volumes, same shape as ``signal``.
    """
    if snr is None or np.isinf(snr):
        return signal.astype(np.float32, copy=False)
    if not snr > 0:
        raise RespondCamError(
            f"The signal-to-noise ratio must be positive, got {snr}; pass for example 0.1, "
            "or None for noise-free volumes."
        )
    noise = rng.standard_normal(signal.shape, dtype=np.float32)
    if support is not None:
        noise = fourier_filter(noise, support)
    signal_var = _volume_variance(signal)
    noise_var = _volume_variance(noise)
    target_var = np.where(signal_var > 0, signal_var / snr, 1.0)
    scale = np.sqrt(target_var / noise_var).astype(np.float32)
    return (signal + scale * noise).astype(np.float32, copy=False)


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
    densities: np.ndarray,
    voxel_size_a: float,
    snr: float | None,
    max_tilt_deg: float | None,
    ctf: CTF | bool | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """Image noise-free densities: CTF and missing wedge, noise, then normalisation.

    Parameters
    ----------
    densities : numpy.ndarray
        One volume ``(Z, Y, X)`` or a batch ``(N, Z, Y, X)``.
    voxel_size_a : float
        Voxel size in Å.
    snr : float or None
        Signal-to-noise ratio of each volume after filtering (see :func:`add_noise`);
        ``None`` or ``inf`` for no noise.
    max_tilt_deg : float or None
        Tilt range ±``max_tilt_deg`` about Y (see :func:`missing_wedge_mask`).
    ctf : CTF, bool or None
        ``True`` for the default :class:`CTF`, a :class:`CTF` for other parameters,
        ``False`` or ``None`` for none.
    rng : numpy.random.Generator
        Source of the noise.

    Returns
    -------
    numpy.ndarray
        float32 volumes, each with zero mean and unit standard deviation.
    """
    shape = densities.shape[-3:]
    wedge = missing_wedge_mask(shape, max_tilt_deg)
    transfer = wedge.astype(np.float32)
    if ctf is True:
        ctf = CTF()
    if isinstance(ctf, CTF):
        transfer *= ctf_spectrum(shape, voxel_size_a, ctf)
    elif ctf not in (False, None):
        raise RespondCamError(
            f"ctf must be True, False, None or a CTF(...) instance, got {ctf!r}; for example "
            "ctf=CTF(defocus_um=3)."
        )
    signal = fourier_filter(densities, transfer)
    return normalise(add_noise(signal, snr, rng, support=wedge))


def _volume_variance(volumes: np.ndarray) -> np.ndarray:
    """Variance of each volume, shaped to broadcast back against ``volumes``."""
    return volumes.var(axis=_SPATIAL_AXES, keepdims=True, dtype=np.float64)
