"""The streaming mzML read (MzMLFile.transform into an MS1ScanCollector) keeps
what the full read would give the analysis, says what it says of odd spectra,
and refuses what it refuses."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAMPLES

from specqc.errors import InputError
from specqc.lcms.signals import ms1_collector, ms1_scans
from specqc.readers import find_reader
from specqc.readers.mzml.reader import read, read_streaming


def _write(path, spectra):
    """spectra: (rt_s, mz, intensity, profile) tuples, written as they come."""
    import pyopenms as oms

    experiment = oms.MSExperiment()
    for index, (rt_s, mz, intensity, profile) in enumerate(spectra):
        spectrum = oms.MSSpectrum()
        spectrum.setRT(rt_s)
        spectrum.setMSLevel(1)
        spectrum.setNativeID(f"scan={index + 1}")
        spectrum.setType(
            oms.SpectrumSettings.SpectrumType.PROFILE if profile else oms.SpectrumSettings.SpectrumType.CENTROID
        )
        settings = oms.InstrumentSettings()
        settings.setPolarity(oms.IonSource.Polarity.POSITIVE)
        spectrum.setInstrumentSettings(settings)
        spectrum.set_peaks((np.asarray(mz, dtype=np.float64), np.asarray(intensity, dtype=np.float32)))
        experiment.addSpectrum(spectrum)
    oms.MzMLFile().store(str(path), experiment)
    return path


def _assert_same_scans(streamed, full):
    assert streamed.count == full.count > 0
    np.testing.assert_array_equal(streamed.rt_min, full.rt_min)
    np.testing.assert_array_equal(streamed.total_intensity, full.total_intensity)
    assert streamed.polarity == full.polarity and streamed.mode == full.mode
    for (mz, intensity), (mz_full, intensity_full) in zip(streamed.peaks, full.peaks, strict=True):
        np.testing.assert_array_equal(mz, mz_full)
        np.testing.assert_array_equal(intensity, intensity_full)
    assert [s.native_id for s in streamed.profile_samples] == [s.native_id for s in full.profile_samples]


@pytest.mark.parametrize("name", ["dz-cyclization-oligomers", "dz-salt-uv-coeluting", "cb-acylation-negative"])
def test_streamed_scans_equal_those_of_the_full_read(name):
    path = SAMPLES / "lcms" / f"{name}.mzML"
    full, streamed = read(path), read_streaming(path, ms1_collector())
    assert streamed.spectra == () and streamed.ms1_scans is not None
    _assert_same_scans(ms1_scans(streamed), ms1_scans(full))
    assert streamed.polarities() == full.polarities()
    assert streamed.instrument == full.instrument and streamed.acquisition_date == full.acquisition_date
    assert [c.id for c in streamed.chromatograms] == [c.id for c in full.chromatograms]
    assert len(streamed.diode_arrays) == len(full.diode_arrays)
    (rt, tic), (rt_full, tic_full) = streamed.ms1_tic(), full.ms1_tic()
    np.testing.assert_array_equal(rt, rt_full)
    np.testing.assert_array_equal(tic, tic_full)
    assert streamed.metadata["reader_warnings"] == full.metadata["reader_warnings"]


def test_profile_run_keeps_only_the_strongest_profile_spectra(tmp_path):
    rng = np.random.default_rng(3)
    grid = np.linspace(200.0, 201.0, 200)
    spectra = [
        (
            float(i),
            grid,
            1e3 * (1 + i % 7) * np.exp(-0.5 * ((grid - 200.5) / 0.004) ** 2) + rng.uniform(0, 5, grid.size),
            True,
        )
        for i in range(40)
    ]
    path = _write(tmp_path / "profile.mzML", spectra)
    scans = read_streaming(path, ms1_collector()).ms1_scans
    full = ms1_scans(read(path))
    assert scans.count == 40 and set(scans.mode) == {"profile"}
    # 40 profile spectra, of which the collector kept the strongest (with ties), in run order
    assert 8 <= len(scans.profile_samples) < 40
    _assert_same_scans(scans, full)


def test_out_of_order_spectra_are_sorted_with_the_same_note(tmp_path):
    mz = np.array([100.0, 150.0, 200.0])
    spectra = [(rt, mz, np.array([1.0, 2.0, 3.0]) * (1 + rt), False) for rt in (0.0, 6.0, 3.0, 9.0, 12.0)]
    path = _write(tmp_path / "unordered.mzML", spectra)
    streamed, full = read_streaming(path, ms1_collector()), read(path)
    assert "the spectra are not in retention-time order; they were sorted" in streamed.metadata["reader_warnings"]
    assert streamed.metadata["reader_warnings"] == full.metadata["reader_warnings"]
    np.testing.assert_array_equal(streamed.ms1_scans.rt_min, np.array([0.0, 3.0, 6.0, 9.0, 12.0]) / 60.0)
    _assert_same_scans(ms1_scans(streamed), ms1_scans(full))


def test_a_spectrum_refused_while_streaming_names_the_file(tmp_path):
    mz = np.array([100.0, 150.0, 200.0])
    spectra = [(float(rt), mz, np.array([1.0, 2.0, 3.0]), False) for rt in range(5)]
    spectra[3] = (3.0, mz, np.array([1.0, np.nan, 3.0]), False)
    path = _write(tmp_path / "nan.mzML", spectra)
    with pytest.raises(InputError, match="NaN") as streamed_error:
        read_streaming(path, ms1_collector())
    assert "nan.mzML" in streamed_error.value.one_line()
    with pytest.raises(InputError) as full_error:
        read(path)
    assert streamed_error.value.one_line() == full_error.value.one_line()


def test_registry_streams_only_when_given_a_collector():
    entry = find_reader(SAMPLES / "lcms" / "dz-cyclization-clean.mzML")
    assert entry.load(SAMPLES / "lcms" / "dz-cyclization-clean.mzML").spectra
    streamed = entry.load(SAMPLES / "lcms" / "dz-cyclization-clean.mzML", ms1_collector=ms1_collector())
    assert streamed.streamed and streamed.has_ms1() and streamed.technique == "lcms"
    with pytest.raises(TypeError, match="streamed run keeps no spectra"):
        streamed.ms1()
