"""Generated demo and test media (nothing binary is committed): a drawn portrait and speech-like audio."""

import io
import random
import wave
from typing import Literal

import av
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

_SUPERSAMPLE = 2
_SKIN = [(241, 194, 167), (224, 172, 138), (198, 134, 97), (141, 85, 54), (255, 219, 190)]
_HAIR = [(40, 28, 20), (92, 58, 33), (170, 120, 60), (20, 20, 25), (150, 150, 155)]
_BACKGROUND = [(120, 160, 200), (170, 200, 160), (210, 190, 150), (180, 170, 210), (200, 200, 200)]
_SHIRT = [(60, 90, 140), (140, 50, 60), (70, 110, 80), (90, 90, 90), (200, 160, 60)]
_EYES = [(70, 110, 160), (90, 60, 30), (60, 120, 80), (50, 40, 35)]
# fmt -> (container format, encoder)
_AUDIO_FORMATS: dict[str, tuple[str, Literal["libmp3lame", "aac"]]] = {
    "mp3": ("mp3", "libmp3lame"),
    "m4a": ("ipod", "aac"),
}


def portrait_png(size: int = 512, *, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    _portrait(size, seed).save(buffer, format="PNG")
    return buffer.getvalue()


def portrait_jpeg(size: int = 512, *, seed: int = 0) -> bytes:
    buffer = io.BytesIO()
    _portrait(size, seed).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def speech_audio(seconds: float = 4.0, *, fmt: str = "wav", sample_rate: int = 24000, seed: int = 0) -> bytes:
    """Mono speech-like audio: voiced syllables separated by short pauses; ``fmt`` is wav, mp3 or m4a."""
    if fmt != "wav" and fmt not in _AUDIO_FORMATS:
        raise ValueError(f"unsupported audio format {fmt!r}; expected wav, mp3 or m4a")
    samples = _speech(round(seconds * sample_rate), sample_rate, np.random.default_rng(seed))
    if fmt == "wav":
        return _wav(samples, sample_rate)
    container_format, codec = _AUDIO_FORMATS[fmt]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=sample_rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def _portrait(size: int, seed: int) -> Image.Image:
    """A front-facing cartoon head and shoulders, drawn large and downscaled for smooth edges."""
    rng = random.Random(seed)
    skin, hair, shirt = rng.choice(_SKIN), rng.choice(_HAIR), rng.choice(_SHIRT)
    canvas = size * _SUPERSAMPLE
    image = Image.new("RGB", (canvas, canvas), rng.choice(_BACKGROUND))
    draw = ImageDraw.Draw(image)

    def box(left: float, top: float, right: float, bottom: float) -> tuple[float, float, float, float]:
        return left * canvas, top * canvas, right * canvas, bottom * canvas

    draw.ellipse(box(0.12, 0.86, 0.88, 1.3), fill=shirt)
    draw.rectangle(box(0.43, 0.74, 0.57, 0.9), fill=skin)
    draw.ellipse(box(0.27, 0.14, 0.73, 0.7), fill=hair)
    draw.ellipse(box(0.27, 0.44, 0.33, 0.56), fill=skin)
    draw.ellipse(box(0.67, 0.44, 0.73, 0.56), fill=skin)
    draw.ellipse(box(0.3, 0.24, 0.7, 0.8), fill=skin)
    draw.chord(box(0.29, 0.17, 0.71, 0.5), 180, 360, fill=hair)
    eye = rng.choice(_EYES)
    for center in (0.41, 0.59):
        draw.ellipse(box(center - 0.045, 0.455, center + 0.045, 0.505), fill=(250, 250, 250))
        draw.ellipse(box(center - 0.02, 0.46, center + 0.02, 0.5), fill=eye)
        draw.ellipse(box(center - 0.009, 0.471, center + 0.009, 0.489), fill=(15, 15, 15))
        draw.line(box(center - 0.05, 0.43, center + 0.05, 0.425), fill=hair, width=max(1, canvas // 90))
    nose = tuple(max(0, channel - 40) for channel in skin)
    draw.line(box(0.5, 0.51, 0.485, 0.6), fill=nose, width=max(1, canvas // 200))
    draw.line(box(0.485, 0.6, 0.51, 0.6), fill=nose, width=max(1, canvas // 200))
    # The closed mouth sits where the simulator's renderer opens one (centre at 68% of the height).
    draw.chord(box(0.445, 0.665, 0.555, 0.695), 0, 180, fill=(170, 70, 80))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def _speech(total: int, sample_rate: int, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """Syllables of 150-300 ms separated by 30-90 ms gaps, with a longer word break now and then."""
    signal = np.zeros(total, dtype=np.float64)
    position = int(rng.uniform(0.05, 0.15) * sample_rate)
    while position < total:
        length = min(int(rng.uniform(0.15, 0.3) * sample_rate), total - position)
        signal[position : position + length] = _syllable(length, sample_rate, rng)
        gap = rng.uniform(0.2, 0.35) if rng.random() < 0.2 else rng.uniform(0.03, 0.09)
        position += length + int(gap * sample_rate)
    peak = float(np.max(np.abs(signal))) or 1.0
    return (signal * (0.8 / peak)).astype(np.float32)


def _syllable(length: int, sample_rate: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """A voiced harmonic stack on a gliding 120-220 Hz pitch, shaped by two formant-like resonances."""
    pitch = np.linspace(rng.uniform(120, 220), rng.uniform(120, 220), length)
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    harmonics = np.arange(1, int(min(4000, sample_rate / 2) // pitch.max()) + 1)[:, None]
    frequencies = harmonics * pitch
    first, second = rng.uniform(300, 850), rng.uniform(900, 2400)
    gains = (
        np.exp(-(((frequencies - first) / 180) ** 2)) + 0.6 * np.exp(-(((frequencies - second) / 250) ** 2)) + 0.05
    ) / np.sqrt(harmonics)
    voiced: npt.NDArray[np.float64] = np.sum(gains * np.sin(harmonics * phase), axis=0)
    time = np.arange(length) / sample_rate
    envelope = np.sin(np.pi * np.arange(length) / length) ** 0.6
    tremolo = 1 + 0.25 * np.sin(2 * np.pi * rng.uniform(4, 7) * time)
    syllable = voiced * envelope * tremolo
    onset = min(length, int(rng.uniform(0.01, 0.03) * sample_rate))
    if rng.random() < 0.5:
        # A consonant-like noise burst at the start.
        syllable[:onset] += rng.normal(0, 0.3, onset) * np.linspace(1, 0, onset)
    return syllable


def _wav(samples: npt.NDArray[np.float32], sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes((samples * 32767).astype("<i2").tobytes())
    return buffer.getvalue()
