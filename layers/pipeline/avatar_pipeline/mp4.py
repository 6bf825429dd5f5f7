"""Just enough ISO-BMFF reading to verify a streamed MP4 and learn its duration, in bounded memory."""

from __future__ import annotations

MAX_MOOV_BYTES = 32 * 1024 * 1024


class Mp4Scanner:
    """Fed the body chunk by chunk; walks the top-level boxes and keeps only the ``moov`` box."""

    def __init__(self) -> None:
        self._offset = 0
        self._header = bytearray()
        self._box_end = 0
        self._moov: bytearray | None = None
        self._moov_size = 0
        self.first_box: str | None = None
        self.duration_seconds: float | None = None
        self.malformed: str | None = None

    def feed(self, chunk: bytes | memoryview) -> None:
        view = memoryview(chunk)
        while view and self.malformed is None:
            if self._offset < self._box_end:
                take = min(len(view), self._box_end - self._offset)
                if self._moov is not None:
                    self._moov += view[:take]
                    if len(self._moov) == self._moov_size:
                        self.duration_seconds = _mvhd_duration(bytes(self._moov))
                        self._moov = None
                self._offset += take
                view = view[take:]
                continue
            need = 8 - len(self._header)
            self._header += view[:need]
            consumed = min(need, len(view))
            self._offset += consumed
            view = view[consumed:]
            if len(self._header) == 8:
                self._start_box(bytes(self._header))
                self._header.clear()

    def _start_box(self, header: bytes) -> None:
        size = int.from_bytes(header[:4], "big")
        box_type = header[4:8].decode("latin-1")
        if self.first_box is None:
            self.first_box = box_type
        if size == 1:
            self.malformed = "64-bit box sizes at top level are not supported"
            return
        if size == 0:
            self._box_end = 1 << 62  # the box runs to the end of the file
            return
        if size < 8:
            self.malformed = f"box {box_type!r} declares an impossible size {size}"
            return
        self._box_end = self._offset + size - 8
        if box_type == "moov" and size <= MAX_MOOV_BYTES:
            self._moov = bytearray()
            self._moov_size = size - 8

    @property
    def complete(self) -> bool:
        """True when the body ended exactly on a box boundary."""
        return self.malformed is None and not self._header and self._offset >= self._box_end


def _mvhd_duration(moov: bytes) -> float | None:
    offset = 0
    while offset + 8 <= len(moov):
        size = int.from_bytes(moov[offset : offset + 4], "big")
        if moov[offset + 4 : offset + 8] == b"mvhd":
            body = moov[offset + 8 : offset + size]
            if not body:
                return None
            if body[0] == 1:
                timescale = int.from_bytes(body[20:24], "big")
                duration = int.from_bytes(body[24:32], "big")
            else:
                timescale = int.from_bytes(body[12:16], "big")
                duration = int.from_bytes(body[16:20], "big")
            return round(duration / timescale, 3) if timescale else None
        if size < 8:
            return None
        offset += size
    return None
