"""Volcengine's subject detection masks: PNGs served from signed, expiring URLs, like result files."""

import io
import secrets
import threading
from urllib.parse import urlsplit

from flask import Response, request
from PIL import Image, ImageDraw

from .files import refuse_unsigned, s3_error
from .state import SimulatorState

MASK_PATH = "/_simulator/volcengine/masks/<mask_id>.png"


class Masks:
    def __init__(self, state: SimulatorState) -> None:
        self._state = state
        self._pngs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def detect(self, size: tuple[int, int]) -> list[str]:
        """Store the masks of an image of ``size`` and return their URLs."""
        detection = secrets.token_hex(8)
        urls = []
        with self._lock:
            for index, png in enumerate(_mask_pngs(size), start=1):
                mask_id = f"{detection}-{index}"
                self._pngs[mask_id] = png
                # Signed like result files: the signer's query, on the mask's own path.
                query = urlsplit(self._state.signer.url("", f"mask-{mask_id}")).query
                urls.append(f"{request.host_url.rstrip('/')}/_simulator/volcengine/masks/{mask_id}.png?{query}")
        return urls

    def serve(self, mask_id: str) -> Response:
        refused = refuse_unsigned(self._state, f"mask-{mask_id}")
        if refused is not None:
            return refused
        with self._lock:
            png = self._pngs.get(mask_id)
        if png is None:
            return s3_error(404, "The specified key does not exist.")
        return Response(png, mimetype="image/png")


def _mask_pngs(size: tuple[int, int]) -> list[bytes]:
    """Two subject masks (white on black), the larger first, as detection orders them."""
    scale = min(1.0, 512 / max(size))
    width, height = max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
    boxes = [
        (width * 0.2, height * 0.1, width * 0.8, height),
        (width * 0.02, height * 0.6, width * 0.22, height * 0.95),
    ]
    pngs = []
    for box in boxes:
        mask = Image.new("L", (width, height), 0)
        ImageDraw.Draw(mask).ellipse(box, fill=255)
        buffer = io.BytesIO()
        mask.save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    return pngs
