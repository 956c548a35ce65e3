"""mzML / mzXML → LCMSRun, via pyopenms.

``read`` loads every spectrum into the run. ``read_streaming`` passes the file
once through pyopenms' consumer interface (``MzMLFile().transform``): each
spectrum is checked as a Spectrum, handed to an MS1ScanCollector and let go,
so the run holds what the collector keeps (see model.MS1Scans) and memory
follows the centroids, not the file. Profile spectra are kept as profile by
the reader; centroiding is an analysis step (`specqc.lcms.signals.centroid`,
the collector's ``reduce``) so its parameters are recorded with the analysis.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...errors import InputError, SpecqcError, with_path
from ...model import (
    Chromatogram,
    ChromatogramKind,
    DiodeArray,
    InstrumentInfo,
    LCMSRun,
    MS1ScanCollector,
    Polarity,
    Spectrum,
    SpectrumMode,
)
from .. import _head, _sniff_mzxml
from .._native import captured_native_stderr
from ..rainbow_run import wavelength_from_label
from . import xmlcheck

MIN_DIODE_ARRAY_CHANNELS = 5
FORMAT_NAMES = {"mzml": "mzML", "mzxml": "mzXML"}


def _polarity(oms, spectrum) -> Polarity:
    value = spectrum.getInstrumentSettings().getPolarity()
    if value == oms.IonSource.Polarity.POSITIVE:
        return "positive"
    if value == oms.IonSource.Polarity.NEGATIVE:
        return "negative"
    return "unknown"


def _mode(oms, spectrum, mz: np.ndarray) -> SpectrumMode:
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


_CHROMATOGRAM_KINDS: dict[str, ChromatogramKind] = {
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
    type_names = {getattr(oms.ChromatogramSettings.ChromatogramType, name): name for name in _CHROMATOGRAM_KINDS}
    kind = _CHROMATOGRAM_KINDS.get(type_names.get(chromatogram.getChromatogramType(), ""), "other")
    native_id = chromatogram.getNativeID() or f"chromatogram={index}"
    polarity: Polarity = (
        "negative"
        if native_id.lstrip().startswith("-")
        else ("positive" if native_id.lstrip().startswith("+") else "unknown")
    )
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
    array = DiodeArray(
        id="DAD (from absorption chromatograms)",
        rt_min=clock,
        wavelength_nm=np.array(wavelengths),
        absorbance=np.column_stack([c.intensity for c in same]),
        unit="mAU",
    )
    kept = [c for c in chromatograms if not any(c is s for s in same)]
    return kept, [array]


def _instrument(oms, experiment) -> InstrumentInfo:
    instrument = experiment.getInstrument()
    analyzers = []
    for analyzer in instrument.getMassAnalyzers():
        kind = analyzer.getType()
        name = next(
            (
                n
                for n in dir(oms.MassAnalyzer.AnalyzerType)
                if n.isupper() and getattr(oms.MassAnalyzer.AnalyzerType, n) == kind
            ),
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
    (
        re.compile(
            r"length of m/z and integer values of spectrum '(?P<id>[^']*)' differ \(mz-size: (?P<mz>\d+), "
            r"int-size: (?P<int>\d+)"
        ),
        "spectrum {id}: the m/z array holds {mz} values but the intensity array {int}",
    ),
    (re.compile(r"zlib::inflate failed"), "the zlib data of a binary array is damaged"),
    (
        re.compile(r"input ended before all started tags were ended"),
        "the XML ends before its elements are closed (file cut short?)",
    ),
    (re.compile(r"Required attribute '(?P<name>[^']+)' not present"), "required attribute {name!r} is missing"),
    (re.compile(r"invalid character encountered"), "a value that is not a valid number or name"),
    (re.compile(r"[Bb]ase ?64"), "the base64 data of a binary array is damaged"),
)
POSITION = re.compile(r"in line (\d+) column (\d+)")


def openms_failure(kind: str, printed: list[str]) -> str:
    """One line saying why OpenMS refused the file, from what it printed: its own
    text names its source files, so only the position and a known reason are kept."""
    text = " ".join(printed)
    problem = next(
        (
            template.format(**match.groupdict())
            for pattern, template in OPENMS_PROBLEMS
            if (match := pattern.search(text))
        ),
        None,
    )
    problem = problem or f"the {FORMAT_NAMES[kind]} reader (OpenMS) cannot interpret the content"
    position = POSITION.search(text)
    return f"line {position.group(1)}, column {position.group(2)}: {problem}" if position else problem


# What OpenMS prints while loading a file it can read, in specqc's words; None: said already by xmlcheck.
OPENMS_NOTES = (
    (re.compile(r"binary data array '[^']*' has length \d+, but should have length \d+"), None),
    (re.compile(r"should be fixed\. Please notify the maintainers"), None),
    (re.compile(r"Required attribute '[^']*' not present"), None),
    (
        re.compile(r'"(?P<element>[^"]+)" is missing the required attribute "(?P<name>[^"]+)"'),
        "<{element}> lacks its required attribute {name!r}; read without it",
    ),
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


def _spectrum(oms, index: int, spectrum) -> Spectrum:
    mz, intensity = spectrum.get_peaks()
    precursors = spectrum.getPrecursors()
    return Spectrum(
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


def _checked(path: Path) -> tuple[str, list[str]]:
    """The file's kind and the warnings of the checks made before OpenMS sees it."""
    path = Path(path)
    if not path.is_file():
        raise InputError("not a file", path)
    if path.stat().st_size == 0:
        raise InputError("file is empty", path)
    kind = "mzxml" if path.suffix.lower() == ".mzxml" or _sniff_mzxml(path, _head(path)) else "mzml"
    # Refuses DTDs, entities and damaged or contradictory arrays before OpenMS sees the file.
    return kind, xmlcheck.check(path, kind)


