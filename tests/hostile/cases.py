"""Hostile inputs, built on demand from the shipped samples and from copies of real instrument files.

Each case is a function that builds one input under a folder it is given and returns the path to hand
to `specqc analyze`. A case either expects a refusal (exit 2, one line naming the file) or, where the
policy in docs/INPUT-CHECKS.md is to read what is really there, a warning in the report. Nothing here
writes outside the folder it is given; real files are copied (and made writable) first.
"""

from __future__ import annotations

import base64
import os
import random
import re
import shutil
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
REALDATA = ROOT.parent / "shared" / "realdata"

MZML = SAMPLES / "lcms" / "dz-salt-clean.mzML"
BRUKER = SAMPLES / "nmr" / "dz-salt-nmr-clean" / "1"
MZXML = REALDATA / "lcms-mzml" / "thermo-ltq-orbitrap-msn-mzxml" / "testdata.mzXML"
EXACTIVE = REALDATA / "lcms-mzml" / "thermo-exactive-beer-dda" / "testdata.mzml"
VARIAN = REALDATA / "nmr-varian" / "tha-1h-cdcl3" / "1H.fid"
JCAMP = REALDATA / "nmr-jcamp" / "butyl-acrylate-1h-cdcl3" / "1h.dx"
GEMINI = REALDATA / "nmr-jcamp" / "varian-gemini300-1h-cdcl3" / "1h.jdx"
JCAMP_FID = REALDATA / "nmr-jcamp" / "aspirin-1h-cdcl3-topspin" / "1h.fid.dx"
QTOF = REALDATA / "lcms-vendor" / "agilent-qtof-3scan-cyan" / "cyan.D"
MSD = REALDATA / "lcms-vendor" / "agilent-msd-elsd-blank" / "orange.D"
DAD = REALDATA / "lcms-vendor" / "agilent-dad-2006" / "brown.D"
WATERS = REALDATA / "lcms-vendor" / "waters-sqd2-noscapine" / "blue.raw"
ANDI_MS = REALDATA / "other" / "andi-advion-expression-cms" / "advion-expression.cdf"
ANDI_LC = REALDATA / "other" / "andi-agilent-hplc-dad254" / "agilent-hplc.cdf"

#: A string that must never appear in any output: it lives only in the file an external entity names.
SENTINEL_MARKER = "SPECQC-SENTINEL-7f3c9a51e2"


@dataclass(frozen=True)
class Case:
    name: str
    formats: str  # the format under attack, for the corpus listing
    build: Callable[[Path], Path]
    expect: str = "refuse"  # "refuse": exit 2, one line; "warn": exit 0, the message among the reader warnings
    message: str = ""  # a piece of the one line (refuse) or of a reader warning (warn), lower case
    needs: tuple[Path, ...] = ()  # real files the case is built from; skipped when absent
    sentinel: bool = False  # the case points at a file holding SENTINEL_MARKER
    max_rss_mb: float | None = None  # peak resident memory of the whole run
    root_defeats: bool = False  # meaningless when run as root (permissions do not bind root)


CASES: list[Case] = []


def case(name: str, formats: str, expect: str = "refuse", message: str = "", needs: tuple[Path, ...] = (), **options):
    def register(build):
        CASES.append(Case(name, formats, build, expect, message.lower(), needs, **options))
        return build

    return register


# -- helpers ---------------------------------------------------------------------------------------------------
def copy_in(source: Path, folder: Path, name: str | None = None) -> Path:
    """A writable copy of a file or dataset folder."""
    target = folder / (name or source.name)
    if source.is_dir():
        shutil.copytree(source, target, copy_function=shutil.copyfile)
        for path in [target, *target.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR | stat.S_IRUSR | (stat.S_IXUSR if path.is_dir() else 0))
    else:
        shutil.copyfile(source, target)
    return target


def truncated(source: Path, folder: Path, fraction: float, name: str | None = None) -> Path:
    data = source.read_bytes()
    target = folder / (name or source.name)
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def mzml_text() -> str:
    return MZML.read_text(encoding="latin-1")


def write_text(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("latin-1"))
    return path


_BINARY = re.compile(r"(<binary>)([^<]*)(</binary>)")


