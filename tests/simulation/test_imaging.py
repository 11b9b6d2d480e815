import numpy as np
import pytest

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation.imaging import (
    CTF,
    add_noise,
    apply_ctf,
    ctf_image,
    electron_wavelength_a,
    normalise,
    simulate_imaging,
)


def test_electron_wavelength_at_300_kv():
    assert electron_wavelength_a(300) == pytest.approx(0.019688, abs=1e-6)


def test_ctf_matches_a_hand_computed_value():
    spectrum = ctf_image((16, 4), 10.0, CTF())
    assert spectrum.shape == (16, 3)
    # k = 1/160 1/Å: chi = pi*0.0196876*5e4/160^2 - pi/2*2.7e7*0.0196876^3/160^4 = 0.1208005;
    # CTF = sqrt(1 - 0.07^2) sin(chi) + 0.07 cos(chi) = 0.189701.
    assert spectrum[1, 0] == pytest.approx(0.189701, abs=1e-5)
    assert spectrum[15, 0] == pytest.approx(0.189701, abs=1e-5)  # k = -1/160
    assert spectrum[0, 0] == pytest.approx(0.07)  # amplitude contrast at k = 0
    assert np.abs(spectrum).max() <= 1


def test_apply_ctf_scales_each_image_frequency_by_the_ctf():
    u = np.arange(16)
    wave = np.cos(2 * np.pi * u / 16)[None, :, None] * np.ones((2, 16, 4), dtype=np.float32)
    filtered = apply_ctf(wave, 10.0, CTF())
    np.testing.assert_allclose(filtered, 0.189701 * wave, atol=1e-5)
    assert filtered.dtype == np.float32


def test_ctf_refuses_unphysical_parameters():
    with pytest.raises(RespondCamError, match="defocus"):
        CTF(defocus_um=-1)
    with pytest.raises(RespondCamError, match="amplitude contrast"):
        CTF(amplitude_contrast=1.5)


@pytest.mark.parametrize("snr", [0.05, 1.0, 10.0])
def test_add_noise_hits_the_snr_in_every_volume(snr):
    rng = np.random.default_rng(1)
    scales = np.array([1, 3, 5, 7], dtype=np.float32)[:, None, None, None]
    signal = rng.standard_normal((4, 16, 16, 16)).astype(np.float32) * scales
    noisy = add_noise(signal, snr, rng)
    measured = signal.var(axis=(1, 2, 3)) / (noisy - signal).var(axis=(1, 2, 3))
    np.testing.assert_allclose(measured, snr, rtol=1e-3)


def test_back_projected_noise_is_absent_from_the_missing_wedge():
    # Noise added to the images goes through the same back-projection as the signal.
    shape = (32, 4, 32)
    noise = simulate_imaging(np.zeros(shape), 10.0, 1.0, 60, False, np.random.default_rng(2))
    power = np.abs(np.fft.fftn(noise, axes=(0, 2))) ** 2
    kz = np.abs(np.fft.fftfreq(32))[:, None, None]
    kx = np.abs(np.fft.fftfreq(32))[None, None, :]
    wedge = (kz > np.tan(np.deg2rad(60)) * kx + 0.1) & (kz > 0.15)  # well inside the wedge
    sampled = (kz < np.tan(np.deg2rad(60)) * kx - 0.1) & (kx > 0.15)
    # Measured 0.027: interpolation and the volume's edges leak a little into the wedge.
    assert (
        power[np.broadcast_to(wedge, power.shape)].mean()
        < 0.05 * power[np.broadcast_to(sampled, power.shape)].mean()
    )


def test_add_noise_without_snr_returns_the_signal_and_refuses_bad_snr():
    signal = np.ones((4, 4, 4), dtype=np.float32)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(add_noise(signal, None, rng), signal)
    np.testing.assert_array_equal(add_noise(signal, np.inf, rng), signal)
    with pytest.raises(RespondCamError, match="signal-to-noise"):
        add_noise(signal, 0, rng)


def test_normalise_gives_zero_mean_unit_std_and_leaves_constant_volumes_at_zero():
    volumes = np.stack([np.arange(64.0).reshape(4, 4, 4), np.full((4, 4, 4), 5.0)])
    normalised = normalise(volumes)
    assert normalised[0].mean() == pytest.approx(0, abs=1e-6)
    assert normalised[0].std() == pytest.approx(1, abs=1e-6)
    np.testing.assert_array_equal(normalised[1], 0)


def test_simulate_imaging_refuses_a_ctf_it_cannot_read_and_keeps_the_density():
    density = np.ones((8, 8, 8), dtype=np.float32)
    with pytest.raises(RespondCamError, match=r"ctf must be True, False, None or a CTF\(...\)"):
        simulate_imaging(density, 10.0, None, 60, "yes", np.random.default_rng(0))
    np.testing.assert_array_equal(density, 1)
