"""A seekable, read-only file over one S3 object that fetches only the byte ranges it is asked for.

Pillow and mutagen read headers through it, so probing a 300 s WAV transfers a few blocks, not the object.
Small reads go through cached 8 KiB blocks; a read larger than a block (a whole segment, or the 1 MiB pieces of
an image's decode pass) is one ranged GET of exactly that span, less any cached blocks at its ends. Every ranged
GET is bounded (``bytes=a-b``) and counted in ``bytes_fetched`` and ``requests``.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import TYPE_CHECKING

from .models import S3Location

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Small blocks keep sparse reads (segment headers spread over a file) cheap; a few are cached.
BLOCK_BYTES = 8 * 1024
CACHED_BLOCKS = 16
# A large read's response body is copied into the caller's buffer this much at a time.
BODY_PIECE_BYTES = 1024 * 1024


class RangedS3Reader(io.RawIOBase):
    def __init__(self, s3: S3Client, location: S3Location, size: int, *, block_bytes: int = BLOCK_BYTES) -> None:
        super().__init__()
        self._s3 = s3
        self._location = location
        self._size = size
        self._block = block_bytes
        self._position = 0
        self._cache: OrderedDict[int, bytes] = OrderedDict()
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
        wanted = min(len(view), max(0, self._size - self._position))
        if wanted > self._block:
            return self._read_span(view[:wanted])
        done = 0
        while done < wanted:
            index, offset = divmod(self._position, self._block)
            block = self._fetch(index)
            take = min(wanted - done, len(block) - offset)
            if take <= 0:
                break
            view[done : done + take] = block[offset : offset + take]
            done += take
            self._position += take
        return done

    def _read_span(self, view: memoryview) -> int:
        """Blocks cached at either end of the span are copied; the rest is one GET, not cached (large reads are
        sequential). A decode pass after the header checks so reads each byte of the object once."""
        start, end = self._position, self._position + len(view)
        low = self._copy_cached_head(view, start, end)
        high = self._copy_cached_tail(view, start, end, low)
        done = len(view)
        if low < high:
            got = self._get_into(view[low - start : high - start], low)
            if got < high - low:  # the object is shorter than its size said
                done = low - start + got
        self._position = start + done
        return done

    def _copy_cached_head(self, view: memoryview, start: int, end: int) -> int:
        """Copies the cached blocks that start the span into ``view``; returns where they stop."""
        position = start
        while position < end and (block := self._cache.get(position // self._block)) is not None:
            block_start = position // self._block * self._block
            stop = min(end, block_start + len(block))
            if stop <= position:
                break
            view[position - start : stop - start] = block[position - block_start : stop - block_start]
            position = stop
        return position

    def _copy_cached_tail(self, view: memoryview, start: int, end: int, low: int) -> int:
        """Copies the cached blocks that end the span (down to ``low``) into ``view``; returns where they begin."""
        position = end
        while position > low and (block := self._cache.get((position - 1) // self._block)) is not None:
            block_start = (position - 1) // self._block * self._block
            begin = max(low, block_start)
            if block_start + len(block) < position:
                break
            view[begin - start : position - start] = block[begin - block_start : position - block_start]
            position = begin
        return position

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

    def _fetch(self, index: int) -> bytes:
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        start = index * self._block
        end = min(self._size, start + self._block) - 1
        response = self._s3.get_object(
            Bucket=self._location.bucket, Key=self._location.key, Range=f"bytes={start}-{end}"
        )
        data = response["Body"].read()
        self.requests += 1
        self.bytes_fetched += len(data)
        self._cache[index] = data
        if len(self._cache) > CACHED_BLOCKS:
            self._cache.popitem(last=False)
        return data
