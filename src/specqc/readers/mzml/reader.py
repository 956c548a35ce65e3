"""mzML / mzXML → LCMSRun, via pyopenms.

Profile spectra are kept as profile here; centroiding is an analysis step
(`specqc.lcms.centroid`) so its parameters are recorded with the analysis.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...errors import InputError, SpecqcError, with_path
from ...model import Chromatogram, DiodeArray, InstrumentInfo, LCMSRun, Spectrum
from .. import _head, _sniff_mzxml
from .._native import captured_native_stderr
from ..rainbow_run import wavelength_from_label
from . import xmlcheck

MIN_DIODE_ARRAY_CHANNELS = 5
FORMAT_NAMES = {"mzml": "mzML", "mzxml": "mzXML"}


def _polarity(oms, spectrum) -> str:
    value = spectrum.getInstrumentSettings().getPolarity()
    if value == oms.IonSource.Polarity.POSITIVE:
        return "positive"
    if value == oms.IonSource.Polarity.NEGATIVE:
        return "negative"
    return "unknown"


def _mode(oms, spectrum, mz: np.ndarray) -> str:
    kind = spectrum.getType()
    if kind == oms.SpectrumSettings.SpectrumType.CENTROID:
        return "centroid"
    if kind == oms.SpectrumSettings.SpectrumType.PROFILE:
        return "profile"
    if mz.size < 5:
        return "unknown"
    # Not declared: pyopenms' estimator looks at the spacing of the data points.
    estimated = oms.PeakTypeEstimator().estimateType(spectrum)
    if estimated == oms.SpectrumSettings.SpectrumType.CENTROID:
        return "centroid"
    if estimated == oms.SpectrumSettings.SpectrumType.PROFILE:
        return "profile"
    return "unknown"


_CHROMATOGRAM_KINDS = {
    "TOTAL_ION_CURRENT_CHROMATOGRAM": "tic",
    "BASEPEAK_CHROMATOGRAM": "bpc",
    "SELECTED_REACTION_MONITORING_CHROMATOGRAM": "srm",
    "ABSORPTION_CHROMATOGRAM": "uv",
    "ELECTROMAGNETIC_RADIATION_CHROMATOGRAM": "uv",
}


def _chromatogram(oms, index: int, chromatogram) -> Chromatogram | None:
    rt_s, values = chromatogram.get_peaks()
    if rt_s.size == 0:
        return None
    type_names = {
        getattr(oms.ChromatogramSettings.ChromatogramType, name): name
        for name in _CHROMATOGRAM_KINDS
    }
    kind = _CHROMATOGRAM_KINDS.get(type_names.get(chromatogram.getChromatogramType(), ""), "other")
    native_id = chromatogram.getNativeID() or f"chromatogram={index}"
    polarity = "negative" if native_id.lstrip().startswith("-") else (
        "positive" if native_id.lstrip().startswith("+") else "unknown")
    precursor = chromatogram.getPrecursor().getMZ() or None
    product = chromatogram.getProduct().getMZ() or None
    order = np.argsort(rt_s, kind="stable")
    wavelength = wavelength_from_label(native_id) if kind == "uv" else None
    return Chromatogram(
        id=native_id,
        kind=kind,
        rt_min=np.asarray(rt_s, dtype=np.float64)[order] / 60.0,
        intensity=np.asarray(values, dtype=np.float64)[order],
        polarity=polarity,
        precursor_mz=precursor,
        product_mz=product,
        wavelength_nm=wavelength,
    )


def diode_array_from_channels(chromatograms: list[Chromatogram]) -> tuple[list[Chromatogram], list[DiodeArray]]:
    """Absorption chromatograms at many wavelengths on one clock are a diode
    array written channel by channel: put them back together (at least
    MIN_DIODE_ARRAY_CHANNELS, so two or three discrete signals stay signals)."""
    uv = [c for c in chromatograms if c.kind == "uv" and c.wavelength_nm is not None]
    if len(uv) < MIN_DIODE_ARRAY_CHANNELS:
        return chromatograms, []
    clock = uv[0].rt_min
    same = [c for c in uv if c.rt_min.size == clock.size and np.allclose(c.rt_min, clock, atol=1e-6)]
    wavelengths = [c.wavelength_nm for c in same]
    if len(same) < MIN_DIODE_ARRAY_CHANNELS or len(set(wavelengths)) != len(wavelengths):
        return chromatograms, []
    array = DiodeArray(id="DAD (from absorption chromatograms)", rt_min=clock, wavelength_nm=np.array(wavelengths),
                       absorbance=np.column_stack([c.intensity for c in same]), unit="mAU")
    kept = [c for c in chromatograms if not any(c is s for s in same)]
    return kept, [array]


def _instrument(oms, experiment) -> InstrumentInfo:
    instrument = experiment.getInstrument()
    analyzers = []
    for analyzer in instrument.getMassAnalyzers():
        kind = analyzer.getType()
        name = next(
            (n for n in dir(oms.MassAnalyzer.AnalyzerType)
             if n.isupper() and getattr(oms.MassAnalyzer.AnalyzerType, n) == kind),
            "",
        )
        if name and name not in ("ANALYZERNULL", "SIZE_OF_ANALYZERTYPE"):
            analyzers.append(name.lower())
    return InstrumentInfo(
        model=str(instrument.getName() or instrument.getModel() or ""),
        vendor=str(instrument.getVendor() or ""),
        analyzers=tuple(analyzers),
        software=str(instrument.getSoftware().getName() or ""),
    )


# What OpenMS reports on its stderr when a load fails, in specqc's words.
OPENMS_PROBLEMS = (
    (re.compile(r"length of m/z and integer values of spectrum '(?P<id>[^']*)' differ \(mz-size: (?P<mz>\d+), "
                r"int-size: (?P<int>\d+)"),
     "spectrum {id}: the m/z array holds {mz} values but the intensity array {int}"),
    (re.compile(r"zlib::inflate failed"), "the zlib data of a binary array is damaged"),
    (re.compile(r"input ended before all started tags were ended"), "the XML ends before its elements are closed "
                                                                    "(file cut short?)"),
    (re.compile(r"Required attribute '(?P<name>[^']+)' not present"), "required attribute {name!r} is missing"),
    (re.compile(r"invalid character encountered"), "a value that is not a valid number or name"),
    (re.compile(r"[Bb]ase ?64"), "the base64 data of a binary array is damaged"),
)
POSITION = re.compile(r"in line (\d+) column (\d+)")


def openms_failure(kind: str, printed: list[str]) -> str:
    """One line saying why OpenMS refused the file, from what it printed: its own
    text names its source files, so only the position and a known reason are kept."""
    text = " ".join(printed)
    problem = next((template.format(**match.groupdict()) for pattern, template in OPENMS_PROBLEMS
                    if (match := pattern.search(text))), None)
    problem = problem or f"the {FORMAT_NAMES[kind]} reader (OpenMS) cannot interpret the content"
    position = POSITION.search(text)
    return f"line {position.group(1)}, column {position.group(2)}: {problem}" if position else problem


# What OpenMS prints while loading a file it can read, in specqc's words; None: said already by xmlcheck.
OPENMS_NOTES = (
    (re.compile(r"binary data array '[^']*' has length \d+, but should have length \d+"), None),
    (re.compile(r"should be fixed\. Please notify the maintainers"), None),
    (re.compile(r"Required attribute '[^']*' not present"), None),
    (re.compile(r'"(?P<element>[^"]+)" is missing the required attribute "(?P<name>[^"]+)"'),
     "<{element}> lacks its required attribute {name!r}; read without it"),
)
SOURCE_LOCATION = re.compile(r"^\S*\.(?:cpp|h)\(\d+\):\s*|While loading '[^']*':\s*|^Warning:\s*")


def openms_notes(printed: list[str]) -> list[str]:
    """Reader warnings from what OpenMS printed, without its source locations, each said once."""
    notes: list[str] = []
    for line in printed:
        for pattern, template in OPENMS_NOTES:
            if match := pattern.search(line):
                note = template.format(**match.groupdict()) if template else None
                break
        else:
            note = SOURCE_LOCATION.sub("", line).strip() or None
        if note and note not in notes:
            notes.append(note)
    return notes


def load_experiment(path: Path, kind: str, warnings: list[str]):
    import pyopenms as oms

    experiment = oms.MSExperiment()
    loader = oms.MzXMLFile() if kind == "mzxml" else oms.MzMLFile()
    printed: list[str] = []
    try:
        with captured_native_stderr(printed):
            loader.load(str(path), experiment)
    except MemoryError:
        raise
    except Exception as exc:  # pyopenms raises RuntimeError/ParseError subclasses
        # "mzml"/"mzxml": the format's name as `specqc formats` and --input-format give it
        raise InputError(f"not a readable {kind} file: {openms_failure(kind, printed + [str(exc)])}", path) from exc
    warnings.extend(openms_notes(printed))
    return experiment


def read(path: Path) -> LCMSRun:
    import pyopenms as oms

    path = Path(path)
    if not path.is_file():
        raise InputError("not a file", path)
    if path.stat().st_size == 0:
        raise InputError("file is empty", path)
    kind = "mzxml" if path.suffix.lower() == ".mzxml" or _sniff_mzxml(path, _head(path)) else "mzml"
    # Refuses DTDs, entities and damaged or contradictory arrays before OpenMS sees the file.
    warnings: list[str] = xmlcheck.check(path, kind)
    experiment = load_experiment(path, kind, warnings)
    try:
        spectra = []
        for index, spectrum in enumerate(experiment.getSpectra()):
            mz, intensity = spectrum.get_peaks()
            precursors = spectrum.getPrecursors()
            spectra.append(
                Spectrum(
                    index=index,
                    rt_min=spectrum.getRT() / 60.0,
                    ms_level=spectrum.getMSLevel(),
                    polarity=_polarity(oms, spectrum),
                    mode=_mode(oms, spectrum, mz),
                    mz=mz,
                    intensity=intensity,
                    native_id=spectrum.getNativeID(),
                    precursor_mz=precursors[0].getMZ() if precursors else None,
                )
            )
        chromatograms = [
            c for c in (_chromatogram(oms, i, ch) for i, ch in enumerate(experiment.getChromatograms()))
            if c is not None
        ]
        if not spectra and not chromatograms:
            raise InputError(f"the {FORMAT_NAMES[kind]} file holds no spectra and no chromatograms")
        chromatograms, diode_arrays = diode_array_from_channels(chromatograms)
        date = experiment.getDateTime().get() if experiment.getDateTime().isValid() else ""
        return LCMSRun(
            source_path=str(path),
            format=kind,
            spectra=tuple(spectra),
            chromatograms=tuple(chromatograms),
            diode_arrays=tuple(diode_arrays),
            instrument=_instrument(oms, experiment),
            acquisition_date=str(date),
            metadata={"reader_warnings": warnings},
        )
    except SpecqcError as exc:
        raise with_path(exc, path) from exc
