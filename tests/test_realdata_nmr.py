"""Real NMR datasets (../shared/realdata): every reader, automatic processing and
referencing, checked against the MANIFEST's facts."""

from __future__ import annotations

import numpy as np
import pytest

from specqc.errors import InputError
from specqc.nmr.process import find_residual, process
from specqc.readers import read

# dataset -> (format, solvent after processing, literature residual or None if not to assert)
DATASETS = {
    "nmr-bruker/aspirin-1h-raw": ("bruker", "CDCl3", None),
    "nmr-bruker/aspirin-1h-processed": ("bruker-processed", "CDCl3", None),
    "nmr-bruker/strychnine-1h/10": ("bruker", "CDCl3", 7.26),
    "nmr-bruker/naphthoic-acid-1h/1": ("bruker", "acetone-d6", 2.05),
    "nmr-varian/tha-1h-cdcl3/1H.fid": ("varian", "CDCl3", 7.26),
    "nmr-varian/hop-extract-1h-cd3od/proton.fid": ("varian", "CD3OD", 3.31),
    "nmr-varian/2-ketobutyric-acid-1h-d2o/2-Ketobutyric_acid_noesy.fid": ("varian", "D2O", 4.79),
    "nmr-jcamp/aspirin-1h-cdcl3-topspin/1h.dx": ("jcamp", "CDCl3", None),
    "nmr-jcamp/aspirin-1h-cdcl3-topspin/1h.fid.dx": ("jcamp", "CDCl3", None),
    "nmr-jcamp/p-tolylpropanamide-1h-cdcl3/1h.dx": ("jcamp", "CDCl3", 7.26),
    "nmr-jcamp/menthol-1h-dmso/1h.dx": ("jcamp", "DMSO-d6", 2.50),
    "nmr-jcamp/butyl-acrylate-1h-cdcl3/1h.dx": ("jcamp", "CDCl3", None),
    "nmr-jcamp/estragole-1h-cdcl3-partial/1h.dx": ("jcamp", "CDCl3", 7.26),
    "nmr-jcamp/indometacin-1h-dmso/1h.dx": ("jcamp", "DMSO-d6", 2.50),
    "nmr-jcamp/varian-gemini300-1h-cdcl3/1h.jdx": ("jcamp", "CDCl3", 7.26),
    "nmr-jcamp/ibuprofen-1h-60mhz-nanalysis/1h.jdx": ("jcamp", "CDCl3", None),
}


@pytest.fixture(scope="module")
def processed(request):
    from conftest import REALDATA

    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not present")
    cache = {}

    def get(relative):
        if relative not in cache:
            data = read(REALDATA / relative)
            cache[relative] = (data, process(data))
        return cache[relative]

    return get


@pytest.mark.parametrize("relative", sorted(DATASETS))
def test_reads_processes_and_places_the_solvent_residual(processed, relative):
    expected_format, solvent, residual = DATASETS[relative]
    data, result = processed(relative)
    assert data.format == expected_format and data.nucleus == "1H"
    assert result.solvent == solvent
    assert np.all(np.diff(result.ppm) < 0) and np.isfinite(result.intensity).all()
    if residual is not None:
        observed = find_residual(result.ppm, result.intensity, solvent, data.spectrometer_mhz, result.noise)
        assert observed is not None and abs(observed - residual) <= 0.02, (relative, observed, result.reference)


def _tallest(result, low, high):
    inside = (result.ppm > low) & (result.ppm < high)
    return float(result.ppm[inside][np.argmax(result.intensity[inside])])


def test_bruker_raw_processed_and_jcamp_aspirin_agree(processed):
    # MANIFEST: the CH3 singlet at 2.294 ppm in the fid, the 1r and the JCAMP export
    # (on the vendor axis; all three are referenced the same way here)
    positions = [
        _tallest(processed(r)[1], 1.5, 3.0)
        for r in (
            "nmr-bruker/aspirin-1h-raw",
            "nmr-bruker/aspirin-1h-processed",
            "nmr-jcamp/aspirin-1h-cdcl3-topspin/1h.dx",
            "nmr-jcamp/aspirin-1h-cdcl3-topspin/1h.fid.dx",
        )
    ]
    assert max(positions) - min(positions) < 0.003, positions


