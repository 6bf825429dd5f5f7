import struct

import pytest
from avatar_local.mp4info import Mp4Info, inspect_mp4
from avatar_local.samples import portrait_png, speech_audio
from avatar_local.simulator.render import render_talking_video


def test_inspects_a_rendered_talking_video() -> None:
    video = render_talking_video(portrait_png(400), speech_audio(2.5))
    info = inspect_mp4(video)
    assert info == Mp4Info(
        major_brand="isom",
        duration_seconds=pytest.approx(2.5, abs=0.1),
        width=360,
        height=360,
        has_video=True,
        has_audio=True,
        size=len(video),
    )


def test_inspects_an_audio_only_m4a() -> None:
    info = inspect_mp4(speech_audio(1.0, fmt="m4a"))
    assert (info.major_brand, info.has_video, info.has_audio, info.width, info.height) == (
        "M4A ",
        False,
        True,
        0,
        0,
    )
    assert info.duration_seconds == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("data", [b"", b"\x89PNG\r\n\x1a\n", portrait_png(64), speech_audio(0.5, fmt="mp3")])
def test_rejects_data_not_starting_with_ftyp(data: bytes) -> None:
    with pytest.raises(ValueError, match="not an MP4"):
        inspect_mp4(data)


def test_rejects_an_ftyp_box_followed_by_garbage() -> None:
    data = struct.pack(">I", 16) + b"ftypisom" + b"\x00" * 4 + b"\xde\xad\xbe\xef" * 64
    with pytest.raises(ValueError, match="not an MP4"):
        inspect_mp4(data)