def rewrite_binary(text: str, nth: int, change: Callable[[str], str]) -> str:
    """Replace the base64 text of the nth <binary> element of a document."""
    matches = list(_BINARY.finditer(text))
    match = matches[nth]
    return text[: match.start(2)] + change(match.group(2)) + text[match.end(2) :]


def rewrite_values(text: str, nth: int, change: Callable[[np.ndarray], np.ndarray]) -> str:
    """Decode the nth array of the sample (zlib, 32- or 64-bit float as its cvParams say), change it, encode again."""
    match = list(_BINARY.finditer(text))[nth]
    params = text[text.rfind("<binaryDataArray ", 0, match.start()) : match.start()]
    dtype = "<f8" if "MS:1000523" in params else "<f4"
    compressed = "MS:1000574" in params
    raw = base64.b64decode(match.group(2))
    values = np.frombuffer(zlib.decompress(raw) if compressed else raw, dtype=dtype).copy()
    values = np.asarray(change(values), dtype=dtype)
    data = values.tobytes()
    encoded = base64.b64encode(zlib.compress(data) if compressed else data).decode("ascii")
    text = text[: match.start(2)] + encoded + text[match.end(2) :]
    start = text.rfind("<binaryDataArray ", 0, match.start())  # keep its encodedLength true
    tag_end = text.index(">", start)
    tag = re.sub(r'encodedLength="\d+"', f'encodedLength="{len(encoded)}"', text[start:tag_end])
    return text[:start] + tag + text[tag_end:]


def spectrum_arrays(nth_spectrum: int) -> tuple[int, int]:
    """Indices of the m/z and intensity <binary> of a sample spectrum (two arrays each, m/z first)."""
    return 2 * nth_spectrum, 2 * nth_spectrum + 1


def every_intensity(text: str, change: Callable[[np.ndarray], np.ndarray]) -> str:
    count = len(_BINARY.findall(text))
    for index in range(1, count, 2):
        text = rewrite_values(text, index, change)
    return text


def sentinel_file(folder: Path) -> Path:
    target = folder / "sentinel-secret.txt"
    target.write_text(f"{SENTINEL_MARKER}\n", encoding="ascii")
    return target


def with_doctype(text: str, declarations: str) -> str:
    """The sample with a DOCTYPE after its XML declaration."""
    head, _, rest = text.partition("?>")
    root = "indexedmzML" if "<indexedmzML" in rest[:400] else ("mzXML" if "<mzXML" in rest[:400] else "mzML")
    return f"{head}?>\n<!DOCTYPE {root} [\n{declarations}\n]>{rest}"


LAUGHS = "\n".join(
    ['<!ENTITY lol0 "lollollollollollollollollollol">']
    + [f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)]
)


def acqus_with(folder: Path, **changes: str) -> Path:
    experiment = copy_in(BRUKER, folder, "1")
    acqus = experiment / "acqus"
    text = acqus.read_text(encoding="latin-1")
    for key, value in changes.items():
        text, count = re.subn(rf"^##\${key}=.*$", f"##${key}= {value}", text, flags=re.MULTILINE)
        if not count:
            text = text.replace("##END=", f"##${key}= {value}\n##END=")
    acqus.write_text(text, encoding="latin-1")
    return experiment


def bruker_fid(folder: Path, data: bytes) -> Path:
    experiment = copy_in(BRUKER, folder, "1")
    (experiment / "fid").write_bytes(data)
    return experiment


def fid_values() -> np.ndarray:
    return np.frombuffer(BRUKER.joinpath("fid").read_bytes(), dtype="<i4")


def jcamp_with(folder: Path, source: Path, pattern: str, replacement: str, name: str | None = None) -> Path:
    text = source.read_text(encoding="latin-1")
    text, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
    assert count, f"{pattern!r} not found in {source}"
    return write_text(folder / (name or source.name), text)


# -- mzML -----------------------------------------------------------------------------------------------------
@case("mzml-empty", "mzML", message="empty")
def _(folder):
    target = folder / "empty.mzML"
    target.write_bytes(b"")
    return target


for _fraction in (0.02, 0.5, 0.999):

    @case(f"mzml-truncated-{_fraction:g}", "mzML", message="cut short")
    def _(folder, fraction=_fraction):
        return truncated(MZML, folder, fraction, "run.mzML")


