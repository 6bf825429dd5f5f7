"""A seekable, read-only file over one S3 object that fetches only the byte ranges it is asked for.

Pillow and mutagen read headers through it, so probing a 50 MB image or a 300 s WAV transfers a few blocks,
not the object. Every ranged GET is bounded (``bytes=a-b``) and counted in ``bytes_fetched``.
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
