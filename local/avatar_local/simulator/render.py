"""Renders a stand-in for a generated avatar video: the portrait with a mouth that opens with the voice."""

import io
import tempfile
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageOps

FPS = 15
MAX_SIDE = 360
SAMPLE_RATE = 44100
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS
# Where a centred, front-facing portrait has its mouth, as fractions of the width and height.
MOUTH_CENTER = (0.5, 0.68)
MOUTH_WIDTH = 0.11
MOUTH_MAX_HEIGHT = 0.07

Samples = npt.NDArray[np.float32]


class MediaDecodeError(ValueError):
    pass


def render_talking_video(image_bytes: bytes, audio_bytes: bytes) -> bytes:
    """An H.264 + AAC MP4 (faststart) as long as the audio, the portrait's mouth following its loudness."""
    portrait = _fit(decode_image(image_bytes))
    samples = decode_audio(audio_bytes)
    openness = _mouth_openness(samples)
    with tempfile.TemporaryDirectory(prefix="simulator-render-") as workdir:
        # faststart rewrites the finished file, which needs a real path rather than an in-memory buffer.
        path = Path(workdir) / "video.mp4"
        with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as container:
            video = container.add_stream("libx264", rate=FPS, options={"preset": "veryfast", "crf": "28"})
            video.width, video.height = portrait.size
            video.pix_fmt = "yuv420p"
            audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
            last = len(openness) - 1
            for index, amount in enumerate(openness):
                container.mux(video.encode(_picture(portrait, float(amount), pts=index)))
                # Each picture's audio goes in right after it so the file stays interleaved.
                start = index * SAMPLES_PER_FRAME
                chunk = samples[start : None if index == last else start + SAMPLES_PER_FRAME]
                if chunk.size:
                    sound = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="fltp", layout="mono")
                    sound.sample_rate = SAMPLE_RATE
                    sound.pts = start
                    container.mux(audio.encode(sound))
            container.mux(video.encode(None))
            container.mux(audio.encode(None))
        return path.read_bytes()


def decode_image(data: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaDecodeError(f"image could not be decoded: {exc}") from exc


def decode_audio(data: bytes) -> Samples:
    """Mono float samples at ``SAMPLE_RATE``."""
    try:
        with av.open(io.BytesIO(data), "r") as container:
            if not container.streams.audio:
                raise MediaDecodeError("audio could not be decoded: no audio stream")
            resampler = av.AudioResampler(format="fltp", layout="mono", rate=SAMPLE_RATE)
            frames = [*container.decode(audio=0), None]
            chunks = [out.to_ndarray()[0] for frame in frames for out in resampler.resample(frame)]
    except av.FFmpegError as exc:
        raise MediaDecodeError(f"audio could not be decoded: {exc}") from exc
    if not chunks:
        raise MediaDecodeError("audio could not be decoded: no samples")
    return np.concatenate(chunks).astype(np.float32)


def _fit(image: Image.Image) -> Image.Image:
    """Scale down to the longest side limit, with the even dimensions yuv420p needs."""
    scale = min(1.0, MAX_SIDE / max(image.size))
    size = (max(2, int(image.width * scale) // 2 * 2), max(2, int(image.height * scale) // 2 * 2))
    return image if size == image.size else image.resize(size, Image.Resampling.BILINEAR)


def _mouth_openness(samples: Samples) -> npt.NDArray[np.float64]:
    """Per video frame, 0 (closed) to 1 (wide open): RMS loudness relative to the clip's loud parts."""
    frames = max(1, round(samples.size / SAMPLES_PER_FRAME))
    windows = np.zeros(frames * SAMPLES_PER_FRAME, dtype=np.float64)
    usable = min(samples.size, windows.size)
    windows[:usable] = samples[:usable]
    rms = np.sqrt(np.mean(windows.reshape(frames, SAMPLES_PER_FRAME) ** 2, axis=1))
    reference = max(float(np.percentile(rms, 95)), 1e-3)
    openness: npt.NDArray[np.float64] = np.clip(rms / reference, 0.0, 1.0)
    return openness


def _picture(portrait: Image.Image, openness: float, *, pts: int) -> av.VideoFrame:
    frame = portrait if openness < 0.05 else _open_mouth(portrait, openness)
    picture = av.VideoFrame.from_ndarray(np.asarray(frame), format="rgb24")
    picture.pts = pts
    return picture


def _open_mouth(portrait: Image.Image, openness: float) -> Image.Image:
    frame = portrait.copy()
    width, height = frame.size
    center_x, center_y = MOUTH_CENTER[0] * width, MOUTH_CENTER[1] * height
    half_width = MOUTH_WIDTH * width / 2 * (0.8 + 0.2 * openness)
    half_height = max(1.0, MOUTH_MAX_HEIGHT * height / 2 * openness)
    box = (center_x - half_width, center_y - half_height, center_x + half_width, center_y + half_height)
    ImageDraw.Draw(frame).ellipse(box, fill=(90, 20, 30), outline=(150, 60, 60))
    return frame