@case("mzml-random-bytes", "mzML", message="not well-formed")
def _(folder):
    target = folder / "random.mzML"
    target.write_bytes(random_bytes(200_000, 1))
    return target


@case("mzml-entity-bomb", "mzML", message="document type declaration", max_rss_mb=400)
def _(folder):
    text = with_doctype(mzml_text(), LAUGHS).replace('name="mass spectrum" />', 'name="&lol9;" />', 1)
    return write_text(folder / "bomb.mzML", text)


@case("mzml-external-file-entity", "mzML", message="document type declaration", sentinel=True)
def _(folder):
    secret = sentinel_file(folder)
    text = with_doctype(mzml_text(), f'<!ENTITY secret SYSTEM "file://{secret}">')
    text = text.replace('name="mass spectrum" />', 'name="&secret;" />', 1)
    return write_text(folder / "xxe.mzML", text)


@case("mzml-external-fifo-entity", "mzML", message="document type declaration")
def _(folder):
    fifo = folder / "pipe"
    os.mkfifo(fifo)
    text = with_doctype(mzml_text(), f'<!ENTITY wait SYSTEM "file://{fifo}">')
    text = text.replace('name="mass spectrum" />', 'name="&wait;" />', 1)
    return write_text(folder / "fifo.mzML", text)


@case("mzml-external-dtd", "mzML", message="document type declaration", sentinel=True)
def _(folder):
    secret = sentinel_file(folder)
    head, _, rest = mzml_text().partition("?>")
    return write_text(folder / "dtd.mzML", f'{head}?>\n<!DOCTYPE indexedmzML SYSTEM "file://{secret}">{rest}')


@case("mzml-parameter-entity", "mzML", message="document type declaration")
def _(folder):
    text = with_doctype(mzml_text(), '<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd">\n%remote;')
    return write_text(folder / "pe.mzML", text)


@case("mzml-base64-damaged", "mzML", message="base64")
def _(folder):
    text = rewrite_binary(mzml_text(), 1, lambda b64: b64[:40] + "!!**" + b64[44:])
    return write_text(folder / "b64.mzML", text)


@case("mzml-zlib-damaged", "mzML", message="zlib data is damaged")
def _(folder):
    def damage(b64: str) -> str:
        raw = bytearray(base64.b64decode(b64))
        raw[10:30] = bytes(20)
        return base64.b64encode(bytes(raw)).decode()

    return write_text(folder / "zlib.mzML", rewrite_binary(mzml_text(), 0, damage))


@case("mzml-compression-mislabelled", "mzML", message="zlib-compressed although")
def _(folder):
    text = mzml_text()
    first = text.index('accession="MS:1000574" name="zlib compression"')
    text = text[:first] + 'accession="MS:1000576" name="no compression"' + text[first + 46 :]
    return write_text(folder / "mislabel.mzML", text)


@case("mzml-precision-mislabelled", "mzML", message="values but the intensity array")
def _(folder):
    text = mzml_text()
    first = text.index('accession="MS:1000521" name="32-bit float"')
    text = text[:first] + 'accession="MS:1000523" name="64-bit float"' + text[first + 42 :]
    return write_text(folder / "precision.mzML", text)


