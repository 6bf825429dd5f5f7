"""The provider simulator: one Flask app with a blueprint per provider, served on a background thread."""

import logging
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .admin import Admin
from .files import Files
from .kling import Kling
from .settings import SimulatorSettings
from .state import ProviderApi, SimulatorState
from .volcengine import Volcengine
from .wavespeed import WaveSpeed

logger = logging.getLogger(__name__)

PROVIDERS: tuple[type[ProviderApi], ...] = (WaveSpeed, Kling, Volcengine)


def create_app(state: SimulatorState) -> Flask:
    app = Flask(__name__)
    for provider in PROVIDERS:
        app.register_blueprint(provider(state).blueprint())
    app.register_blueprint(Files(state).blueprint())
    app.register_blueprint(Admin(state).blueprint())
    return app


class ProviderSimulator:
    """Serves every simulated provider API from one local HTTP server; a stopped simulator stays stopped."""

    def __init__(
        self,
        credentials: Mapping[str, Any],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: SimulatorSettings | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._state = SimulatorState.create(credentials, settings or SimulatorSettings())
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the provider simulator is not running")
        return f"http://{self._host}:{self._server.server_port}"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the provider simulator was already started")
        self._server = make_server(
            self._host, self._port, create_app(self._state), threaded=True, request_handler=_LoggingHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="provider-simulator", daemon=True)
        self._thread.start()
        logger.info("provider simulator listening on %s", self.url)

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._state.tasks.stop()
        self._state.callbacks.stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class _LoggingHandler(WSGIRequestHandler):
    """Request lines go to this module's logger at debug level instead of werkzeug's stderr default."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug('%s "%s" %s %s', self.address_string(), self.requestline, code, size)
