"""A downloaded body's content coding undone in bounded memory, whatever the compression ratio.

httpx inflates each received chunk in one go, so 64 KiB of a gzip bomb became 64 MiB at once. Downloads ask
for ``Accept-Encoding: identity``, read the raw bytes, and inflate gzip or deflate here, at most
``chunk_bytes`` of output at a time: the size cap downstream (a ``BodyCheck``) then stops a bomb before
memory grows. Any other coding is refused, as is a body that is not what its coding says.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

import httpx

from .transfer import BadBody

CHUNK_BYTES = 256 * 1024
GZIP_WBITS = 16 + zlib.MAX_WBITS
ZLIB_WBITS = zlib.MAX_WBITS
RAW_DEFLATE_WBITS = -zlib.MAX_WBITS


def response_body(response: httpx.Response, *, what: str) -> tuple[Iterator[bytes], int | None]:
    """The body's decoded chunks, and the length they must add up to when the response says (when it is not
    coded: a coded body's ``Content-Length`` counts coded bytes)."""
    coding = content_coding(response.headers.get("content-encoding"), what=what)
    if coding is None:
        # The same bytes as iter_raw() when nothing is coded; and a response built in memory (httpx.MockTransport)
        # can only be read this way.
        return response.iter_bytes(), declared_length(response)
    return decoded(response.iter_raw(), coding, what=what), None


def declared_length(response: httpx.Response) -> int | None:
    length = response.headers.get("content-length")
    return int(length) if length and length.isdigit() else None


def content_coding(header: str | None, *, what: str) -> str | None:
    """The one coding a ``Content-Encoding`` header names (``None`` for none or identity); ``BadBody`` naming
    ``what`` for codings not supported or stacked."""
    codings = [part.strip().lower() for part in (header or "").split(",")]
    codings = ["gzip" if coding == "x-gzip" else coding for coding in codings if coding not in ("", "identity")]
    if not codings:
        return None
    if len(codings) > 1 or codings[0] not in ("gzip", "deflate"):
        raise BadBody(f"{what} came with Content-Encoding {header!r}; only gzip or deflate is decoded")
    return codings[0]


def decoded(raw: Iterable[bytes], coding: str, *, what: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The body ``raw`` carries in ``coding`` (gzip or deflate), in pieces of at most ``chunk_bytes``."""
    inflater: zlib._Decompress | None = None
    for data in raw:
        if inflater is None and data:
            inflater = _inflater(coding, data)
        while data and inflater is not None:
            try:
                yield from _inflate(inflater, data, chunk_bytes)
            except zlib.error as error:
                raise BadBody(f"{what} is not valid {coding} data ({error})") from error
            data = inflater.unused_data
            if data and coding != "gzip":
                raise BadBody(f"{what} has data after the end of its {coding} stream")
            if data:
                inflater = zlib.decompressobj(GZIP_WBITS)  # the next member of a multi-member gzip body
    if inflater is not None and not inflater.eof:
        raise BadBody(f"{what} is cut off: its {coding} stream does not end")


def _inflater(coding: str, first: bytes) -> zlib._Decompress:
    if coding == "gzip":
        return zlib.decompressobj(GZIP_WBITS)
    # HTTP's deflate is zlib-wrapped (RFC 9110), but some servers send raw deflate, as httpx also accepts.
    wrapped = len(first) < 2 or (first[0] & 0x0F == 8 and int.from_bytes(first[:2], "big") % 31 == 0)
    return zlib.decompressobj(ZLIB_WBITS if wrapped else RAW_DEFLATE_WBITS)


def _inflate(inflater: zlib._Decompress, data: bytes, chunk_bytes: int) -> Iterator[bytes]:
    """Everything ``data`` inflates to; a full piece may leave output pending even with no input left."""
    while True:
        piece = inflater.decompress(data, chunk_bytes)
        data = inflater.unconsumed_tail
        if piece:
            yield piece
        if inflater.eof or (not data and len(piece) < chunk_bytes):
            return
