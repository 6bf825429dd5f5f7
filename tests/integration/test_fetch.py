"""``fetch_to_s3`` against a real local HTTPS server (moto for S3).

The server listens on 127.0.0.1 with certificates for made-up names, signed by a throwaway CA that only the
test's httpx client trusts; the resolver is the test's, so ``media.example.test`` is 127.0.0.1 and other
names are whatever a case needs. Every refusal must happen before any connection is made to the refused
address, and a refused body must leave neither an object nor a pending multipart upload.
"""

from __future__ import annotations

import datetime as dt
import gzip
import ipaddress
import socket
import ssl
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from avatar_pipeline import download
from avatar_pipeline.addresses import Address
from avatar_pipeline.errors import InvalidMedia, InvalidRequest
from avatar_pipeline.fetch import MAX_REDIRECTS, FetchPolicy
from avatar_pipeline.models import S3Location
from avatar_pipeline.socket_body import socket_body
from avatar_pipeline.validation import fetch_to_s3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto import mock_aws

from tests.bombs import compressed_zeros
from tests.embedded_ipv4 import ALWAYS_REFUSED_FORMS, EMBEDDING_FORMS, EVERY_FORM, NOT_PUBLIC_IPV4, PUBLIC_IPV4

pytestmark = pytest.mark.integration

BUCKET = "avatar-input"
HOST = "media.example.test"
DESTINATION = S3Location(bucket=BUCKET, key="fetched/job-1/image")
BODY = bytes(range(256)) * 400  # 100 KiB
MIB = 1024 * 1024
LOOPBACK = ipaddress.ip_address("127.0.0.1")
BOMB_DECODED_BYTES = 256 * MIB
BOMB = compressed_zeros(BOMB_DECODED_BYTES)  # about 255 KiB


# --- certificates ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_pem: bytes
    leaves: dict[str, tuple[bytes, bytes]]  # host name -> (certificate PEM, key PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey, *, ca: bool
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        ).add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture(scope="module")
def pki() -> Pki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("avatar test CA", ca_key, "avatar test CA", ca_key, ca=True)
    leaves = {}
    for host in (HOST, "other.example.test"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(host, key, "avatar test CA", ca_key, ca=False)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        leaves[host] = (cert.public_bytes(serialization.Encoding.PEM), key_pem)
    return Pki(ca.public_bytes(serialization.Encoding.PEM), leaves)


# --- the HTTPS server -----------------------------------------------------------------------------


@dataclass
class Seen:
    paths: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)
    accept_encodings: list[str | None] = field(default_factory=list)


class MediaHandler(BaseHTTPRequestHandler):
    """/ok, /redirect/<n>, /to?location=..., /big (declared), /stream?bytes=n (no length), /missing,
    /coded?as=<Content-Encoding>&body=<gzip|bomb|plain>, /stall?seconds=s (headers, then silence)."""

    server: MediaServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        seen = self.server.seen
        seen.paths.append(self.path)
        seen.hosts.append(self.headers.get("Host", ""))
        seen.accept_encodings.append(self.headers.get("Accept-Encoding"))
        parts = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        if parts.path == "/ok":
            self._send(200, BODY)
        elif parts.path.startswith("/redirect/"):
            left = int(parts.path.rsplit("/", 1)[1])
            self._redirect(f"/redirect/{left - 1}" if left > 1 else "/ok")
        elif parts.path == "/to":
            self._redirect(query["location"])
        elif parts.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(60 * MIB))
            self.end_headers()
            self.wfile.write(b"\x00" * 1024)  # the rest never comes: the client must not wait for it
        elif parts.path == "/stream":
            self.send_response(200)
            self.end_headers()  # HTTP/1.0 without Content-Length: the body runs until the connection closes
            remaining = int(query["bytes"])
            while remaining > 0:
                chunk = min(remaining, 256 * 1024)
                self.wfile.write(b"\x00" * chunk)
                remaining -= chunk
        elif parts.path == "/coded":
            body = {"gzip": gzip.compress(BODY), "bomb": BOMB, "plain": BODY}[query["body"]]
            self._send(200, body, {"Content-Encoding": query["as"]})
        elif parts.path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.flush()
            time.sleep(float(query["seconds"]))
            self.wfile.write(BODY)
        else:
            self._send(404, b"not found")

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