@case("mzml-nan-intensity", "mzML", message="nan or infinite")
def _(folder):
    def poison(values):
        values[len(values) // 2] = np.nan
        return values

    return write_text(folder / "nan.mzML", rewrite_values(mzml_text(), spectrum_arrays(3)[1], poison))


@case("mzml-inf-mz", "mzML", message="nan or infinite")
def _(folder):
    def poison(values):
        values[-1] = np.inf
        return values

    return write_text(folder / "inf.mzML", rewrite_values(mzml_text(), spectrum_arrays(0)[0], poison))


@case("mzml-all-intensities-negative", "mzML", message="no spectrum holds a positive intensity")
def _(folder):
    return write_text(folder / "negative.mzML", every_intensity(mzml_text(), lambda v: -np.abs(v) - 1))


@case("mzml-array-lengths-differ", "mzML", message="values but the intensity array")
def _(folder):
    text = rewrite_values(mzml_text(), spectrum_arrays(2)[1], lambda v: v[:-7])
    return write_text(folder / "lengths.mzML", text)


@case("mzml-scan-time-not-a-number", "mzML", message="scan start time")
def _(folder):
    text = mzml_text().replace('name="scan start time" value="0"', 'name="scan start time" value="soon"', 1)
    return write_text(folder / "rt.mzML", text)


@case("mzml-ms-level-zero", "mzML", message="ms level")
def _(folder):
    text = mzml_text().replace('name="ms level" value="1"', 'name="ms level" value="0"', 1)
    return write_text(folder / "level.mzML", text)


@case("mzml-wrong-root", "mzML", message="root element")
def _(folder):
    return write_text(folder / "html.mzML", '<?xml version="1.0"?>\n<html><body>not a run</body></html>\n')


@case("mzml-unicode-and-spaces-in-path", "mzML", message="cut short")
def _(folder):
    target = folder / "Prøbe Ölçüm 試料" / "run ☃ 1.mzML"
    target.parent.mkdir()
    return truncated(MZML, target.parent, 0.3, target.name)


# read through, with a warning giving both numbers
@case("mzml-default-array-length-lie", "mzML", expect="warn", message="defaultarraylength says 99999")
def _(folder):
    text = mzml_text().replace('defaultArrayLength="554"', 'defaultArrayLength="99999"', 1)
    return write_text(folder / "dal.mzML", text)


@case("mzml-spectrum-count-lie", "mzML", expect="warn", message="spectrumlist count says 5000")
def _(folder):
    text = re.sub(r'<spectrumList count="\d+"', '<spectrumList count="5000"', mzml_text(), count=1)
    return write_text(folder / "count.mzML", text)


@case("mzml-some-intensities-negative", "mzML", expect="warn", message="negative intensities")
def _(folder):
    def dent(values):
        values[:5] = -100.0
        return values

    return write_text(folder / "dent.mzML", rewrite_values(mzml_text(), spectrum_arrays(4)[1], dent))


@case("mzml-unsorted-mz", "mzML", expect="warn", message="out of order")
def _(folder):
    text = rewrite_values(mzml_text(), spectrum_arrays(5)[0], lambda v: v[::-1])
    text = rewrite_values(text, spectrum_arrays(5)[1], lambda v: v[::-1])
    return write_text(folder / "unsorted.mzML", text)


@case("mzml-missing-software-ref", "mzML", expect="warn", message="softwareref", needs=(EXACTIVE,))
def _(folder):
    return copy_in(EXACTIVE, folder)


# -- mzXML ----------------------------------------------------------------------------------------------------
def mzxml_with(folder: Path, old: str, new: str, name: str = "run.mzXML") -> Path:
    text = MZXML.read_text(encoding="latin-1")
    assert old in text, old
    return write_text(folder / name, text.replace(old, new, 1))


@case("mzxml-byte-order-bogus", "mzXML", message="byteorder 'bogus'", needs=(MZXML,))
def _(folder):
    return mzxml_with(folder, 'byteOrder="network"', 'byteOrder="bogus"')


@case("mzxml-precision-17", "mzXML", message="precision '17'", needs=(MZXML,))
def _(folder):
    return mzxml_with(folder, 'precision="32"', 'precision="17"')


@case("mzxml-peaks-count-too-high", "mzXML", message="peakscount says", needs=(MZXML,))
def _(folder):
    text = MZXML.read_text(encoding="latin-1")
    text = re.sub(r'peaksCount="(\d+)"', lambda m: f'peaksCount="{int(m.group(1)) * 1000}"', text, count=1)
    return write_text(folder / "run.mzXML", text)


@case("mzxml-peaks-count-too-low", "mzXML", message="peakscount says", needs=(MZXML,))
def _(folder):
    text = MZXML.read_text(encoding="latin-1")
    text = re.sub(r'peaksCount="(\d+)"', lambda m: f'peaksCount="{int(m.group(1)) // 2}"', text, count=1)
    return write_text(folder / "run.mzXML", text)


@case("mzxml-truncated", "mzXML", message="cut short", needs=(MZXML,))
def _(folder):
    return truncated(MZXML, folder, 0.6)


@case("mzxml-entity-bomb", "mzXML", message="document type declaration", needs=(MZXML,), max_rss_mb=400)
def _(folder):
    text = with_doctype(MZXML.read_text(encoding="latin-1"), LAUGHS)
    text = re.sub(r'(<parentFile[^>]*fileName=")[^"]*"', r'\1&lol9;"', text, count=1)
    return write_text(folder / "bomb.mzXML", text)


@case("mzxml-external-file-entity", "mzXML", message="document type declaration", needs=(MZXML,), sentinel=True)
def _(folder):
    secret = sentinel_file(folder)
    text = with_doctype(MZXML.read_text(encoding="latin-1"), f'<!ENTITY secret SYSTEM "file://{secret}">')
    text = re.sub(r'(<parentFile[^>]*fileName=")[^"]*"', r'\1&secret;"', text, count=1)
    return write_text(folder / "xxe.mzXML", text)


@case("mzxml-peaks-zlib-mislabelled", "mzXML", message="zlib", needs=(MZXML,))
def _(folder):
    return mzxml_with(folder, 'pairOrder="m/z-int">', 'pairOrder="m/z-int" compressionType="zlib">')


# -- Bruker folder -------------------------------------------------------------------------------------------
@case("bruker-acqus-text-in-SW_h", "Bruker", message="sw_h: 'abc' is not a number")
def _(folder):
    return acqus_with(folder, SW_h="abc")


@case("bruker-acqus-text-in-TD", "Bruker", message="td: 'lots' is not a number")
def _(folder):
    return acqus_with(folder, TD="lots")


@case("bruker-acqus-bad-byte-order-code", "Bruker", message="bytorda")
def _(folder):
    return acqus_with(folder, BYTORDA="7")


@case("bruker-acqus-empty", "Bruker", message="acqus is empty")
def _(folder):
    experiment = copy_in(BRUKER, folder, "1")
    (experiment / "acqus").write_bytes(b"")
    return experiment


@case("bruker-acqus-random-bytes", "Bruker", message="acqus")
def _(folder):
    experiment = copy_in(BRUKER, folder, "1")
    (experiment / "acqus").write_bytes(random_bytes(600, 2))
    return experiment


@case("bruker-fid-empty", "Bruker", message="fid is empty")
def _(folder):
    return bruker_fid(folder, b"")


@case("bruker-fid-random", "Bruker", message="no decaying signal")
def _(folder):
    return bruker_fid(folder, np.random.default_rng(3).integers(-(2**30), 2**30, 32768, dtype="<i4").tobytes())


@case("bruker-fid-all-zero", "Bruker", message="only zeros")
def _(folder):
    return bruker_fid(folder, bytes(131072))


@case("bruker-fid-flipped-byte-order", "Bruker", message="other byte order")
def _(folder):
    return bruker_fid(folder, fid_values().astype(">i4").tobytes())


@case("bruker-fid-nan-as-float", "Bruker", message="nan or infinite")
def _(folder):
    experiment = acqus_with(folder, DTYPA="2")
    values = fid_values().astype("<f8")
    values[100] = np.nan
    (experiment / "fid").write_bytes(values.tobytes())
    return experiment


@case("bruker-fid-a-few-bytes", "Bruker", message="points")
def _(folder):
    return bruker_fid(folder, BRUKER.joinpath("fid").read_bytes()[:24])


@case("bruker-acqus-missing", "Bruker", message="not a dataset")
def _(folder):
    experiment = copy_in(BRUKER, folder, "1")
    (experiment / "acqus").unlink()
    (experiment / "acqu").unlink()
    return experiment


@case("bruker-symlink-loop", "Bruker", message="")
def _(folder):
    experiment = copy_in(BRUKER, folder, "1")
    (experiment / "fid").unlink()
    (experiment / "fid").symlink_to(experiment / "fid")
    return experiment


@case("bruker-td-larger-than-fid", "Bruker", expect="warn", message="but td says 65536")
def _(folder):
    return acqus_with(folder, TD="131072")


@case("bruker-td-smaller-than-fid", "Bruker", expect="warn", message="more than td")
def _(folder):
    return acqus_with(folder, TD="8192")


# -- Bruker zip ------------------------------------------------------------------------------------------------
def bruker_zip(folder: Path, experiment: Path, name: str = "nmr.zip") -> Path:
    target = folder / name
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(experiment.rglob("*")):
            if path.is_file():
                archive.write(path, Path("sample") / path.relative_to(experiment.parent))
    return target


@case("bruker-zip-truncated", "Bruker zip", message="zip")
def _(folder):
    (folder / "src").mkdir()
    built = bruker_zip(folder, copy_in(BRUKER, folder / "src", "1"))
    return truncated(built, folder, 0.5, "cut.zip")


@case("bruker-zip-random-bytes", "Bruker zip", message="zip")
def _(folder):
    target = folder / "random.zip"
    target.write_bytes(b"PK\x03\x04" + random_bytes(5000, 4))
    return target


@case("bruker-zip-acqus-text", "Bruker zip", message="sw_h: 'abc' is not a number")
def _(folder):
    (folder / "src").mkdir()
    return bruker_zip(folder, acqus_with(folder / "src", SW_h="abc"))


@case("bruker-zip-member-outside", "Bruker zip", message="outside the archive")
def _(folder):
    target = folder / "escape.zip"
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("../../escaped.txt", "x")
        for path in BRUKER.iterdir():
            archive.write(path, f"sample/1/{path.name}")
    return target


# -- Varian .fid folder --------------------------------------------------------------------------------------
def varian_copy(folder: Path) -> Path:
    return copy_in(VARIAN, folder, "1H.fid")


def procpar_with(folder: Path, name: str, value: str) -> Path:
    experiment = varian_copy(folder)
    procpar = experiment / "procpar"
    text = procpar.read_text(encoding="latin-1")
    text, count = re.subn(rf"^({name} .*\n)1 [^\n]*\n", rf"\g<1>1 {value}\n", text, count=1, flags=re.MULTILINE)
    assert count, name
    procpar.write_text(text, encoding="latin-1")
    return experiment


@case("varian-fid-truncated", "Varian", expect="warn", message="but its header declares 16384", needs=(VARIAN,))
def _(folder):
    experiment = varian_copy(folder)
    data = (experiment / "fid").read_bytes()
    (experiment / "fid").write_bytes(data[: len(data) // 2])
    return experiment


@case("varian-fid-header-only", "Varian", message="fid", needs=(VARIAN,))
def _(folder):
    experiment = varian_copy(folder)
    (experiment / "fid").write_bytes((experiment / "fid").read_bytes()[:32])
    return experiment


@case("varian-fid-random", "Varian", message="fid", needs=(VARIAN,))
def _(folder):
    experiment = varian_copy(folder)
    (experiment / "fid").write_bytes(random_bytes(131132, 5))
    return experiment


@case("varian-fid-blocks-lie", "Varian", message="fid", needs=(VARIAN,))
def _(folder):
    experiment = varian_copy(folder)
    data = bytearray((experiment / "fid").read_bytes())
    data[0:4] = struct.pack(">i", 4000)  # nblocks
    (experiment / "fid").write_bytes(bytes(data))
    return experiment


@case("varian-fid-all-zero", "Varian", message="only zeros", needs=(VARIAN,))
def _(folder):
    experiment = varian_copy(folder)
    data = bytearray((experiment / "fid").read_bytes())
    data[60:] = bytes(len(data) - 60)
    (experiment / "fid").write_bytes(bytes(data))
    return experiment


@case("varian-procpar-sfrq-text", "Varian", message="sfrq", needs=(VARIAN,))
def _(folder):
    return procpar_with(folder, "sfrq", "fast")


@case("varian-procpar-missing", "Varian", message="procpar", needs=(VARIAN,))
def _(folder):
    experiment = varian_copy(folder)
    (experiment / "procpar").unlink()
    return experiment


# -- JCAMP-DX --------------------------------------------------------------------------------------------------
@case("jcamp-truncated", "JCAMP-DX", message="cut short", needs=(JCAMP,))
def _(folder):
    return truncated(JCAMP, folder, 0.5)


@case("jcamp-random-bytes", "JCAMP-DX", message="jcamp", needs=())
def _(folder):
    target = folder / "noise.jdx"
    target.write_bytes(random_bytes(50_000, 6))
    return target


@case("jcamp-header-only", "JCAMP-DX", message="no data", needs=(JCAMP,))
def _(folder):
    text = JCAMP.read_text(encoding="latin-1")
    return write_text(folder / "head.dx", text[: text.index("##NTUPLES")] + "##END=\n")


@case("jcamp-observe-frequency-text", "JCAMP-DX", message="observe frequency", needs=(JCAMP,))
def _(folder):
    return jcamp_with(folder, JCAMP, r"^##\.OBSERVE FREQUENCY=.*$", "##.OBSERVE FREQUENCY= three hundred")


@case("jcamp-data-type-missing", "JCAMP-DX", message="data type", needs=(GEMINI,))
def _(folder):
    return jcamp_with(folder, GEMINI, r"^##DATA TYPE=.*\n", "")


@case("jcamp-npoints-far-too-many", "JCAMP-DX", expect="warn", message="npoints= says 99999", needs=(GEMINI,))
def _(folder):
    return jcamp_with(folder, GEMINI, r"^##NPOINTS=.*$", "##NPOINTS= 99999")


@case("jcamp-y-values-text", "JCAMP-DX", message="'x' in the data", needs=(GEMINI,))
def _(folder):
    return jcamp_with(folder, GEMINI, r"^5 -0\.000106869", "5 -0.0001xyz69")


@case("jcamp-fid-imaginary-missing", "JCAMP-DX", message="imaginary", needs=(JCAMP_FID,))
def _(folder):
    text = JCAMP_FID.read_text(encoding="latin-1")
    start = text.index("##PAGE=", text.index("##PAGE=") + 1)
    end = text.index("##END NTUPLES")
    return write_text(folder / "1h.fid.dx", text[:start] + text[end:])


@case("jcamp-gemini-npoints-float", "JCAMP-DX", expect="warn", message="npoints", needs=(GEMINI,))
def _(folder):
    return copy_in(GEMINI, folder)


# -- Agilent .D ------------------------------------------------------------------------------------------------
@case("agilent-qtof-msprofile-cut-in-half", "Agilent .D", expect="warn", message="msprofile.bin", needs=(QTOF,))
def _(folder):
    run = copy_in(QTOF, folder)
    profile = run / "AcqData" / "MSProfile.bin"
    data = profile.read_bytes()
    profile.write_bytes(data[: len(data) // 2])
    return run


@case("agilent-qtof-msprofile-empty", "Agilent .D", message="msprofile.bin", needs=(QTOF,))
def _(folder):
    run = copy_in(QTOF, folder)
    (run / "AcqData" / "MSProfile.bin").write_bytes(b"")
    return run


@case("agilent-qtof-msscan-missing", "Agilent .D", message="msscan", needs=(QTOF,))
def _(folder):
    run = copy_in(QTOF, folder)
    (run / "AcqData" / "MSScan.bin").unlink()
    return run


@case("agilent-qtof-xsd-entity", "Agilent .D", message="document type declaration", needs=(QTOF,), sentinel=True)
def _(folder):
    run = copy_in(QTOF, folder)
    secret = sentinel_file(folder)
    xsd = run / "AcqData" / "MSScan.xsd"
    text = xsd.read_text(encoding="utf-8-sig")
    head, _, rest = text.partition("?>")
    xsd.write_text(
        f'{head}?>\n<!DOCTYPE x [<!ENTITY secret SYSTEM "file://{secret}">]>{rest}'.replace(
            "<xs:schema", "<!-- &secret; --><xs:schema", 1
        ),
        encoding="utf-8",
    )
    return run


@case("agilent-msd-random-bytes", "Agilent .D", message="", needs=(MSD,))
def _(folder):
    run = copy_in(MSD, folder)
    for name in ("MSD1.MS", "ADC1A.CH"):
        (run / name).write_bytes(random_bytes((run / name).stat().st_size, 7))
    return run


@case("agilent-dad-all-truncated", "Agilent .D", message="", needs=(DAD,))
def _(folder):
    run = copy_in(DAD, folder)
    for path in run.iterdir():
        path.write_bytes(path.read_bytes()[:100])
    return run


# -- Waters .raw -----------------------------------------------------------------------------------------------
@case("waters-func-dat-cut-in-half", "Waters .raw", expect="warn", message="_func001.dat", needs=(WATERS,))
def _(folder):
    run = copy_in(WATERS, folder)
    path = run / "_FUNC001.DAT"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return run


@case("waters-random-bytes", "Waters .raw", message="", needs=(WATERS,))
def _(folder):
    run = copy_in(WATERS, folder)
    for name in ("_FUNC001.DAT", "_FUNC002.DAT", "_CHRO001.DAT", "_FUNC001.IDX", "_FUNC002.IDX"):
        (run / name).write_bytes(random_bytes((run / name).stat().st_size, 8))
    return run


@case("waters-index-missing", "Waters .raw", message="", needs=(WATERS,))
def _(folder):
    run = copy_in(WATERS, folder)
    for name in ("_FUNC001.IDX", "_FUNC002.IDX", "_CHRO001.DAT"):
        (run / name).unlink()
    return run


# -- ANDI netCDF -----------------------------------------------------------------------------------------------
@case("andi-truncated", "ANDI netCDF", message="cut short", needs=(ANDI_MS,))
def _(folder):
    return truncated(ANDI_MS, folder, 0.5)


@case("andi-random-bytes", "ANDI netCDF", message="netcdf")
def _(folder):
    target = folder / "noise.cdf"
    target.write_bytes(b"CDF\x01" + random_bytes(20_000, 9))
    return target


@case("andi-header-only", "ANDI netCDF", message="netcdf", needs=(ANDI_LC,))
def _(folder):
    return truncated(ANDI_LC, folder, 0.02)


def andi_rewritten(source: Path, folder: Path, change: Callable[[dict], None]) -> Path:
    """A copy of an ANDI file with some variables changed (written again with scipy)."""
    from scipy.io import netcdf_file

    target = folder / source.name
    with netcdf_file(str(source), "r", mmap=False) as original:
        variables = {
            name: (var.dimensions, var.data.copy(), dict(var._attributes)) for name, var in original.variables.items()
        }
        dimensions = dict(original.dimensions)
        attributes = dict(original._attributes)
    change(variables)
    with netcdf_file(str(target), "w") as copy:
        for key, value in attributes.items():
            setattr(copy, key, value)
        for name, size in dimensions.items():
            copy.createDimension(name, size)
        for name, (dims, data, attrs) in variables.items():
            for dim, length in zip(dims, data.shape):
                if copy.dimensions[dim] is not None and copy.dimensions[dim] != length:
                    raise ValueError(f"{name}: {dim} {length}")
            var = copy.createVariable(name, data.dtype, dims)
            if data.ndim:
                var[:] = data
            else:
                var.data[...] = data  # a scalar; assignValue cannot set one in scipy
            for key, value in attrs.items():
                setattr(var, key, value)
    return target


@case("andi-scan-index-past-the-data", "ANDI netCDF", message="scan", needs=(ANDI_MS,))
def _(folder):
    def lie(variables):
        variables["scan_index"][1][-1] = 10**8

    return andi_rewritten(ANDI_MS, folder, lie)


@case("andi-nan-in-trace", "ANDI netCDF", message="nan or infinite", needs=(ANDI_LC,))
def _(folder):
    def poison(variables):
        variables["ordinate_values"][1][100] = np.nan

    return andi_rewritten(ANDI_LC, folder, poison)


@case("andi-unsorted-scan-times", "ANDI netCDF", expect="warn", message="retention-time order", needs=(ANDI_MS,))
def _(folder):
    def shuffle(variables):
        times = variables["scan_acquisition_time"][1]
        times[[3, 4]] = times[[4, 3]]

    return andi_rewritten(ANDI_MS, folder, shuffle)


# -- any path --------------------------------------------------------------------------------------------------
@case("path-symlink-loop", "any", message="")
def _(folder):
    first, second = folder / "a.mzML", folder / "b.mzML"
    first.symlink_to(second)
    second.symlink_to(first)
    return first


@case("path-fifo-named-mzml", "any", message="")
def _(folder):
    target = folder / "pipe.mzML"
    os.mkfifo(target)
    return target


@case("path-unreadable-file", "any", message="permission", root_defeats=True)
def _(folder):
    target = copy_in(MZML, folder, "locked.mzML")
    target.chmod(0)
    return target


@case("path-unreadable-folder", "Bruker", message="permission", root_defeats=True)
def _(folder):
    experiment = copy_in(BRUKER, folder, "1")
    (experiment / "fid").chmod(0)
    return experiment


@case("path-folder-of-nothing", "any", message="not a dataset")
def _(folder):
    target = folder / "empty.D"
    target.mkdir()
    return target
