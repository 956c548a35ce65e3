"""The netCDF-3 header of an ANDI file, read only to check it against the file.

scipy trusts the header: a file cut short ends in a numpy error about buffer
sizes, and a lying dimension makes it allocate what the header says. Here the
header is walked with every count checked against the bytes left, and each
variable's extent (begin + size, and for record variables numrecs records)
against the file's real size, so the message can name the variable and both
numbers. Layout: the netCDF classic format specification (CDF-1 and CDF-2).
"""

from __future__ import annotations

import struct
from pathlib import Path

from ...errors import InputError

ABSENT, DIMENSION, VARIABLE, ATTRIBUTE = 0, 10, 11, 12
TYPE_BYTES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8}  # byte, char, short, int, float, double
STREAMING = 0xFFFFFFFF
MAX_HEADER_BYTES = 64 << 20


class _Header:
    def __init__(self, data: bytes):
        self.data = data
        self.position = 0

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.position + size > len(self.data):
            raise InputError(f"the netCDF header ends inside {what} (file cut short or damaged?)")
        chunk = self.data[self.position : self.position + size]
        self.position += size
        return chunk

    def integer(self, what: str) -> int:
        return struct.unpack(">I", self.take(4, what))[0]

    def name(self, what: str) -> str:
        size = self.integer(what)
        text = self.take(size, what)
        self.take(-size % 4, what)
        return text.decode("utf-8", "replace")

    def values(self, what: str) -> None:
        kind, count = self.integer(what), self.integer(what)
        if kind not in TYPE_BYTES:
            raise InputError(f"the netCDF header gives {what} an unknown type code {kind}")
        size = count * TYPE_BYTES[kind]
        self.take(size + (-size % 4), what)

    def attributes(self, what: str) -> None:
        tag, count = self.integer(what), self.integer(what)
        if tag not in (ABSENT, ATTRIBUTE) or (tag == ABSENT and count):
            raise InputError(f"the netCDF header is damaged at the attributes of {what}")
        for _ in range(count):
            name = self.name(f"an attribute of {what}")
            self.values(f"attribute {name} of {what}")


def check(path: Path) -> None:
    """Raise InputError when the header is damaged or a variable reaches past the end of the file."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        header = _Header(handle.read(min(size, MAX_HEADER_BYTES)))
    magic = header.take(4, "the signature")
    if magic[:3] != b"CDF" or magic[3] not in (1, 2):
        raise InputError("not a netCDF-3 file (ANDI/AIA exports are netCDF classic)")
    offset_bytes = 4 if magic[3] == 1 else 8
    records = header.integer("the record count")
    tag, count = header.integer("the dimensions"), header.integer("the dimensions")
    if tag not in (ABSENT, DIMENSION):
        raise InputError("the netCDF header is damaged at its dimensions")
    dimensions = []
    for _ in range(count):
        name = header.name("a dimension name")
        dimensions.append((name, header.integer(f"dimension {name}")))
    header.attributes("the file")
    tag, count = header.integer("the variables"), header.integer("the variables")
    if tag not in (ABSENT, VARIABLE):
        raise InputError("the netCDF header is damaged at its variables")
    variables = []
    for _ in range(count):
        name = header.name("a variable name")
        rank = header.integer(f"variable {name}")
        ids = [header.integer(f"variable {name}") for _ in range(rank)]
        if any(i >= len(dimensions) for i in ids):
            raise InputError(f"the netCDF header gives variable {name} a dimension that does not exist")
        header.attributes(f"variable {name}")
        kind = header.integer(f"variable {name}")
        header.integer(f"variable {name}")  # vsize: padded, and wrong in some writers for big variables
        begin = int.from_bytes(header.take(offset_bytes, f"variable {name}"), "big")
        if kind not in TYPE_BYTES:
            raise InputError(f"the netCDF header gives variable {name} an unknown type code {kind}")
        shape = [dimensions[i][1] for i in ids]
        is_record = bool(shape) and shape[0] == 0
        one = TYPE_BYTES[kind]
        for length in shape[1:] if is_record else shape:
            one *= length
        variables.append((name, begin, one, is_record))
    if records == STREAMING:
        return  # still being written: the record count is not known, so record variables cannot be checked
    record_bytes = sum(one + (-one % 4) for _n, _b, one, is_record in variables if is_record)
    if sum(1 for v in variables if v[3]) == 1:
        record_bytes = next(one for _n, _b, one, is_record in variables if is_record)  # no padding for one
    for name, begin, one, is_record in variables:
        end = begin + ((records - 1) * record_bytes + one if is_record and records else (0 if is_record else one))
        if end > size:
            raise InputError(
                f"variable {name} needs the file's bytes up to {end} but the file is {size} bytes (file cut short?)"
            )