class MediaServer(ThreadingHTTPServer):
    daemon_threads = True
    seen: Seen

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up mid-body or refuse the certificate are expected here


@dataclass
class RunningServer:
    port: int
    seen: Seen


def _serve(pki: Pki, host: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    cert_pem, key_pem = pki.leaves[host]
    folder = tmp_path_factory.mktemp(host)
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    server = MediaServer(("127.0.0.1", 0), MediaHandler)
    server.seen = Seen()
    context.sni_callback = lambda sock, name, ctx: server.seen.sni.append(name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield RunningServer(server.server_address[1], server.seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def media_server(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from _serve(pki, HOST, tmp_path_factory)


@pytest.fixture(scope="module")
def impostor_server(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Serves a certificate (from the same trusted CA) for other.example.test, not for media.example.test."""
    yield from _serve(pki, "other.example.test", tmp_path_factory)


@pytest.fixture
def server(media_server: RunningServer) -> RunningServer:
    media_server.seen.paths.clear()
    media_server.seen.hosts.clear()
    media_server.seen.sni.clear()
    media_server.seen.accept_encodings.clear()
    return media_server


# --- the client side ------------------------------------------------------------------------------


class RecordingTransport(httpx.HTTPTransport):
    """Records every request httpx is asked to send: nothing refused may ever get this far."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(str(request.url))
        return super().handle_request(request)


@pytest.fixture
def transport(pki: Pki) -> RecordingTransport:
    trusted = ssl.create_default_context(cadata=pki.ca_pem.decode())
    return RecordingTransport(verify=trusted)


@pytest.fixture
def http(transport: RecordingTransport) -> Iterator[httpx.Client]:
    # A fresh client (and connection pool) per test, so no test rides on another's verified connection.
    with httpx.Client(transport=transport) as client:
        yield client


@pytest.fixture(scope="module")
def module_s3() -> Iterator[Any]:
    """One moto S3 for the module (starting moto per test would dominate its run time)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
            patch.setenv(name, value)
        with mock_aws():
            client = boto3.client("s3", region_name="us-east-1")
            client.create_bucket(Bucket=BUCKET)
            yield client


@pytest.fixture
def s3(module_s3: Any) -> Any:
    """The module's bucket, emptied of objects and pending uploads before each test."""
    for item in module_s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        module_s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    for upload in module_s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        module_s3.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])
    return module_s3


def resolver(table: dict[str, list[str]]) -> Callable[[str, int], list[Address]]:
    def resolve(host: str, port: int) -> list[Address]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(address) for address in table[host]]

    return resolve


LOCAL_POLICY = FetchPolicy(resolver=resolver({HOST: ["127.0.0.1"]}), allow_loopback=True)


def fetch(
    url: str,
    s3: Any,
    http: httpx.Client,
    *,
    policy: FetchPolicy = LOCAL_POLICY,
    max_bytes: int = 10 * MIB,
    read_timeout_seconds: float = 10.0,
    destination: S3Location = DESTINATION,
) -> int:
    return fetch_to_s3(
        "image",
        url,
        destination=destination,
        max_bytes=max_bytes,
        s3=s3,
        client=http,
        policy=policy,
        read_timeout_seconds=read_timeout_seconds,
    )


def refused(error: type[Exception], url: str, s3: Any, http: httpx.Client, **kwargs: Any) -> str:
    with pytest.raises(error) as caught:
        fetch(url, s3, http, **kwargs)
    assert_nothing_stored(s3)
    cause: str = caught.value.cause  # type: ignore[attr-defined]
    return cause


def assert_nothing_stored(s3: Any) -> None:
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET), "a multipart upload was left pending"


def url(server: RunningServer, path: str, host: str = HOST) -> str:
    return f"https://{host}:{server.port}{path}"


# --- success --------------------------------------------------------------------------------------


def test_bytes_are_stored_at_the_destination(
    s3: Any, http: httpx.Client, server: RunningServer, transport: RecordingTransport
) -> None:
    assert fetch(url(server, "/ok"), s3, http) == len(BODY)
    stored = s3.get_object(Bucket=BUCKET, Key=DESTINATION.key)["Body"].read()
    assert stored == BODY
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET)
    # The connection went to the checked address; TLS and HTTP still named the original host.
    assert transport.sent == [f"https://127.0.0.1:{server.port}/ok"]
    assert server.seen.sni == [HOST]
    assert server.seen.hosts == [f"{HOST}:{server.port}"]


