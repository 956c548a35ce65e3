"""No XML inside a dataset may declare entities or name an external DTD.

The vendor libraries parse the XML parts of a dataset (an Agilent .D keeps its
scan schema, time segments, calibration and sample information as XML) with
parsers that expand internal entities and may resolve external ones. Entities
can only be declared in a document type declaration, which must come before
the root element, so reading each XML file up to its root element tells
whether it is safe to hand on; nothing past the prolog is parsed here.
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.parsers import expat

from ..errors import InputError

PROLOG_CHUNK = 8192
MAX_PROLOG_BYTES = 1 << 20  # a prolog longer than this is not one a vendor wrote
MAX_FILES = 5000  # files looked at in one dataset folder
XML_STARTS = (b"<", b"\xef\xbb\xbf<", b"\xff\xfe<\x00", b"\xfe\xff\x00<")  # plain, UTF-8 and UTF-16 BOMs


class _Root(Exception):
    """The root element started: the prolog is over and held no DOCTYPE."""


class _Doctype(Exception):
    """A document type declaration."""


def declares_doctype(path: Path) -> bool:
    """Whether the XML file at ``path`` has a document type declaration before its root element."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def doctype(*_args):
        raise _Doctype()

    def root(*_args):
        raise _Root()

    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = root
    read = 0
    try:
        with path.open("rb") as handle:
            while read < MAX_PROLOG_BYTES and (chunk := handle.read(PROLOG_CHUNK)):
                read += len(chunk)
                parser.Parse(chunk, False)
    except _Doctype:
        return True
    except (_Root, expat.ExpatError, LookupError):
        return False  # not well-formed XML is the library's to refuse; it declares nothing we would follow
    return False


def _looks_like_xml(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(8).lstrip(b" \t\r\n")
    except OSError:
        return False
    return head.startswith(XML_STARTS)


def refuse_xml_declarations(folder: Path) -> None:
    """Raise InputError if any XML file in ``folder`` declares a DOCTYPE (a linked file is looked at as the
    library would read it; linked folders are not entered)."""
    seen = 0
    for parent, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = Path(parent, name)
            seen += 1
            if seen > MAX_FILES:
                return
            if not path.is_file() or not _looks_like_xml(path):
                continue
            if declares_doctype(path):
                raise InputError(
                    f"{path.relative_to(folder)}: the XML file has a document type declaration "
                    "(<!DOCTYPE>); specqc does not read XML that declares entities or an external DTD"
                )