def _run(
    oms,
    path: Path,
    kind: str,
    settings,
    chromatograms: list[Chromatogram],
    has_spectra: bool,
    warnings: list[str],
    **content,
) -> LCMSRun:
    if not has_spectra and not chromatograms:
        raise InputError(f"the {FORMAT_NAMES[kind]} file holds no spectra and no chromatograms")
    chromatograms, diode_arrays = diode_array_from_channels(chromatograms)
    date = settings.getDateTime().get() if settings is not None and settings.getDateTime().isValid() else ""
    return LCMSRun(
        source_path=str(path),
        format=kind,
        chromatograms=tuple(chromatograms),
        diode_arrays=tuple(diode_arrays),
        instrument=_instrument(oms, settings) if settings is not None else InstrumentInfo(),
        acquisition_date=str(date),
        metadata={"reader_warnings": warnings},
        **content,
    )


def read(path: Path) -> LCMSRun:
    """Every spectrum and chromatogram of the file, in memory."""
    import pyopenms as oms

    path = Path(path)
    kind, warnings = _checked(path)
    experiment = load_experiment(path, kind, warnings)
    try:
        spectra = [_spectrum(oms, index, spectrum) for index, spectrum in enumerate(experiment.getSpectra())]
        chromatograms = [
            c
            for c in (_chromatogram(oms, i, ch) for i, ch in enumerate(experiment.getChromatograms()))
            if c is not None
        ]
        return _run(oms, path, kind, experiment, chromatograms, bool(spectra), warnings, spectra=tuple(spectra))
    except SpecqcError as exc:
        raise with_path(exc, path) from exc


class _Consumer:
    """pyopenms' IMSDataConsumer: every spectrum to the collector, the chromatograms kept.

    pyopenms appends what it hands over to ``experiment`` too (the form of
    transform that fills the run's metadata from the same, single pass): it is
    emptied at each call, so it never holds more than one spectrum. pyopenms
    reports an exception raised here only as "callback raised": it is kept to
    be raised again."""

    def __init__(self, oms, collector: MS1ScanCollector, experiment):
        self.oms, self.collector, self.experiment = oms, collector, experiment
        self.spectra = 0
        self.chromatograms: list[Chromatogram] = []
        self.chromatogram_count = 0
        self.error: BaseException | None = None

    def setExpectedSize(self, _spectra, _chromatograms) -> None:  # pyopenms' interface names
        pass

    def setExperimentalSettings(self, _settings) -> None:
        pass

    def _release(self) -> None:
        if self.experiment.getNrSpectra() or self.experiment.getNrChromatograms():
            self.experiment.clear(False)  # the data handed over before; the run's metadata stays

    def consumeSpectrum(self, spectrum) -> None:
        try:
            self._release()
            self.collector.add(_spectrum(self.oms, self.spectra, spectrum))
            self.spectra += 1
        except BaseException as exc:  # a deadline or memory bound too: raised again after pyopenms returns
            self.error = exc
            raise

    def consumeChromatogram(self, chromatogram) -> None:
        try:
            self._release()
            found = _chromatogram(self.oms, self.chromatogram_count, chromatogram)
            self.chromatogram_count += 1
            if found is not None:
                self.chromatograms.append(found)
        except BaseException as exc:
            self.error = exc
            raise


def stream_experiment(path: Path, consumer: _Consumer, warnings: list[str]) -> None:
    """One pass of OpenMS through an mzML file, each spectrum to ``consumer``.
    (The form without an experiment reads the header in a pass of its own:
    OpenMS would then print each of the header's warnings twice, the second
    time at exit, past the capture.)"""
    import pyopenms as oms

    printed: list[str] = []
    try:
        with captured_native_stderr(printed):
            oms.MzMLFile().transform(str(path), consumer, consumer.experiment, True, True)
    except MemoryError:
        raise
    except Exception as exc:
        if consumer.error is not None:
            raise consumer.error from None
        raise InputError(f"not a readable mzml file: {openms_failure('mzml', printed + [str(exc)])}", path) from exc
    if consumer.error is not None:  # raised in a callback that pyopenms did not pass on
        raise consumer.error
    warnings.extend(openms_notes(printed))


def read_streaming(path: Path, collector: MS1ScanCollector) -> LCMSRun:
    """The run with its spectra passed through ``collector`` as they are read,
    not kept: the run's ``ms1_scans`` is what the collector kept."""
    import pyopenms as oms

    path = Path(path)
    kind, warnings = _checked(path)
    try:
        if kind == "mzml":
            experiment = oms.MSExperiment()
            consumer = _Consumer(oms, collector, experiment)
            stream_experiment(path, consumer, warnings)
            chromatograms, spectrum_count = consumer.chromatograms, consumer.spectra
        else:
            # OpenMS streams mzXML only after a pass of its own over the header (see stream_experiment):
            # the file is loaded whole, and its spectra go to the collector from there.
            experiment = load_experiment(path, kind, warnings)
            spectrum_count = 0
            for spectrum in experiment.getSpectra():
                collector.add(_spectrum(oms, spectrum_count, spectrum))
                spectrum_count += 1
            chromatograms = [
                c
                for c in (_chromatogram(oms, i, ch) for i, ch in enumerate(experiment.getChromatograms()))
                if c is not None
            ]
            experiment.clear(False)
        warnings.extend(collector.notes())
        return _run(
            oms,
            path,
            kind,
            experiment,
            chromatograms,
            spectrum_count > 0,
            warnings,
            spectra=(),
            ms1_scans=collector.finish(),
        )
    except SpecqcError as exc:
        raise with_path(exc, path) from exc