def test_a_body_over_tls_is_received_from_the_tls_socket(
    s3: Any, http: httpx.Client, server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy reads past httpx (``socket_body``): over TLS that is the SSL socket, which decrypts."""
    taken: list[bool] = []

    def recording(response: httpx.Response, length: int) -> Any:
        body = socket_body(response, length)
        stream = response.extensions["network_stream"]
        taken.append(body is not None and isinstance(stream.get_extra_info("socket"), ssl.SSLSocket))
        return body

    monkeypatch.setattr(download, "socket_body", recording)
    assert fetch(url(server, "/ok"), s3, http) == len(BODY)
    assert s3.get_object(Bucket=BUCKET, Key=DESTINATION.key)["Body"].read() == BODY
    assert taken == [True]


def test_certificate_must_match_the_host_name(s3: Any, http: httpx.Client, impostor_server: RunningServer) -> None:
    # Same trusted CA, valid certificate, but for other.example.test: the name check must fail.
    message = refused(InvalidRequest, url(impostor_server, "/ok"), s3, http)
    assert message.startswith(f"image {url(impostor_server, '/ok')} could not be fetched: ConnectError")
    assert "CERTIFICATE_VERIFY_FAILED" in message
    assert f"certificate is not valid for '{HOST}'" in message
    # The same server, asked for under the name its certificate has, is fine: only the name was wrong.
    policy = FetchPolicy(resolver=resolver({"other.example.test": ["127.0.0.1"]}), allow_loopback=True)
    assert fetch(url(impostor_server, "/ok", "other.example.test"), s3, http, policy=policy) == len(BODY)


def test_untrusted_certificate_is_refused(s3: Any, server: RunningServer) -> None:
    with httpx.Client() as default_trust:  # the system store does not know the test CA
        message = refused(InvalidRequest, url(server, "/ok"), s3, default_trust)
    assert "could not be fetched: ConnectError" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message


# --- redirects ------------------------------------------------------------------------------------


def test_redirects_are_followed_up_to_the_limit(s3: Any, http: httpx.Client, server: RunningServer) -> None:
    assert fetch(url(server, f"/redirect/{MAX_REDIRECTS}"), s3, http) == len(BODY)
    assert server.seen.paths == ["/redirect/3", "/redirect/2", "/redirect/1", "/ok"]
    assert server.seen.sni == [HOST] * 4, "each hop is a new TLS connection naming the original host"


def test_more_redirects_than_the_limit_are_refused(s3: Any, http: httpx.Client, server: RunningServer) -> None:
    message = refused(InvalidRequest, url(server, f"/redirect/{MAX_REDIRECTS + 1}"), s3, http)
    assert message == f"image {url(server, '/redirect/4')} redirected more than {MAX_REDIRECTS} times"
    assert len(server.seen.paths) == MAX_REDIRECTS + 1


@pytest.mark.parametrize("address", ["10.0.0.5", "169.254.169.254"])
def test_redirect_to_a_private_address_is_refused_before_connecting(
    s3: Any, http: httpx.Client, server: RunningServer, transport: RecordingTransport, address: str
) -> None:
    policy = FetchPolicy(
        resolver=resolver({HOST: ["127.0.0.1"], "internal.example.test": [address]}), allow_loopback=True
    )
    start = url(server, "/to?location=https://internal.example.test/latest/meta-data/")
    message = refused(InvalidRequest, start, s3, http, policy=policy)
    assert message == (
        f"image https://internal.example.test/latest/meta-data/: internal.example.test resolves to {address}, "
        "which is not a public address; refused"
    )
    assert transport.sent == [
        f"https://127.0.0.1:{server.port}/to?location=https://internal.example.test/latest/meta-data/"
    ]


def test_relative_redirect_is_resolved_against_the_original_url(
    s3: Any, http: httpx.Client, server: RunningServer
) -> None:
    assert fetch(url(server, "/to?location=/ok"), s3, http) == len(BODY)
    assert server.seen.hosts == [f"{HOST}:{server.port}"] * 2


def test_redirect_to_plain_http_is_refused(s3: Any, http: httpx.Client, server: RunningServer) -> None:
    policy = FetchPolicy(resolver=resolver({HOST: ["127.0.0.1"], "cdn.example.test": ["93.184.216.34"]}))
    loopback_policy = FetchPolicy(policy.resolver, allow_loopback=True)
    start = url(server, "/to?location=http://cdn.example.test/a.png")
    message = refused(InvalidRequest, start, s3, http, policy=loopback_policy)
    assert message == "image http://cdn.example.test/a.png: only https:// URLs are fetched"


# --- refused before any connection ---------------------------------------------------------------


@pytest.mark.parametrize("allow_loopback", [False, True])
def test_plain_http_is_refused(
    s3: Any, http: httpx.Client, transport: RecordingTransport, allow_loopback: bool
) -> None:
    policy = FetchPolicy(resolver=resolver({"cdn.example.test": ["93.184.216.34"]}), allow_loopback=allow_loopback)
    message = refused(InvalidRequest, "http://cdn.example.test/a.png", s3, http, policy=policy)
    assert message == "image http://cdn.example.test/a.png: only https:// URLs are fetched"
    assert transport.sent == []


@pytest.mark.parametrize(
    ("address", "allow_loopback"),
    [
        ("10.0.0.5", False),  # private
        ("192.168.1.20", True),  # private, even when loopback is allowed
        ("172.16.0.1", False),
        ("100.64.0.1", False),  # carrier-grade NAT
        ("127.0.0.1", False),  # loopback when the stack does not allow it
        ("::1", False),
        ("169.254.169.254", True),  # link-local: the instance metadata service
        ("fe80::1", False),
        ("224.0.0.1", False),  # multicast (which Python counts as global)
        ("ff02::1", False),
        ("0.0.0.0", False),  # noqa: S104 (an address to refuse, not one to bind)
        ("fd00::1", False),  # unique local
    ],
)
def test_non_public_addresses_are_refused_naming_the_address(
    s3: Any, http: httpx.Client, transport: RecordingTransport, address: str, allow_loopback: bool
) -> None:
    policy = FetchPolicy(resolver=resolver({"cdn.example.test": [address]}), allow_loopback=allow_loopback)
    message = refused(InvalidRequest, "https://cdn.example.test/a.png", s3, http, policy=policy)
    assert message == (
        f"image https://cdn.example.test/a.png: cdn.example.test resolves to {ipaddress.ip_address(address)}, "
        "which is not a public address; refused"
    )
    assert transport.sent == []


def test_one_private_address_among_public_ones_is_refused(
    s3: Any, http: httpx.Client, transport: RecordingTransport
) -> None:
    policy = FetchPolicy(resolver=resolver({"cdn.example.test": ["93.184.216.34", "10.0.0.5"]}))
    message = refused(InvalidRequest, "https://cdn.example.test/a.png", s3, http, policy=policy)
    assert "cdn.example.test resolves to 10.0.0.5, which is not a public address" in message
    assert transport.sent == []


def test_mixed_loopback_and_public_answer_is_not_loopback(
    s3: Any, http: httpx.Client, transport: RecordingTransport
) -> None:
    # allow_loopback covers names that are loopback only; a mixed answer is checked as public.
    policy = FetchPolicy(resolver=resolver({"cdn.example.test": ["93.184.216.34", "127.0.0.1"]}), allow_loopback=True)
    message = refused(InvalidRequest, "https://cdn.example.test/a.png", s3, http, policy=policy)
    assert "cdn.example.test resolves to 127.0.0.1, which is not a public address" in message
    assert transport.sent == []


def test_unresolvable_host_is_refused(s3: Any, http: httpx.Client, transport: RecordingTransport) -> None:
    message = refused(InvalidRequest, "https://nowhere.example.test/a.png", s3, http)
    assert message.startswith("image https://nowhere.example.test/a.png: cannot resolve nowhere.example.test (")
    assert transport.sent == []


def test_host_without_addresses_is_refused(s3: Any, http: httpx.Client) -> None:
    policy = FetchPolicy(resolver=resolver({"cdn.example.test": []}))
    message = refused(InvalidRequest, "https://cdn.example.test/a.png", s3, http, policy=policy)
    assert message == "image https://cdn.example.test/a.png: cdn.example.test has no address"


@pytest.mark.parametrize("credentials", ["user:secret@", "user@", ":secret@"])
def test_url_credentials_are_refused(
    s3: Any, http: httpx.Client, server: RunningServer, transport: RecordingTransport, credentials: str
) -> None:
    target = f"https://{credentials}{HOST}:{server.port}/ok"
    message = refused(InvalidRequest, target, s3, http)
    assert message == f"image {target}: the URL carries credentials; they are not sent"
    assert transport.sent == []


# --- bodies ---------------------------------------------------------------------------------------


def test_declared_length_over_the_cap_is_refused_before_storing(
    s3: Any, http: httpx.Client, server: RunningServer
) -> None:
    message = refused(InvalidMedia, url(server, "/big"), s3, http, max_bytes=50 * MIB)
    assert message == f"image {url(server, '/big')} is 60.0 MiB; the limit is 50 MiB"


def test_streamed_body_over_the_cap_is_refused_and_its_upload_aborted(
    s3: Any, http: httpx.Client, server: RunningServer
) -> None:
    # No Content-Length: the cap is enforced while streaming, after a first 8 MiB part was already uploaded.
    target = url(server, f"/stream?bytes={10 * MIB}")
    message = refused(InvalidMedia, target, s3, http, max_bytes=9 * MIB)
    assert message == f"image {target} is larger than 9 MiB"


def test_streamed_body_within_the_cap_is_stored(s3: Any, http: httpx.Client, server: RunningServer) -> None:
    assert fetch(url(server, f"/stream?bytes={300 * 1024}"), s3, http, max_bytes=MIB) == 300 * 1024
    assert s3.head_object(Bucket=BUCKET, Key=DESTINATION.key)["ContentLength"] == 300 * 1024


def test_empty_body_is_refused(s3: Any, http: httpx.Client, server: RunningServer) -> None:
    message = refused(InvalidMedia, url(server, "/stream?bytes=0"), s3, http)
    assert message == f"image {url(server, '/stream?bytes=0')} is empty (0 bytes)"


def test_not_found_is_an_invalid_request(s3: Any, http: httpx.Client, server: RunningServer) -> None:
    message = refused(InvalidRequest, url(server, "/missing.png"), s3, http)
    assert message == f"image {url(server, '/missing.png')} could not be fetched: HTTP 404"


@pytest.mark.parametrize("address", ["::ffff:127.0.0.1", "::ffff:10.0.0.5"])
@pytest.mark.parametrize("allow_loopback", [False, True])
def test_ipv4_mapped_addresses_are_refused_naming_the_ipv4_address(
    s3: Any, http: httpx.Client, transport: RecordingTransport, address: str, allow_loopback: bool
) -> None:
    policy = FetchPolicy(resolver=resolver({"cdn.example.test": [address]}), allow_loopback=allow_loopback)
    message = refused(InvalidRequest, "https://cdn.example.test/a.png", s3, http, policy=policy)
    mapped = ipaddress.ip_address(address)
    assert message == (
        f"image https://cdn.example.test/a.png: cdn.example.test resolves to {mapped} (IPv4-mapped "
        f"{address.removeprefix('::ffff:')}), which is not a public address; refused"
    )
    assert transport.sent == []


# --- IPv6 forms that carry an IPv4 address ----------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [form.address(ipv4) for form in EVERY_FORM for ipv4 in NOT_PUBLIC_IPV4]
    + [form.address(PUBLIC_IPV4) for form in ALWAYS_REFUSED_FORMS],
)
def test_ipv6_forms_carrying_a_non_public_address_are_refused_before_connecting(
    s3: Any, http: httpx.Client, transport: RecordingTransport, address: str
) -> None:
    policy = FetchPolicy(resolver=resolver({"cdn.example.test": [address]}))
    message = refused(InvalidRequest, "https://cdn.example.test/a.png", s3, http, policy=policy)
    assert message.startswith(f"image https://cdn.example.test/a.png: cdn.example.test resolves to {address} (")
    assert message.endswith("), which is not a public address; refused")
    assert transport.sent == []


@pytest.mark.parametrize("address", [form.address(PUBLIC_IPV4) for form in EMBEDDING_FORMS])
def test_ipv6_forms_carrying_a_public_address_are_fetched(s3: Any, address: str) -> None:
    sent: list[str] = []

    def respond(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(200, content=BODY)

    policy = FetchPolicy(resolver=resolver({"cdn.example.test": [address]}))
    with httpx.Client(transport=httpx.MockTransport(respond)) as client:
        assert fetch("https://cdn.example.test/a.png", s3, client, policy=policy) == len(BODY)
    assert sent == [f"https://[{address}]/a.png"]


# --- ports ----------------------------------------------------------------------------------------


def test_a_url_with_a_port_out_of_range_is_an_invalid_request(
    s3: Any, http: httpx.Client, transport: RecordingTransport
) -> None:
    target = f"https://{HOST}:99999/a.png"
    message = refused(InvalidRequest, target, s3, http)
    assert message == f"image {target}: the URL is not valid (Port out of range 0-65535)"
    assert transport.sent == []


def test_a_redirect_to_a_port_out_of_range_is_an_invalid_request_naming_it(
    s3: Any, http: httpx.Client, server: RunningServer
) -> None:
    message = refused(InvalidRequest, url(server, f"/to?location=https://{HOST}:99999/ok"), s3, http)
    assert message == f"image https://{HOST}:99999/ok: the URL is not valid (Port out of range 0-65535)"


def test_a_redirect_to_something_that_is_not_a_url_is_an_invalid_request(
    s3: Any, http: httpx.Client, server: RunningServer
) -> None:
    start = url(server, "/to?location=https://cdn]x.example.test/a.png")
    message = refused(InvalidRequest, start, s3, http)
    assert message == (
        f"image {start} redirected to an unusable URL: 'https://cdn]x.example.test/a.png' is not a valid URL "
        "(Invalid IPv6 URL)"
    )


# --- content codings ------------------------------------------------------------------------------


def test_bodies_are_asked_for_uncoded(s3: Any, http: httpx.Client, server: RunningServer) -> None:
    fetch(url(server, "/ok"), s3, http)
    assert server.seen.accept_encodings == ["identity"]


def test_a_gzip_body_is_stored_decoded(s3: Any, http: httpx.Client, server: RunningServer) -> None:
    assert fetch(url(server, "/coded?as=gzip&body=gzip"), s3, http) == len(BODY)
    assert s3.get_object(Bucket=BUCKET, Key=DESTINATION.key)["Body"].read() == BODY


def test_a_gzip_bomb_is_cut_at_the_cap_in_bounded_memory(s3: Any, http: httpx.Client, server: RunningServer) -> None:
    target = url(server, "/coded?as=gzip&body=bomb")
    tracemalloc.start()
    try:
        with pytest.raises(InvalidMedia) as caught:
            fetch(target, s3, http, max_bytes=4 * MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    ratio = BOMB_DECODED_BYTES // len(BOMB)
    print(f"\ninput gzip bomb (1:{ratio}, {len(BOMB) // 1024} KiB): peak Python memory {peak / MIB:.1f} MiB")
    assert caught.value.cause == f"image {target} is larger than 4 MiB"
    assert_nothing_stored(s3)
    assert peak < 32 * MIB


def test_a_body_declared_gzip_that_is_not_is_invalid_media_naming_the_input(
    s3: Any, http: httpx.Client, server: RunningServer
) -> None:
    target = url(server, "/coded?as=gzip&body=plain")
    message = refused(InvalidMedia, target, s3, http)
    assert message == (
        f"image {target} is not valid gzip data (Error -3 while decompressing data: incorrect header check)"
    )


def test_a_coding_that_is_not_decoded_is_invalid_media(s3: Any, http: httpx.Client, server: RunningServer) -> None:
    target = url(server, "/coded?as=br&body=plain")
    message = refused(InvalidMedia, target, s3, http)
    assert message == f"image {target} came with Content-Encoding 'br'; only gzip or deflate is decoded"


# --- time and storage -----------------------------------------------------------------------------


def test_the_configured_read_timeout_bounds_each_wait(s3: Any, http: httpx.Client, server: RunningServer) -> None:
    target = url(server, "/stall?seconds=3")
    message = refused(InvalidRequest, target, s3, http, read_timeout_seconds=0.5)
    assert message == f"image {target} could not be fetched: timed out (ReadTimeout)"


def test_a_destination_bucket_that_does_not_exist_is_a_contract_error(
    s3: Any, http: httpx.Client, server: RunningServer
) -> None:
    elsewhere = S3Location(bucket="no-such-bucket", key="fetched/job-1/image")
    with pytest.raises(InvalidRequest) as caught:
        fetch(url(server, "/ok"), s3, http, destination=elsewhere)
    assert caught.value.cause == (
        "starting an upload to s3://no-such-bucket/fetched/job-1/image failed: it does not exist (NoSuchBucket)"
    )
