"""Lambda function URLs on the local stack: moto does not serve them, so each ``AWS::Lambda::Url`` gets an HTTP
server on 127.0.0.1 that turns a request into the function URL event (payload format 2.0), invokes the function
through the local AWS (so the real handler runs in the local Lambda runtime) and answers with what it returns, as
AWS does: a ``statusCode``/``headers``/``body`` object as given, anything else as a 200 JSON body, and a function
error as 502. The server is bound when the template is provisioned (the URL is an attribute other resources read)
and serves once the Lambda runtime is up."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"
MAX_BODY_BYTES = 6 * 2**20  # a function URL's request payload limit


class FunctionUrlServer:
    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.lambda_client: Any = None
        self._server = ThreadingHTTPServer((LOOPBACK, 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}/"

    def start(self, lambda_client: Any) -> None:
        self.lambda_client = lambda_client
        self._thread = threading.Thread(target=self._server.serve_forever, name="function-url", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()

    def invoke(self, event: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        answer = self.lambda_client.invoke(FunctionName=self.function_name, Payload=json.dumps(event).encode())
        payload = answer["Payload"].read()
        if answer.get("FunctionError"):
            return 502, {"content-type": "application/json"}, b'{"Message":"Internal Server Error"}'
        return shaped(json.loads(payload or b"null"))


def shaped(result: Any) -> tuple[int, dict[str, str], bytes]:
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        return int(result["statusCode"]), headers, raw
    return 200, {"content-type": "application/json"}, json.dumps(result).encode()


def url_event(method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str) -> dict[str, Any]:
    path, _, query = target.partition("?")
    text = body.decode("utf-8", errors="strict") if _is_text(body) else None
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": headers.get("host", LOOPBACK),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": text if text is not None else base64.b64encode(body).decode(),
        "isBase64Encoded": text is None,
    }


def _is_text(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _handler_for(server: FunctionUrlServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                self._answer(413, {"content-type": "application/json"}, b'{"Message":"Request Too Long"}')
                return
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            event = url_event(self.command, self.path, headers, body, self.client_address[0])
            self._answer(*server.invoke(event))

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
