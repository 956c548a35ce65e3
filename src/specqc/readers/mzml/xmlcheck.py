"""A check of mzML / mzXML files before pyopenms parses them.

pyopenms (OpenMS, on Xerces) expands entities, fetches an external DTD and
follows external entities to files, FIFOs and URLs; it trusts declared array
lengths (an mzXML ``peaksCount`` past the data crashes it) and accepts values
the formats do not allow. So every file is first streamed through expat, with
no DTD or entity processing at all, and refused when it:

- has a document type declaration (the only place entities can be declared),
- is not well-formed XML (reported with its line and column),
- holds an array whose base64 or zlib data is damaged, whose byte count is not
  a whole number of values, or whose m/z and intensity arrays differ in length,
- (mzXML) states a ``precision``, ``byteOrder``, ``pairOrder`` or
  ``compressionType`` the format does not have, or a ``peaksCount`` other than
  the number of peaks its data holds, or a malformed ``msLevel``,
  ``retentionTime`` or ``polarity``,
- (mzML) states a ``defaultArrayLength`` or a numeric cvParam that is not a number.

Where a declaration only disagrees with the data and the data itself is
sound (mzML ``defaultArrayLength`` or ``encodedLength``, list counts, index
offsets), the data is read as it is and a warning gives both numbers. Every
case is listed in docs/INPUT-CHECKS.md.
"""

from __future__ import annotations

import binascii
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

import numpy as np

from ...errors import InputError

READ_CHUNK = 1 << 20
MAX_ARRAY_BYTES = 1 << 31  # one decompressed array; beyond it the file is refused, not inflated

# mzML binary-data cvParams
PRECISION_TYPES = {"MS:1000521": "<f4", "MS:1000523": "<f8", "MS:1000519": "<i4", "MS:1000522": "<i8"}
NO_COMPRESSION = "MS:1000576"
ZLIB = "MS:1000574"
# MS-Numpress, alone or after zlib: value counts cannot be told without decoding them
NUMPRESS = {"MS:1002312", "MS:1002313", "MS:1002314", "MS:1002746", "MS:1002747", "MS:1002748"}
MZ_ARRAY, INTENSITY_ARRAY, TIME_ARRAY = "MS:1000514", "MS:1000515", "MS:1000595"
ARRAY_NAMES = {MZ_ARRAY: "m/z array", INTENSITY_ARRAY: "intensity array", TIME_ARRAY: "time array"}
# cvParams whose value pyopenms converts to a number
NUMERIC_PARAMS = {
    "MS:1000016": "scan start time",
    "MS:1000744": "selected ion m/z",
    "MS:1000827": "isolation window target m/z",
    "MS:1000501": "scan window lower limit",
    "MS:1000500": "scan window upper limit",
    "MS:1000504": "base peak m/z",
    "MS:1000505": "base peak intensity",
    "MS:1000285": "total ion current",
    "MS:1000041": "charge state",
    "MS:1000042": "peak intensity",
}
MS_LEVEL = "MS:1000511"

MZXML_PRECISIONS = {"32": 4, "64": 8}
MZXML_PAIR_ORDERS = {"m/z-int"}
MZXML_COMPRESSIONS = {"none", "zlib"}
MZXML_POLARITIES = {"+", "-", "any"}
DURATION = re.compile(r"-?P(?:(\d+(?:\.\d*)?)D)?(?:T(?:(\d+(?:\.\d*)?)H)?(?:(\d+(?:\.\d*)?)M)?(?:(\d+(?:\.\d*)?)S)?)?")

PLURALS = {"spectrum": "spectra", "chromatogram": "chromatograms", "scan": "scans"}
ROOTS = {"mzml": ("mzML", "indexedmzML"), "mzxml": ("mzXML",)}

# expat error codes, in specqc's words
XML_PROBLEMS = {
    3: "the XML ends before its elements are closed (file cut short?)",
    4: "not well-formed XML (a character or markup that cannot be there)",
    5: "the XML ends inside a tag (file cut short?)",
    6: "the XML ends inside a character (file cut short?)",
    7: "a closing tag does not match the element it closes",
    8: "an attribute is given twice",
    9: "content after the end of the document",
    11: "a reference to an entity that is not defined",
    14: "a character reference to a character XML does not allow",
    17: "an XML declaration that is not at the start of the file",
    18: "a character encoding expat does not know",
    19: "text that is not in the encoding the XML declaration states",
    20: "the XML ends inside a CDATA section (file cut short?)",
}


class _Refusal(Exception):
    """Raised from inside an expat handler; carries the message without position."""