def test_automatic_phase_gives_absorption_lines(processed):
    # Phased spectra have positive lines and little negative area.
    for relative in (
        "nmr-varian/tha-1h-cdcl3/1H.fid",
        "nmr-varian/hop-extract-1h-cd3od/proton.fid",
        "nmr-jcamp/ibuprofen-1h-60mhz-nanalysis/1h.jdx",
        "nmr-varian/2-ketobutyric-acid-1h-d2o/2-Ketobutyric_acid_noesy.fid",
    ):
        _data, result = processed(relative)
        values = result.intensity
        negative = -values[values < -5 * result.noise].sum()
        positive = values[values > 5 * result.noise].sum()
        assert negative < 0.05 * positive, (relative, negative / positive)


def _phase_against_vendor(ours, pdata):
    """Phase difference (degrees) between our spectrum and TopSpin's phased 1r/1i
    of the same FID, at every line at least 5 % of the tallest: the least-squares
    mix of TopSpin's absorption and dispersion (and an offset) that matches ours
    within 3 Hz of the line."""
    import nmrglue as ng
    from scipy.signal import find_peaks

    dic, (real, imaginary) = ng.bruker.read_pdata(str(pdata), all_components=True)
    vendor = real - 1j * imaginary  # TopSpin's 1i has the opposite sign to ours
    assert vendor.size == ours.intensity.size  # same zero-filling, so the points correspond
    lag = max(range(-3, 4), key=lambda k: float(np.dot(ours.intensity, np.roll(vendor.real, k))))
    vendor = np.roll(vendor, lag)
    peaks, _ = find_peaks(np.abs(vendor), height=0.05 * np.abs(vendor).max(), distance=5)
    half = int(3.0 / (float(dic["procs"]["SW_p"]) / vendor.size))
    differences = []
    for peak in peaks:
        window = slice(peak - half, peak + half + 1)
        design = np.vstack([vendor.real[window], vendor.imag[window], np.ones(2 * half + 1)]).T
        absorption, dispersion, _offset = np.linalg.lstsq(design, ours.intensity[window], rcond=None)[0]
        differences.append(np.rad2deg(np.arctan2(dispersion, absorption)))
    return np.array(differences)


@pytest.mark.parametrize(
    "raw, vendor",
    [
        ("nmr-bruker/strychnine-1h/10", "nmr-bruker/strychnine-1h/10/pdata/1"),
        ("nmr-bruker/aspirin-1h-raw", "nmr-bruker/aspirin-1h-processed/1/pdata/1"),
    ],
)
def test_automatic_phase_agrees_with_the_vendor_software(processed, realdata, raw, vendor):
    # Removing the digital filter's delay in the time domain left a broad bow in
    # the baseline that pulled the phase 11-12 degrees away from TopSpin's at some lines.
    differences = _phase_against_vendor(processed(raw)[1], realdata / vendor)
    assert differences.size >= 10 and np.abs(differences).max() < 6.0, np.round(differences, 1)


@pytest.mark.parametrize(
    "relative",
    [
        "nmr-bruker/strychnine-1h/10",
        "nmr-bruker/aspirin-1h-raw",
        "nmr-bruker/naphthoic-acid-1h/1",
        "nmr-varian/tha-1h-cdcl3/1H.fid",
        "nmr-varian/hop-extract-1h-cd3od/proton.fid",
        "nmr-varian/2-ketobutyric-acid-1h-d2o/2-Ketobutyric_acid_noesy.fid",
        "nmr-jcamp/aspirin-1h-cdcl3-topspin/1h.fid.dx",
    ],
)
def test_phase_found_on_the_reduced_transform_is_that_of_the_whole_fid(processed, relative):
    # Phasing runs on a transform of the FID's first points; cut to 4096 points
    # at a wide window (naphthoic acid: 0.23 s), the broadening needed moved the
    # first-order phase 42 degrees from the whole FID's.
    from specqc.nmr.process import auto_phase, fft_spectrum

    data, result = processed(relative)
    mirrored = result.steps["orientation"].startswith("mirrored")
    decay_lb = max(1.0, np.log(100.0) / (np.pi * data.fid.size / data.sweep_width_hz))
    whole_p0, whole_p1 = auto_phase(fft_spectrum(data, result.ppm.size, decay_lb, mirrored)[0])
    p0, p1 = result.steps["phase_deg"]["p0"], result.steps["phase_deg"]["p1"]
    assert ((p0 + p1 / 2) - (whole_p0 + whole_p1 / 2) + 180) % 360 - 180 == pytest.approx(0, abs=1.5)
    assert p1 == pytest.approx(whole_p1, abs=4)


