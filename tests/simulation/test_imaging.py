import numpy as np
import pytest

from napari_respond_cam.errors import RespondCamError
from napari_respond_cam.simulation.imaging import (
    CTF,
    add_noise,
    ctf_spectrum,
    electron_wavelength_a,
    fourier_filter,
    missing_wedge_mask,
    normalise,
    simulate_imaging,
)


def _plane_wave(shape, kz, ky, kx):
    z, y, x = np.indices(shape)
    phase = 2 * np.pi * (kz * z / shape[0] + ky * y / shape[1] + kx * x / shape[2])
    return np.cos(phase).astype(np.float32)


def test_missing_wedge_keeps_exactly_the_sampled_frequencies():
    mask = missing_wedge_mask((8, 8, 8), 60)
    assert mask.shape == (8, 8, 5)
    # Sampled iff |kz| <= |kx| tan(60°) = 1.732 |kx|.
    assert mask[1, 0, 1]  # 1 <= 1.73
    assert mask[7, 3, 1]  # kz = -1
    assert not mask[2, 0, 1]  # 2 > 1.73
    assert mask[3, 5, 2]  # 3 <= 3.46
    assert not mask[1, 0, 0]  # along the beam
    assert mask[0, 4, 0]  # the tilt axis and the mean are always sampled
    assert mask[0, 0, 0]


def test_wedge_edge_is_inclusive_at_45_degrees():
    mask = missing_wedge_mask((8, 8, 8), 45)
    assert mask[2, 0, 2]
    assert not mask[3, 0, 2]


def test_missing_wedge_removes_a_plane_wave_inside_it_and_keeps_one_outside():
    shape = (16, 16, 16)
    mask = missing_wedge_mask(shape, 60)
    kept = _plane_wave(shape, 1, 2, 1)
    removed = _plane_wave(shape, 3, 2, 1)
    np.testing.assert_allclose(fourier_filter(kept, mask), kept, atol=1e-5)
    np.testing.assert_allclose(fourier_filter(removed, mask), 0, atol=1e-5)


def test_no_wedge_samples_everything_and_bad_angles_are_refused():
    assert missing_wedge_mask((6, 6, 6), None).all()
    assert missing_wedge_mask((6, 6, 6), 90).all()
    with pytest.raises(RespondCamError, match="tilt"):
        missing_wedge_mask((6, 6, 6), 120)


def test_electron_wavelength_at_300_kv():
    assert electron_wavelength_a(300) == pytest.approx(0.019688, abs=1e-6)


def test_ctf_matches_a_hand_computed_value():
    spectrum = ctf_spectrum((4, 4, 16), 10.0, CTF())
    # k = 1/160 1/Å: chi = pi*0.0196876*5e4/160^2 - pi/2*2.7e7*0.0196876^3/160^4 = 0.1208005;
    # CTF = sqrt(1 - 0.07^2) sin(chi) + 0.07 cos(chi) = 0.189701.
    assert spectrum[0, 0, 1] == pytest.approx(0.189701, abs=1e-5)
    assert spectrum[0, 0, 0] == pytest.approx(0.07)  # amplitude contrast at k = 0
    assert np.abs(spectrum).max() <= 1


def test_ctf_refuses_unphysical_parameters():
    with pytest.raises(RespondCamError, match="defocus"):
        CTF(defocus_um=-1)
    with pytest.raises(RespondCamError, match="amplitude contrast"):
        CTF(amplitude_contrast=1.5)


def test_fourier_filter_with_unit_transfer_is_identity_for_a_batch():
    volumes = np.random.default_rng(0).standard_normal((3, 6, 7, 8)).astype(np.float32)
    filtered = fourier_filter(volumes, np.ones((6, 7, 5), dtype=np.float32))
    assert filtered.shape == volumes.shape
    assert filtered.dtype == np.float32
    np.testing.assert_allclose(filtered, volumes, atol=1e-5)


@pytest.mark.parametrize("snr", [0.05, 1.0, 10.0])
def test_add_noise_hits_the_snr_in_every_volume(snr):
    rng = np.random.default_rng(1)
    scales = np.array([1, 3, 5, 7], dtype=np.float32)[:, None, None, None]
    signal = rng.standard_normal((4, 16, 16, 16)).astype(np.float32) * scales
    noisy = add_noise(signal, snr, rng)
    measured = signal.var(axis=(1, 2, 3)) / (noisy - signal).var(axis=(1, 2, 3))
    np.testing.assert_allclose(measured, snr, rtol=1e-3)


def test_noise_restricted_to_a_support_is_absent_from_the_missing_wedge():
    shape = (16, 16, 16)
    wedge = missing_wedge_mask(shape, 60)
    signal = np.zeros(shape, dtype=np.float32)
    signal[8, 8, 8] = 1
    noise = add_noise(signal, 0.5, np.random.default_rng(2), support=wedge) - signal
    spectrum = np.abs(np.fft.rfftn(noise))
    assert spectrum[~wedge].max() < 1e-4 * spectrum[wedge].max()


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


def test_simulate_imaging_refuses_a_ctf_it_cannot_read():
    with pytest.raises(RespondCamError, match="ctf"):
        simulate_imaging(np.zeros((8, 8, 8)), 10.0, None, 60, "yes", np.random.default_rng(0))
