"""A tripwire for PDF attachments: it refuses a PDF that asks a reader to run something. It is
not a sanitiser and proves nothing about a PDF it lets through.

It reads the names of the file (``/JavaScript``, ``/Launch``, ...), with ``#xx`` escapes decoded
(``/J#61vaScript`` is ``/JavaScript`` to a reader), in the file itself and in its compressed
object streams (PDF 1.5+ keeps most dictionaries there, Flate-compressed). It does not parse
the document, decrypt it, follow other filters or look inside fonts and images; a reader's
parser bug needs none of the names it looks for. What keeps a PDF that passes harmless to
staff is how it is served (``apps.core.private_files.private_file_response``: a download,
never rendered inline by the site, sandboxed by CSP) and the reader that opens it.

Refused:
- active content: JavaScript (``/JavaScript``, ``/JS``, whatever triggers it: ``/OpenAction``,
  ``/AA``, a link), launch actions (``/Launch``), embedded files (``/EmbeddedFile(s)``,
  ``/GoToE``), Flash and 3D media (``/RichMedia``) and XFA forms (``/XFA``, whose XML can carry
  script). ``/OpenAction`` alone is not refused: most PDFs use it to open at page 1, and the
  JavaScript or launch it could trigger is refused by name.
- encrypted files (``/Encrypt``): their object streams cannot be read, so they cannot be
  checked (and staff could not open a password-protected one anyway).
- object streams with a filter other than Flate, or that unpack to more than
  ``OBJECT_STREAM_BUDGET`` bytes (a decompression bomb): they cannot be checked.
"""

import re
import zlib
from collections.abc import Iterator

ACTIVE_NAMES = frozenset(
    {
        b"JavaScript",
        b"JS",
        b"Launch",
        b"EmbeddedFile",
        b"EmbeddedFiles",
        b"GoToE",
        b"RichMedia",
        b"XFA",
    }
)
# Stream filters (full and abbreviated) other than FlateDecode, and Flate's predictor parameters.
_UNREADABLE_FILTERS = frozenset(
    {
        b"ASCIIHexDecode",
        b"ASCII85Decode",
        b"LZWDecode",
        b"RunLengthDecode",
        b"CCITTFaxDecode",
        b"JBIG2Decode",
        b"DCTDecode",
        b"JPXDecode",
        b"Crypt",
        b"AHx",
        b"A85",
        b"LZW",
        b"RL",
        b"DecodeParms",
    }
)
# All object streams of one file together may unpack to this many bytes.
OBJECT_STREAM_BUDGET = 64 * 1024 * 1024
# A stream's dictionary is looked for this far before its ``stream`` keyword.
_DICT_WINDOW = 8192

# A name: a slash and the regular characters after it (PDF 32000-1, 7.2.2 and 7.3.5).
_NAME = re.compile(rb"/([^\x00\t\n\x0c\r ()<>\[\]{}/%]*)")
_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"(?<!end)stream(?:\r\n|\n|\r)")
_OBJECT = re.compile(rb"\d+\s+\d+\s+obj\b")

ACTIVE_CONTENT = "active_content"
ENCRYPTED = "encrypted"
DAMAGED = "damaged"


def pdf_names(data: bytes) -> set[bytes]:
    """Every name written in ``data``, ``#xx`` escapes decoded, without the slash."""
    return {
        _NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), m.group(1))
        for m in _NAME.finditer(data)
    }


def pdf_problem(data: bytes) -> str | None:
    """Why ``data`` is refused as a PDF attachment (``ACTIVE_CONTENT``, ``ENCRYPTED`` or
    ``DAMAGED``), or None when the tripwire finds nothing."""
    if not data.startswith(b"%PDF-") or b"%%EOF" not in data:
        return DAMAGED
    names = pdf_names(data)
    if b"Encrypt" in names:
        return ENCRYPTED
    if names & ACTIVE_NAMES:
        return ACTIVE_CONTENT
    budget = OBJECT_STREAM_BUDGET
    for stream_names, raw in _object_streams(data):
        if raw is None or stream_names & _UNREADABLE_FILTERS:
            return DAMAGED
        if b"FlateDecode" not in stream_names:
            continue  # not compressed: its names were read with the file's
        inflater = zlib.decompressobj()
        try:
            unpacked = inflater.decompress(raw, budget + 1)
        except zlib.error:
            return DAMAGED
        if len(unpacked) > budget or inflater.unconsumed_tail:
            return DAMAGED
        budget -= len(unpacked)
        if pdf_names(unpacked) & ACTIVE_NAMES:
            return ACTIVE_CONTENT
    return None


def _object_streams(data: bytes) -> Iterator[tuple[set[bytes], bytes | None]]:
    """``(names of its dictionary, raw bytes)`` of each object stream (``/Type /ObjStm``);
    the bytes are None when the stream has no end."""
    for match in _STREAM.finditer(data):
        head = data[max(0, match.start() - _DICT_WINDOW) : match.start()]
        objects = list(_OBJECT.finditer(head))
        if not objects:
            continue
        names = pdf_names(head[objects[-1].end() :])
        if b"ObjStm" not in names:
            continue
        end = data.find(b"endstream", match.end())
        yield names, (data[match.end() : end] if end >= 0 else None)
