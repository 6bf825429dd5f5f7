"""A seekable, read-only file over one S3 object that fetches only the byte ranges it is asked for.

Pillow and mutagen read headers through it, so probing a 300 s WAV transfers a few blocks, not the object.
A small read that misses the cache fetches an 8 KiB block at a new place; when it follows the last one closely
(a walk from segment to segment, or plain sequential reading) the reader reads ahead instead, ever further (see
``read_ahead``), so megabytes of JPEG metadata before the frame header cost three GETs, not one per segment.
A read larger than a block (a whole segment, or the 1 MiB pieces of an image's decode pass) fetches exactly the
parts of its span the cache does not hold, and keeps nothing. Every ranged GET is bounded (``bytes=a-b``) and
counted in ``bytes_fetched`` and ``requests``.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import TYPE_CHECKING

from .models import S3Location

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Small blocks keep sparse reads (segment headers spread over a file) cheap.
BLOCK_BYTES = 8 * 1024
# A miss at most this far past the last range fetched continues a walk: 64 KiB is a JPEG segment's largest.
SEQUENTIAL_GAP_BYTES = 64 * 1024 + 4
# Reading ahead, a miss fetches this many times what the walk has covered so far, up to the cap.
READ_AHEAD_FACTOR = 8
READ_AHEAD_CAP_BYTES = 8 * 1024 * 1024
CACHED_RANGES = 16
CACHED_BYTES = 2 * READ_AHEAD_CAP_BYTES
# A large read's response body is copied into the caller's buffer this much at a time.
BODY_PIECE_BYTES = 1024 * 1024


def read_ahead(walked: int, block: int, cap: int) -> int:
    """How much a miss fetches once a walk has covered ``walked`` bytes: a block at first, then growing
    geometrically with the walk, in whole blocks."""
    return max(block, min(cap, -(-READ_AHEAD_FACTOR * walked // block) * block))


class RangedS3Reader(io.RawIOBase):
    def __init__(
        self,
        s3: S3Client,
        location: S3Location,
        size: int,
        *,
        block_bytes: int = BLOCK_BYTES,
        read_ahead_cap: int = READ_AHEAD_CAP_BYTES,
    ) -> None:
        """``read_ahead_cap=block_bytes`` gives a reader that never reads ahead."""
        super().__init__()
        self._s3 = s3
        self._location = location
        self._size = size
        self._block = block_bytes
        self._cap = read_ahead_cap
        self._position = 0
        self._cache: OrderedDict[int, bytes] = OrderedDict()  # start offset -> bytes, least recently used first
        # The walk of small reads the last miss belonged to: where it began, and the end of what it fetched.
        self._walk_start, self._walk_end = 0, -SEQUENTIAL_GAP_BYTES - 1
        self.bytes_fetched = 0
        self.requests = 0

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        target = base + offset
        if target < 0:
            raise ValueError("negative seek position")
        self._position = target
        return target

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        start = self._position
        end = start + min(len(view), max(0, self._size - start))
        large = end - start > self._block
        position = start
        while position < end:
            stop = self._read_at(view[position - start : end - start], position, large=large)
            if stop == position:  # the object is shorter than its size said
                break
            position = stop
        self._position = position
        return position - start

    def _read_at(self, view: memoryview, position: int, *, large: bool) -> int:
        """Fills the start of ``view`` with the bytes at ``position``, from the cache or one GET; where it stopped."""
        cached = self._cached_at(position)
        if cached is None and large:
            stop = min(position + len(view), self._next_cached_start(position))
            return position + self._get_into(view[: stop - position], position)
        range_start, data = cached if cached is not None else self._fetch_ahead(position, position + len(view))
        stop = max(position, min(position + len(view), range_start + len(data)))
        view[: stop - position] = data[position - range_start : stop - range_start]
        return stop

    def _cached_at(self, position: int) -> tuple[int, bytes] | None:
        for range_start, data in self._cache.items():
            if range_start <= position < range_start + len(data):
                self._cache.move_to_end(range_start)
                return range_start, data
        return None

    def _next_cached_start(self, position: int) -> int:
        return min((start for start in self._cache if start > position), default=self._size)

    def _fetch_ahead(self, position: int, end: int) -> tuple[int, bytes]:
        """Fetches and caches the block holding ``position`` (and what ``end`` needs), or more if the miss continues
        a walk; never a byte the cache already holds."""
        if not self._walk_end <= position <= self._walk_end + SEQUENTIAL_GAP_BYTES:
            self._walk_start = position
        cached_before = max((s + len(d) for s, d in self._cache.items() if s + len(d) <= position), default=0)
        first = max(position // self._block * self._block, cached_before)
        ahead = first + read_ahead(position - self._walk_start, self._block, self._cap)
        last = min(self._next_cached_start(position), max(end, -(-ahead // self._block) * self._block))
        response = self._s3.get_object(
            Bucket=self._location.bucket, Key=self._location.key, Range=f"bytes={first}-{last - 1}"
        )
        data = response["Body"].read()
        self.requests += 1
        self.bytes_fetched += len(data)
        self._walk_end = first + len(data)
        self._cache[first] = data
        while len(self._cache) > CACHED_RANGES or sum(map(len, self._cache.values())) > CACHED_BYTES:
            self._cache.popitem(last=False)
        return first, data

    def _get_into(self, view: memoryview, offset: int) -> int:
        response = self._s3.get_object(
            Bucket=self._location.bucket, Key=self._location.key, Range=f"bytes={offset}-{offset + len(view) - 1}"
        )
        self.requests += 1
        body = response["Body"]
        done = 0
        try:
            while done < len(view):
                piece = body.read(min(BODY_PIECE_BYTES, len(view) - done))
                if not piece:
                    break
                view[done : done + len(piece)] = piece
                done += len(piece)
        finally:
            body.close()
        self.bytes_fetched += done
        return done
