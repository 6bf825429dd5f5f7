"""Each simulated provider alone: its class on a bare Flask app, driven by Flask's test client (no server)."""

import json
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from unittest.mock import ANY

import pytest
from avatar_local.simulator.files import Files
from avatar_local.simulator.kling import Kling
from avatar_local.simulator.settings import SimulatorSettings
from avatar_local.simulator.state import ProviderApi, SimulatorState
from avatar_local.simulator.volcengine import VIDEO_REQ_KEY, Volcengine
from avatar_local.simulator.wavespeed import WaveSpeed
from avatar_pipeline.providers.volcengine_signing import sign_request
from flask import Flask
from flask.testing import FlaskClient
from volcengine.auth.SignerV4 import SignerV4
from volcengine.auth.SignParam import SignParam
from volcengine.Credentials import Credentials

AK, SK = "AKLTunit", "c2VjcmV0"
CREDENTIALS = {
    "wavespeed": {"api_key": "ws-key"},
    "kling": {"api_key": "kl-key"},
    "volcengine": {"access_key_id": AK, "secret_access_key": SK},
}
QUERY = "Action=CVGetResult&Version=2022-08-31"


def _client(provider: type[ProviderApi] | type[Files]) -> FlaskClient:
    app = Flask(__name__)
    app.register_blueprint(provider(SimulatorState.create(CREDENTIALS, SimulatorSettings())).blueprint())
    return app.test_client()


def test_wavespeed_alone() -> None:
    client = _client(WaveSpeed)
    assert client.get("/api/v3/predictions/x").status_code == 401
    auth = {"Authorization": "Bearer ws-key"}
    refused = client.post("/api/v3/bytedance/avatar-omni-human", json={"image": "x", "extra": 1}, headers=auth)
    assert (refused.status_code, refused.json) == (400, {"code": 400, "message": "unknown field: extra", "data": None})
    assert client.get("/api/v3/predictions/x/result", headers=auth).status_code == 404


def test_kling_alone() -> None:
    client = _client(Kling)
    registered = client.post("/_simulator/kling/audio", json={"seconds": 2.5})
    assert registered.status_code == 201
    assert registered.get_json()["duration"] == pytest.approx(2.5, abs=0.05)
    auth = {"Authorization": "Bearer kl-key"}
    body = {"image": "https://media.test/a.png", "audio_id": "unknown"}
    refused = client.post("/v1/videos/avatar/image2video", json=body, headers=auth)
    assert refused.status_code == 400
    assert refused.get_json()["code"] == 1201
    assert refused.get_json()["message"] == "invalid audio_id: 'unknown' not found"
    unknown = client.get("/v1/videos/avatar/image2video/nope", headers=auth)
    assert (unknown.status_code, unknown.json) == (404, {"code": 1203, "message": "task not found", "request_id": ANY})


def test_files_alone_refuse_unsigned_urls() -> None:
    response = _client(Files).get("/_simulator/files/abc.mp4?expires=1&signature=0")
    assert response.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in response.data


def _sdk_headers(body: bytes, signed_at: datetime, secret: str = SK) -> dict[str, str]:
    param = SignParam()
    param.set_method("POST")
    param.set_path("/")
    param.set_body(body)
    param.set_query(OrderedDict([("Action", "CVGetResult"), ("Version", "2022-08-31")]))
    param.set_date(signed_at)
    param.set_header_list(OrderedDict([("Host", "localhost"), ("Content-Type", "application/json")]))
    result = SignerV4.sign_only(param, Credentials(AK, secret, "cv", "cn-north-1"))
    return {
        "Content-Type": "application/json",
        "X-Date": result.xdate,
        "X-Content-Sha256": result.xContextSha256,
        "Authorization": result.authorization,
    }


@pytest.mark.parametrize("signer", ["pipeline", "sdk"])
def test_volcengine_alone_accepts_both_signers(signer: str) -> None:
    body = json.dumps({"req_key": VIDEO_REQ_KEY, "task_id": "1"}).encode()
    now = datetime.now(UTC)
    if signer == "sdk":
        headers = _sdk_headers(body, now)
    else:
        headers = sign_request(
            "POST", f"http://localhost/?{QUERY}", {"Content-Type": "application/json"}, body, AK, SK, now=now
        )
    response = _client(Volcengine).post(f"/?{QUERY}", data=body, headers=headers)
    assert response.status_code == 200, response.data
    assert response.get_json()["data"] == {"status": "not_found"}


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ("signature", 401, "SignatureDoesNotMatch"),
        ("old", 400, "InvalidTimestamp"),
        ("unsigned-header", 401, "SignatureDoesNotMatch"),
    ],
)
def test_volcengine_alone_refuses_bad_signatures(change: str, status: int, code: str) -> None:
    body = json.dumps({"req_key": VIDEO_REQ_KEY, "task_id": "1"}).encode()
    signed_at = datetime.now(UTC) - timedelta(minutes=16 if change == "old" else 0)
    headers = _sdk_headers(body, signed_at, "wrong-secret" if change == "signature" else SK)
    if change == "unsigned-header":
        headers["Authorization"] = headers["Authorization"].replace("SignedHeaders=", "SignedHeaders=accept;")
        headers["Accept"] = "*/*"
    response = _client(Volcengine).post(f"/?{QUERY}", data=body, headers=headers)
    assert response.status_code == status
    assert response.get_json()["ResponseMetadata"]["Error"]["Code"] == code


def test_each_provider_s_result_layout_is_a_setting() -> None:
    settings = SimulatorSettings.from_assignments(["result_layout.kling=co64"])
    assert (settings.layout_for("kling"), settings.layout_for("wavespeed")) == ("co64", "moov_first")
    assert settings.as_dict()["result_layout"] == {
        "wavespeed": "moov_first",
        "volcengine": "moov_first",
        "kling": "co64",
    }
    settings.update({"result_layout": {"kling": None, "wavespeed": "fragmented"}})
    assert (settings.layout_for("kling"), settings.layout_for("wavespeed")) == ("moov_first", "fragmented")
    with pytest.raises(ValueError, match="result_layout"):
        settings.update({"result_layout": {"kling": "sideways"}})
