import io
import wave

import av
import numpy as np
import pytest
from avatar_local.samples import portrait_jpeg, portrait_png, speech_audio
from PIL import Image


def _decode(data: bytes) -> tuple[np.ndarray, int]:
    with av.open(io.BytesIO(data), "r") as container:
        rate = container.streams.audio[0].sample_rate
        chunks = [frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)]
    return np.concatenate(chunks).astype(np.float64), rate


def test_portrait_png_is_a_deterministic_rgb_image() -> None:
    data = portrait_png(256, seed=3)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.mode, image.size) == ("PNG", "RGB", (256, 256))
        assert len(image.getcolors(256 * 256) or []) > 10
    assert portrait_png(256, seed=3) == data
    assert portrait_png(256, seed=4) != data


def test_portrait_jpeg_decodes_at_the_requested_size() -> None:
    data = portrait_jpeg(300, seed=1)
    assert data.startswith(b"\xff\xd8")
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.size) == ("JPEG", (300, 300))
    assert portrait_jpeg(300, seed=1) == data


@pytest.mark.parametrize("fmt", ["wav", "mp3", "m4a"])
@pytest.mark.parametrize("seconds", [1.5, 4.0])
def test_speech_audio_decodes_to_the_requested_duration(fmt: str, seconds: float) -> None:
    samples, rate = _decode(speech_audio(seconds, fmt=fmt))
    assert abs(samples.size / rate - seconds) <= 0.1


def test_speech_audio_is_deterministic_per_seed() -> None:
    assert speech_audio(2.0, seed=5) == speech_audio(2.0, seed=5)
    assert speech_audio(2.0, seed=5) != speech_audio(2.0, seed=6)
    assert speech_audio(2.0, fmt="mp3", seed=5) == speech_audio(2.0, fmt="mp3", seed=5)


def test_speech_audio_honours_the_sample_rate() -> None:
    with wave.open(io.BytesIO(speech_audio(1.0, sample_rate=16000))) as reader:
        assert (reader.getnchannels(), reader.getframerate(), reader.getnframes()) == (1, 16000, 16000)


def test_speech_audio_is_bursts_of_voiced_sound_between_pauses() -> None:
    samples, rate = _decode(speech_audio(6.0, seed=2))
    window = rate // 50
    rms = np.sqrt(np.mean(samples[: samples.size // window * window].reshape(-1, window) ** 2, axis=1))
    loud = rms > 0.1 * rms.max()
    assert 0.1 < 1 - loud.mean() < 0.6, "a share of 20 ms windows should be pauses"
    bursts = int(np.sum(loud[1:] & ~loud[:-1]))
    assert 12 <= bursts <= 36, "syllables of 150-300 ms with pauses give roughly 3-5 per second"
    spectrum = np.abs(np.fft.rfft(samples)) ** 2
    frequencies = np.fft.rfftfreq(samples.size, 1 / rate)
    assert spectrum[frequencies < 4000].sum() / spectrum.sum() > 0.95
    assert 100 < frequencies[np.argmax(spectrum)] < 2500


def test_speech_audio_rejects_unknown_formats() -> None:
    with pytest.raises(ValueError, match="unsupported audio format"):
        speech_audio(1.0, fmt="ogg")