def test_manifest_lines_are_where_they_should_be(processed):
    assert _tallest(processed("nmr-bruker/strychnine-1h/10")[1], 8.0, 8.2) == pytest.approx(8.088, abs=0.015)
    # the MANIFEST's shifts are on the file's own axis; ours is moved to put acetone-d5 at 2.05
    naphthoic = processed("nmr-bruker/naphthoic-acid-1h/1")[1]
    doublet = 9.0874 + naphthoic.reference["correction_ppm"]
    assert _tallest(naphthoic, 9.0, 9.2) == pytest.approx(doublet, abs=0.012)  # a line of the 8.65 Hz doublet
    hop = processed("nmr-varian/hop-extract-1h-cd3od/proton.fid")[1]
    assert hop.steps["orientation"].startswith("mirrored")
    assert _tallest(hop, 4.6, 5.1) == pytest.approx(4.864, abs=0.02)  # HOD
    gemini = processed("nmr-jcamp/varian-gemini300-1h-cdcl3/1h.jdx")[1]
    assert "solvent_inferred" in gemini.reference  # the file names no solvent


def test_13c_dataset_is_not_supported_yet(realdata):
    with pytest.raises(InputError, match="13C NMR is not supported yet"):
        read(realdata / "nmr-varian/tha-13c-cdcl3/13C.fid")


def test_parent_folder_with_one_experiment_resolves_and_with_two_is_ambiguous(realdata, tmp_path):
    assert read(realdata / "nmr-bruker/strychnine-1h").metadata["experiment"] == "10"
    import shutil

    for name in ("1", "2"):
        shutil.copytree(realdata / "nmr-bruker/aspirin-1h-raw/1", tmp_path / name)
    with pytest.raises(InputError, match=r"several Bruker experiments \(1, 2\)"):
        read(tmp_path)


def test_zipped_experiment_reads_and_hostile_zip_is_refused(realdata, tmp_path):
    import zipfile

    archive = tmp_path / "aspirin.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for item in (realdata / "nmr-bruker/aspirin-1h-raw/1").rglob("*"):
            if item.is_file():
                zipped.write(item, f"aspirin/1/{item.relative_to(realdata / 'nmr-bruker/aspirin-1h-raw/1')}")
    assert read(archive).format == "bruker"
    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(hostile, "w") as zipped:
        zipped.writestr("../../escape/acqus", "##TITLE= x\n")
    with pytest.raises(InputError, match="outside the archive"):
        read(hostile)


@pytest.mark.parametrize("route_id", ["diazepan-2-one", "cyclobutylcarbonyl-diazepane"])
@pytest.mark.parametrize("relative", sorted(DATASETS))
def test_full_analysis_runs_on_every_real_dataset(realdata, relative, route_id):
    # real spectra of other compounds: the analysis must run, place the solvent,
    # and claim none of the route's species at the last stage, the product included
    from specqc.chem.route import load_route
    from specqc.nmr.analysis import analyze_nmr

    route = load_route(route_id)
    result = analyze_nmr(read(realdata / relative), route, route.stages[-1])
    assert result.solvent == DATASETS[relative][1]
    assert result.multiplets and all(m.snr >= 8 for m in result.multiplets)
    assert result.species and not [s.species_id for s in result.species if s.detected]
