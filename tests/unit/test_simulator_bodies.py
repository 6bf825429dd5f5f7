"""The simulator's request bodies: the first problem, in the provider's words."""

import pytest
from avatar_local.simulator.bodies import BadRequest, RequestBody
from avatar_local.simulator.kling_bodies import AvatarBody
from avatar_local.simulator.volcengine_bodies import ReqJson, VideoBody
from avatar_local.simulator.wavespeed import HunyuanBody

URL = "https://media.test/a.png"


def _problem(model: type[RequestBody], body: object) -> str:
    with pytest.raises(BadRequest) as caught:
        model.parse(body)
    return str(caught.value)


def test_unknown_fields_come_first_and_sorted() -> None:
    assert _problem(HunyuanBody, {"zeta": 1, "alpha": 2, "seed": "x"}) == "unknown field: alpha, zeta"


def test_a_field_a_provider_names_beats_unknown_fields() -> None:
    body = {"image": URL, "audio_id": "a", "model_name": "kling-v2", "other": 1}
    assert _problem(AvatarBody, body) == "model_name is not supported by the avatar API"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"image_url": URL}, "audio_url is required"),
        ({"image_url": "", "audio_url": URL}, "image_url is required"),
        ({"image_url": URL, "audio_url": 5}, "audio_url must be a string"),
        ({"image_url": URL, "audio_url": "s3://b/k"}, "audio_url must be an http(s) URL"),
        ({"image_url": URL, "audio_url": URL, "mask_url": []}, "mask_url must be a list of 1 to 5 URLs"),
        ({"image_url": URL, "audio_url": URL, "mask_url": ["ftp://m"]}, "mask_url must be an http(s) URL"),
        ({"image_url": URL, "audio_url": URL, "seed": True}, "seed must be an integer from -1 to 2147483647"),
        ({"image_url": URL, "audio_url": URL, "pe_fast_mode": 1}, "pe_fast_mode must be a boolean"),
    ],
)
def test_volcengine_video_problems(body: dict[str, object], problem: str) -> None:
    assert _problem(VideoBody, {"req_key": "k", **body}) == problem


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("image", "data:image/png;base64,AAAA", "invalid image: do not add a data: prefix, send the raw base64 string"),
        ("image", "not base64!", "invalid image: must be a URL or base64-encoded data"),
        ("audio_id", 5, "invalid audio_id: 5 not found"),
        ("watermark_info", {"enabled": True, "x": 1}, 'watermark_info must be an object {"enabled": true|false}'),
    ],
)
def test_kling_words_its_problems(field: str, value: object, problem: str) -> None:
    assert _problem(AvatarBody, {"image": URL, "audio_id": "a", field: value}) == problem


def test_kling_wants_exactly_one_audio() -> None:
    assert _problem(AvatarBody, {"image": URL}) == "exactly one of audio_id or sound_file is required"
    assert AvatarBody.parse({"image": URL, "audio_id": "a", "sound_file": ""}).sound_file is None


def test_wavespeed_media_may_be_raw_base64() -> None:
    body = HunyuanBody.parse({"image": "aGk=", "audio": URL})
    assert (body.image, body.audio, body.seed) == (b"hi", URL, -1)
    assert _problem(HunyuanBody, {"image": "data:,x", "audio": URL}) == (
        "image must be raw base64, without a data: URI prefix"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "req_json is not valid JSON: "),
        ("[1]", "req_json must encode a JSON object"),
        ('{"aigc_meta": 1}', "req_json.aigc_meta must be an object"),
        ('{"aigc_meta": {"producer_id": 5}}', "req_json.aigc_meta.producer_id must be a string of at most 256"),
        ('{"aigc_meta": {"producer": "p"}}', "unknown field: producer"),
    ],
)
def test_req_json_problems(text: str, problem: str) -> None:
    with pytest.raises(BadRequest) as caught:
        ReqJson.parse_json(text)
    assert str(caught.value).startswith(problem)


def test_req_json_tags_with_producer_and_propagator() -> None:
    assert ReqJson.parse_json('{"aigc_meta": {"producer_id": "p", "content_propagator": "c"}}').tagged
    assert not ReqJson.parse_json('{"aigc_meta": {"producer_id": "p"}}').tagged
