"""SignerV4 against the official SDK (``volcengine.auth.SignerV4.sign_only``), byte for byte."""

import hashlib
import json
from collections import OrderedDict
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote, urlencode

import pytest
from avatar_pipeline.providers.volcengine_signing import (
    canonical_query,
    format_x_date,
    sign_request,
    signing_key,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from volcengine.auth.SignerV4 import SignerV4
from volcengine.auth.SignParam import SignParam
from volcengine.auth.SignResult import SignResult
from volcengine.Credentials import Credentials
from volcengine.util.Util import Util

HOST = "visual.volcengineapi.com"
AK = "AKLTYjQ0ZjY3ZTk1ZDYzNDk1NWE0MmEyOTU0NjQ3YmE4NDU"
SK = "TVdJMlpqQmhaVFEzTmpNMk5HTmpOV0UzWm1KbU1UTmlNemc0WkRVM1pqUQ=="
ACTIONS = OrderedDict([("Action", "CVSubmitTask"), ("Version", "2022-08-31")])
DATES = [
    datetime(2025, 9, 25, 17, 15, 50, tzinfo=UTC),
    datetime(2024, 2, 29, 0, 0, 0, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
]
BODIES = [
    b"",
    b"{}",
    json.dumps({"req_key": "jimeng_realman_avatar_picture_omni_v15", "image_url": "https://x/a.png?a=1&b=2"}).encode(),
    json.dumps(
        {
            "req_key": "jimeng_realman_avatar_picture_omni_v15",
            "prompt": "她微笑着说话\uff0c镜头缓慢推进 — ¡hola! 안녕 🎬",
        },
        ensure_ascii=False,
    ).encode(),
]
QUERIES = [
    ACTIONS,
    OrderedDict([("Version", "2022-08-31"), ("Action", "CVGetResult")]),
    OrderedDict([*ACTIONS.items(), ("q", "a b+c/d?e=f&g"), ("x-tilde", "~-_.*'()!"), ("名字", "值 ✓")]),
    OrderedDict([*ACTIONS.items(), ("empty", ""), ("Zeta", "1"), ("alpha", "2"), ("%", "%25")]),
]


def _sdk(
    method: str,
    query: "OrderedDict[str, str]",
    headers: dict[str, str],
    body: bytes,
    date: datetime,
    *,
    access_key: str = AK,
    secret_key: str = SK,
    region: str = "cn-north-1",
    service: str = "cv",
) -> SignResult:
    param = SignParam()
    param.set_method(method)
    param.set_host(HOST)
    param.set_path("/")
    param.set_body(body)
    param.set_query(OrderedDict(query))
    param.set_date(date)
    param.set_header_list(OrderedDict(headers))
    return SignerV4.sign_only(param, Credentials(access_key, secret_key, service, region))


def _url(query: "OrderedDict[str, str]", host: str = HOST) -> str:
    return f"https://{host}/?{urlencode(query, quote_via=quote)}"


def _ours(
    method: str,
    query: "OrderedDict[str, str]",
    body: bytes,
    date: datetime,
    *,
    headers: dict[str, str] | None = None,
    host: str = HOST,
    **kwargs: str,
) -> dict[str, str]:
    return sign_request(
        method,
        _url(query, host),
        {"Content-Type": "application/json"} if headers is None else headers,
        body,
        kwargs.pop("access_key", AK),
        kwargs.pop("secret_key", SK),
        now=date,
        **kwargs,
    )


@pytest.mark.parametrize("date", DATES, ids=lambda date: date.strftime("%Y%m%d"))
@pytest.mark.parametrize("body", BODIES, ids=["empty", "braces", "ascii", "non-ascii"])
@pytest.mark.parametrize("query", QUERIES, ids=["submit", "reversed", "rfc3986", "edge-keys"])
def test_matches_the_official_sdk(date: datetime, body: bytes, query: "OrderedDict[str, str]") -> None:
    expected = _sdk("POST", query, {"Content-Type": "application/json", "Host": HOST}, body, date)
    headers = _ours("POST", query, body, date)
    assert headers["Authorization"] == expected.authorization
    assert headers["X-Date"] == expected.xdate
    assert headers["X-Content-Sha256"] == expected.xContextSha256 == hashlib.sha256(body).hexdigest()
    assert headers["Host"] == HOST
    assert headers["Content-Type"] == "application/json"
    assert set(headers) == {"Content-Type", "Host", "X-Date", "X-Content-Sha256", "Authorization"}


def test_the_documented_header_shape() -> None:
    date = DATES[0]
    headers = _ours("POST", ACTIONS, b"{}", date)
    prefix = f"HMAC-SHA256 Credential={AK}/20250925/cn-north-1/cv/request, "
    assert headers["Authorization"].startswith(prefix + "SignedHeaders=content-type;host;x-content-sha256;x-date, ")
    assert headers["X-Date"] == "20250925T171550Z"
    signature = headers["Authorization"].rpartition("Signature=")[2]
    assert len(signature) == 64
    assert int(signature, 16) >= 0


def test_the_sdk_string_body_and_our_utf8_bytes_sign_the_same() -> None:
    text = json.dumps({"prompt": "こんにちは、世界"}, ensure_ascii=False)
    expected = _sdk("POST", ACTIONS, {"Content-Type": "application/json", "Host": HOST}, text, DATES[0])
    assert _ours("POST", ACTIONS, text.encode(), DATES[0])["Authorization"] == expected.authorization


@pytest.mark.parametrize(
    ("host", "sdk_host"),
    [
        ("127.0.0.1:8443", "127.0.0.1:8443"),
        (f"{HOST}:443", f"{HOST}:443"),
        ("localhost:80", "localhost:80"),
    ],
)
def test_hosts_with_ports(host: str, sdk_host: str) -> None:
    expected = _sdk("POST", ACTIONS, {"Content-Type": "application/json", "Host": sdk_host}, b"{}", DATES[0])
    headers = _ours("POST", ACTIONS, b"{}", DATES[0], host=host)
    assert headers["Authorization"] == expected.authorization
    assert headers["Host"] == host, "the Host header is sent as in the URL; only the signed value drops :80/:443"


def test_extra_headers_follow_the_sdk_selection() -> None:
    extra = {"Content-Type": "application/json", "X-Custom": "v a l", "Content-Md5": "abc", "User-Agent": "ua"}
    expected = _sdk("POST", ACTIONS, {**extra, "Host": HOST}, b"{}", DATES[1])
    headers = _ours("POST", ACTIONS, b"{}", DATES[1], headers=extra)
    assert headers["Authorization"] == expected.authorization
    assert "SignedHeaders=content-md5;content-type;host;x-content-sha256;x-custom;x-date," in headers["Authorization"]


def test_an_explicit_host_header_is_kept() -> None:
    expected = _sdk("POST", ACTIONS, {"Content-Type": "application/json", "Host": "proxy.internal"}, b"", DATES[0])
    headers = _ours(
        "POST", ACTIONS, b"", DATES[0], headers={"Content-Type": "application/json", "Host": "proxy.internal"}
    )
    assert headers["Authorization"] == expected.authorization
    assert headers["Host"] == "proxy.internal"


def test_get_without_a_body() -> None:
    expected = _sdk("GET", ACTIONS, {"Host": HOST}, b"", DATES[0])
    assert _ours("GET", ACTIONS, b"", DATES[0], headers={})["Authorization"] == expected.authorization


def test_other_region_and_service() -> None:
    expected = _sdk(
        "POST",
        ACTIONS,
        {"Content-Type": "application/json", "Host": HOST},
        b"{}",
        DATES[0],
        region="ap-singapore-1",
        service="iam",
    )
    headers = _ours("POST", ACTIONS, b"{}", DATES[0], region="ap-singapore-1", service="iam")
    assert headers["Authorization"] == expected.authorization


def test_repeated_query_keys_keep_their_order() -> None:
    expected = _sdk("POST", OrderedDict([("Action", "X"), ("k", ["b", "a"])]), {"Host": HOST}, b"", DATES[0])
    headers = sign_request("POST", f"https://{HOST}/?k=b&Action=X&k=a", {}, b"", AK, SK, now=DATES[0])
    assert headers["Authorization"] == expected.authorization


def test_a_plus_in_the_raw_query_is_a_space() -> None:
    assert canonical_query("q=a+b&p=a%2Bb") == "p=a%2Bb&q=a%20b"


def test_x_date_is_utc() -> None:
    local = datetime(2025, 9, 26, 1, 15, 50, tzinfo=timezone(timedelta(hours=8)))
    assert format_x_date(local) == "20250925T171550Z"
    assert format_x_date(datetime(2025, 9, 25, 17, 15, 50)) == "20250925T171550Z"
    assert _ours("POST", ACTIONS, b"", local)["Authorization"] == _ours("POST", ACTIONS, b"", DATES[0])["Authorization"]


def test_signing_key_matches_the_sdk() -> None:
    assert signing_key(SK, "20250925") == SignerV4.get_signing_secret_key_v4(SK, "20250925", "cn-north-1", "cv")


def test_canonical_query_matches_the_sdk() -> None:
    for query in QUERIES:
        assert canonical_query(urlencode(query, quote_via=quote)) == Util.norm_query(query)


def test_the_secret_changes_the_signature() -> None:
    assert (
        _ours("POST", ACTIONS, b"{}", DATES[0])["Authorization"]
        != _ours("POST", ACTIONS, b"{}", DATES[0], secret_key=SK + "x")["Authorization"]
    )


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
_KEYS = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(
        st.binary(max_size=512), _TEXT.map(lambda text: json.dumps({"prompt": text}, ensure_ascii=False).encode())
    ),
    extra=st.dictionaries(_KEYS, _TEXT, max_size=6),
    seconds=st.integers(min_value=0, max_value=4_000_000_000),
    secret=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=64),
)
def test_matches_the_sdk_for_any_body_query_date_and_secret(
    body: bytes, extra: dict[str, str], seconds: int, secret: str
) -> None:
    query = OrderedDict([*ACTIONS.items(), *((key, value) for key, value in extra.items() if key not in ACTIONS)])
    date = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    expected = _sdk("POST", query, {"Content-Type": "application/json", "Host": HOST}, body, date, secret_key=secret)
    headers = _ours("POST", query, body, date, secret_key=secret)
    assert headers["Authorization"] == expected.authorization
    assert headers["X-Content-Sha256"] == expected.xContextSha256