@dataclass
class _Array:
    length_attr: str | None
    encoded_length: str | None
    dtype: np.dtype | None = None
    compression: str | None = None
    numpress: bool = False
    kind: str = ""
    values: int | None = None
    base64_chars: int = 0


@dataclass
class _Item:
    """A spectrum or chromatogram (mzML) or a scan (mzXML) being read."""

    label: str
    declared: int | None
    arrays: list[_Array] = field(default_factory=list)


class _Findings:
    """Disagreements read through: one warning per kind, with the count and the first example."""

    def __init__(self):
        self.kinds: dict[str, tuple[int, str]] = {}

    def add(self, kind: str, example: str) -> None:
        count, first = self.kinds.get(kind, (0, example))
        self.kinds[kind] = (count + 1, first)

    def warnings(self) -> list[str]:
        lines = []
        for kind, (count, first) in self.kinds.items():
            lines.append(first if count == 1 else f"{count} times {kind}; first: {first}")
        return lines


def check(path: Path, kind: str) -> list[str]:
    """Stream ``path`` (an mzML or mzXML file) through the checks; raise
    InputError for what must be refused and return warnings for what is read through."""
    checker = _Checker(path, kind)
    return checker.run()


class _Checker:
    def __init__(self, path: Path, kind: str):
        self.path = path
        self.kind = kind
        self.size = path.stat().st_size
        self.parser = expat.ParserCreate()
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartDoctypeDeclHandler = self._doctype
        self.parser.EntityDeclHandler = self._entity
        self.parser.ExternalEntityRefHandler = self._external_entity
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._text
        self.parser.buffer_text = True
        self.findings = _Findings()
        self.root_seen = False
        self.stack: list[str] = []
        self.items: list[_Item] = []  # open spectra/scans (mzXML scans nest)
        self.array: _Array | None = None
        self.text: list[str] | None = None  # collecting the text of <binary>, <peaks> or <offset>
        self.offsets = 0
        self.counted = {"spectrum": 0, "chromatogram": 0, "scan": 0}
        self.declared_counts: dict[str, tuple[int, str]] = {}
        self.peaks_attrs: dict = {}
        self.param_groups: dict[str, list[str]] = {}  # referenceableParamGroup id -> its cvParam accessions
        self.group: list[str] | None = None

    # -- driving expat ------------------------------------------------------------------------------------
    def run(self) -> list[str]:
        try:
            with self.path.open("rb") as handle:
                while chunk := handle.read(READ_CHUNK):
                    self.parser.Parse(chunk, False)
                self.parser.Parse(b"", True)
        except _Refusal as refusal:
            self._refuse(
                f"line {self.parser.CurrentLineNumber}, column {self.parser.CurrentColumnNumber + 1}: {refusal}"
            )
        except expat.ExpatError as exc:
            self._refuse(
                f"line {exc.lineno}, column {exc.offset + 1}: {XML_PROBLEMS.get(exc.code, 'not well-formed XML')}"
            )
        except LookupError as exc:  # an encoding Python has no codec for
            self._refuse(
                f"the XML declaration names a character encoding specqc does not know "
                f"({exc.args[0].split(':')[-1].strip()})"
            )
        except OSError as exc:
            raise InputError(f"cannot read file ({exc.strerror or exc})", self.path) from exc
        self._compare_counts()
        return self.findings.warnings()

    def _refuse(self, problem: str):
        raise InputError(f"not a readable {self.kind} file: {problem}", self.path) from None

    def _doctype(self, *_args):
        raise _Refusal(
            "the file has a document type declaration (<!DOCTYPE>): mzML and mzXML need none, and "
            "specqc does not read XML that declares entities or an external DTD"
        )

    def _entity(self, *_args):
        raise _Refusal("the file declares an XML entity; specqc does not read XML that declares entities")

    def _external_entity(self, *_args):
        raise _Refusal("the file refers to an external entity; specqc opens nothing but the input itself")

    # -- elements -------------------------------------------------------------------------------------------
    def _start(self, qualified: str, attrs: dict) -> None:
        name = qualified.rpartition(":")[2]
        if not self.root_seen:
            self.root_seen = True
            if name not in ROOTS[self.kind]:
                raise _Refusal(f"the root element is <{name}>, not <{ROOTS[self.kind][0]}>: not an {self._format} file")
        self.stack.append(name)
        handler = getattr(self, f"_start_{self.kind}_{name}", None)
        if handler:
            handler(attrs)

    def _end(self, qualified: str) -> None:
        name = qualified.rpartition(":")[2]
        handler = getattr(self, f"_end_{self.kind}_{name}", None)
        if handler:
            handler()
        self.stack.pop()

    def _text(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    @property
    def _format(self) -> str:
        return "mzML" if self.kind == "mzml" else "mzXML"

    def _collected(self) -> str:
        text, self.text = "".join(self.text or ()), None
        return text

    # -- mzML -----------------------------------------------------------------------------------------------
    def _start_mzml_spectrumList(self, attrs):
        self._declare_count("spectrum", attrs.get("count"), "spectrumList count")

    def _start_mzml_chromatogramList(self, attrs):
        self._declare_count("chromatogram", attrs.get("count"), "chromatogramList count")

    def _start_mzml_spectrum(self, attrs):
        self._open_mzml_item("spectrum", attrs)

    def _start_mzml_chromatogram(self, attrs):
        self._open_mzml_item("chromatogram", attrs)

    def _open_mzml_item(self, element: str, attrs):
        self.counted[element] += 1
        label = f"{element} {attrs.get('id') or attrs.get('index') or self.counted[element]}"
        self.items.append(_Item(label, _whole_number(attrs.get("defaultArrayLength"), f"{label}: defaultArrayLength")))

    def _start_mzml_binaryDataArray(self, attrs):
        if self.items:
            self.array = _Array(attrs.get("arrayLength"), attrs.get("encodedLength"))

    def _start_mzml_referenceableParamGroup(self, attrs):
        self.group = self.param_groups.setdefault(attrs.get("id", ""), [])

    def _end_mzml_referenceableParamGroup(self):
        self.group = None

    def _start_mzml_referenceableParamGroupRef(self, attrs):
        if self.array is not None and "binaryDataArray" in self.stack[-2:]:
            for accession in self.param_groups.get(attrs.get("ref", ""), ()):
                self._array_param(self.array, accession)

    def _array_param(self, array: _Array, accession: str) -> None:
        if accession in PRECISION_TYPES:
            array.dtype = np.dtype(PRECISION_TYPES[accession])
        elif accession in (NO_COMPRESSION, ZLIB):
            array.compression = accession
        elif accession in NUMPRESS:
            array.numpress = True
        elif accession in ARRAY_NAMES:
            array.kind = accession

    def _start_mzml_cvParam(self, attrs):
        accession = attrs.get("accession", "")
        if self.group is not None:
            self.group.append(accession)
            return
        if self.array is not None and "binaryDataArray" in self.stack[-2:]:
            self._array_param(self.array, accession)
            return
        where = f"{self.items[-1].label}: " if self.items else ""
        if accession == MS_LEVEL:
            level = _whole_number(attrs.get("value"), f"{where}ms level")
            if level is None or level < 1:
                raise _Refusal(f"{where}ms level {attrs.get('value')!r} is not an MS level (1, 2, ...)")
        elif accession in NUMERIC_PARAMS and attrs.get("value", "") != "":
            _number(attrs["value"], f"{where}{NUMERIC_PARAMS[accession]}")

    def _start_mzml_binary(self, _attrs):
        if self.array is not None:
            self.text = []

    def _end_mzml_binary(self):
        if self.array is None or self.text is None:
            return
        array, item = self.array, self.items[-1]
        name = f"{item.label}: {ARRAY_NAMES.get(array.kind, 'binary data array')}"
        text = self._collected()
        raw = _base64(text, name)
        array.base64_chars = len(text) - sum(text.count(c) for c in " \t\r\n")
        if array.numpress:
            return
        if array.dtype is None:
            raise _Refusal(f"{name}: no precision cvParam (32-bit or 64-bit float or integer)")
        if array.compression == ZLIB:
            raw = _inflate(raw, name)
        elif raw[:1] == b"\x78" and _inflates(raw):
            raise _Refusal(f"{name}: the data is zlib-compressed although its cvParam says 'no compression'")
        if len(raw) % array.dtype.itemsize:
            raise _Refusal(
                f"{name}: {len(raw)} bytes are not a whole number of {8 * array.dtype.itemsize}-bit "
                "values (wrong precision or compression cvParam?)"
            )
        array.values = len(raw) // array.dtype.itemsize
        if array.kind == MZ_ARRAY:
            self._check_order(np.frombuffer(raw, dtype=array.dtype), item.label)

    def _end_mzml_binaryDataArray(self):
        if self.array is not None and self.items:
            array, item = self.array, self.items[-1]
            if array.encoded_length not in (None, "") and array.encoded_length.strip() != str(array.base64_chars):
                self.findings.add(
                    "encodedLength differs from the base64 text",
                    f"{item.label}: encodedLength says {array.encoded_length}, the base64 text has "
                    f"{array.base64_chars} characters",
                )
            item.arrays.append(array)
        self.array = None

    def _end_mzml_spectrum(self):
        self._close_mzml_item()

    def _end_mzml_chromatogram(self):
        self._close_mzml_item()

    def _close_mzml_item(self):
        item = self.items.pop()
        counted = [a for a in item.arrays if a.values is not None]
        first_kind, second_kind = (
            (MZ_ARRAY, INTENSITY_ARRAY) if item.label.startswith("spectrum") else (TIME_ARRAY, INTENSITY_ARRAY)
        )
        first = next((a for a in counted if a.kind == first_kind), None)
        second = next((a for a in counted if a.kind == second_kind), None)
        if first is not None and second is not None and first.values != second.values:
            hint = " (wrong compression or precision cvParam?)"
            raise _Refusal(
                f"{item.label}: the {ARRAY_NAMES[first_kind]} holds {first.values} values but the "
                f"intensity array {second.values}{hint}"
            )
        for array in counted:
            declared = (
                _whole_number(array.length_attr, f"{item.label}: arrayLength") if array.length_attr else (item.declared)
            )
            if declared is not None and array.values != declared:
                self.findings.add(
                    "a declared array length differs from the data",
                    f"{item.label}: defaultArrayLength says {declared} points, its "
                    f"{ARRAY_NAMES.get(array.kind, 'array')} holds {array.values}; read as it is",
                )
                break

    def _start_mzml_offset(self, _attrs):
        self.text = []

    def _end_mzml_offset(self):
        self._index_offset(self._collected(), "index offset")

    def _start_mzml_indexListOffset(self, _attrs):
        self.text = []

    def _end_mzml_indexListOffset(self):
        self._index_offset(self._collected(), "indexListOffset")

    # -- mzXML ----------------------------------------------------------------------------------------------
    def _start_mzxml_msRun(self, attrs):
        self._declare_count("scan", attrs.get("scanCount"), "msRun scanCount")

    def _start_mzxml_scan(self, attrs):
        self.counted["scan"] += 1
        label = f"scan {attrs.get('num') or self.counted['scan']}"
        peaks = _whole_number(attrs.get("peaksCount"), f"{label}: peaksCount")
        if peaks is None:
            raise _Refusal(f"{label}: no peaksCount")
        level = _whole_number(attrs.get("msLevel"), f"{label}: msLevel")
        if level is not None and level < 1:
            raise _Refusal(f"{label}: msLevel {level} is not an MS level (1, 2, ...)")
        polarity = attrs.get("polarity")
        if polarity not in (None, "") and polarity not in MZXML_POLARITIES:
            raise _Refusal(f"{label}: polarity {polarity!r} is not '+', '-' or 'any'")
        if attrs.get("retentionTime") not in (None, ""):
            _duration(attrs["retentionTime"], f"{label}: retentionTime")
        for attribute in ("lowMz", "highMz", "basePeakMz", "basePeakIntensity", "totIonCurrent"):
            if attrs.get(attribute) not in (None, ""):
                _number(attrs[attribute], f"{label}: {attribute}")
        self.items.append(_Item(label, peaks))

    def _start_mzxml_peaks(self, attrs):
        if not self.items:
            return
        label = self.items[-1].label
        precision = attrs.get("precision", "32")
        if precision not in MZXML_PRECISIONS:
            raise _Refusal(f"{label}: peaks precision {precision!r} is not 32 or 64")
        byte_order = attrs.get("byteOrder", "network")
        if byte_order != "network":
            raise _Refusal(f"{label}: peaks byteOrder {byte_order!r} is not 'network' (the only byte order of mzXML)")
        order = attrs.get("pairOrder") or attrs.get("contentType") or "m/z-int"
        if order not in MZXML_PAIR_ORDERS:
            raise _Refusal(f"{label}: peaks pairOrder {order!r} is not 'm/z-int' (the only order specqc reads)")
        compression = attrs.get("compressionType", "none")
        if compression not in MZXML_COMPRESSIONS:
            raise _Refusal(f"{label}: peaks compressionType {compression!r} is not 'none' or 'zlib'")
        self.peaks_attrs = {"dtype": np.dtype(f">f{MZXML_PRECISIONS[precision]}"), "zlib": compression == "zlib"}
        self.text = []

    def _end_mzxml_peaks(self):
        if self.text is None or not self.items:
            return
        item = self.items[-1]
        raw = _base64(self._collected(), f"{item.label}: peaks")
        if self.peaks_attrs["zlib"]:
            raw = _inflate(raw, f"{item.label}: peaks", "its compressionType")
        dtype = self.peaks_attrs["dtype"]
        if len(raw) % (2 * dtype.itemsize):
            raise _Refusal(
                f"{item.label}: peaks hold {len(raw)} bytes, not a whole number of "
                f"{8 * dtype.itemsize}-bit m/z-intensity pairs"
            )
        pairs = len(raw) // (2 * dtype.itemsize)
        self._check_order(np.frombuffer(raw, dtype=dtype)[0::2], item.label)
        if pairs != item.declared:
            raise _Refusal(f"{item.label}: peaksCount says {item.declared} peaks but the data holds {pairs}")

    def _end_mzxml_scan(self):
        self.items.pop()

    def _start_mzxml_offset(self, _attrs):
        self.text = []

    def _end_mzxml_offset(self):
        self._index_offset(self._collected(), "index offset")

    def _start_mzxml_indexOffset(self, _attrs):
        self.text = []

    def _end_mzxml_indexOffset(self):
        self._index_offset(self._collected(), "indexOffset")

    # -- shared ---------------------------------------------------------------------------------------------
    def _check_order(self, mz: np.ndarray, label: str) -> None:
        # OpenMS sorts the peaks as it loads them, so only here can the reader still tell they were not
        with np.errstate(invalid="ignore"):
            if mz.size > 1 and bool((mz[1:] < mz[:-1]).any()):
                self.findings.add(
                    "m/z values are out of order", f"{label}: its m/z values are out of order; they were sorted"
                )

    def _declare_count(self, element: str, value: str | None, field_name: str) -> None:
        count = _whole_number(value, field_name) if value not in (None, "") else None
        if count is not None:
            self.declared_counts[element] = (count, field_name)

    def _compare_counts(self) -> None:
        for element, (declared, field_name) in self.declared_counts.items():
            found = self.counted[element]
            if found != declared:
                self.findings.add(
                    f"{field_name} differs",
                    f"{field_name} says {declared} {PLURALS[element]}, the file holds {found}; read as it is",
                )

    def _index_offset(self, text: str, field_name: str) -> None:
        offset = _whole_number(text.strip() or None, field_name)
        if offset is not None and offset >= self.size:
            self.findings.add(
                f"{field_name} points past the end of the file",
                f"{field_name} {offset} points past the end of the file ({self.size} bytes); the index is not used",
            )


def _whole_number(text: str | None, field_name: str) -> int | None:
    if text is None:
        return None
    value = text.strip()
    if not value.isdigit():
        raise _Refusal(f"{field_name}: {text!r} is not a whole number")
    return int(value)


def _number(text: str, field_name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _Refusal(f"{field_name}: {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise _Refusal(f"{field_name}: {text!r} is not a finite number")
    return value


def _duration(text: str, field_name: str) -> None:
    """xs:duration as mzXML writes it ("PT348.146S"); plain seconds are read too."""
    value = text.strip()
    match = DURATION.fullmatch(value)
    if match and any(match.groups()):
        return
    try:
        if float(value) == float(value):
            return
    except ValueError:
        pass
    raise _Refusal(f"{field_name}: {text!r} is not a duration (such as PT12.5S)")


def _base64(text: str, name: str) -> bytes:
    try:
        data = text.encode("ascii").translate(None, b" \t\r\n")
        return binascii.a2b_base64(data, strict_mode=True)
    except (UnicodeEncodeError, binascii.Error):
        raise _Refusal(f"{name}: the base64 text is damaged") from None


def _inflate(raw: bytes, name: str, declared_by: str = "its cvParam") -> bytes:
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(raw, MAX_ARRAY_BYTES)
    except zlib.error:
        raise _Refusal(
            f"{name}: the zlib data is damaged (or the data is not zlib-compressed, as {declared_by} says it is)"
        ) from None
    if inflater.unconsumed_tail:
        raise _Refusal(f"{name}: the zlib data inflates to more than {MAX_ARRAY_BYTES >> 20} MiB")
    if not inflater.eof:
        raise _Refusal(f"{name}: the zlib data ends early (file damaged or cut short)")
    return data


def _inflates(raw: bytes) -> bool:
    inflater = zlib.decompressobj()
    try:
        inflater.decompress(raw)
    except zlib.error:
        return False
    return inflater.eof  # random bytes may start like a zlib stream, but do not end like one
