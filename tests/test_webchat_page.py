"""The web chat page as written to disk: local only, for the configured ports."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.channels.webchat import bundle_path, check_cors, write_page
from assistant.settings import Settings

from .conftest import free_port


def test_the_page_and_bundle_load_nothing_from_outside(tmp_path: Path) -> None:
    s = Settings(root=tmp_path, rasa_port=5123, webchat_port=8099)
    bundle = bundle_path(s)
    bundle.parent.mkdir(parents=True)
    bundle.write_bytes(b'x="@import url(https://fonts.googleapis.com/css?family=Inter:400&display=swap);.rw{}";')
    folder = write_page(s)
    assert folder == tmp_path / ".run" / "webchat-8099"
    served = (folder / "webchat.js").read_text() + (folder / "index.html").read_text()
    assert "fonts.googleapis" not in served and ".rw{}" in served
    page = (folder / "index.html").read_text()
    assert re.search(r"connect-src 'self' http://127\.0\.0\.1:5123 ws://127\.0\.0\.1:5123;", page)
    assert "default-src 'self'" in page and 'socketUrl: "http://127.0.0.1:5123"' in page


def test_no_rasa_running_is_not_a_cors_problem() -> None:
    check_cors(Settings(rasa_port=free_port()))     # nothing listens: Rasa will be started for this page


def test_a_rasa_started_for_another_page_port_is_refused_with_a_message() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import pytest

    from assistant.errors import ServiceError

    class Rasa(BaseHTTPRequestHandler):       # answers CORS for the page on port 8088 only
        def do_GET(self) -> None:
            self.send_response(200)
            if self.headers.get("Origin") == "http://127.0.0.1:8088":
                self.send_header("Access-Control-Allow-Origin", "http://127.0.0.1:8088")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Rasa)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        check_cors(Settings(rasa_port=port, webchat_port=8088))
        with pytest.raises(ServiceError, match=r"does not accept the web chat page at http://127\.0\.0\.1:8089"):
            check_cors(Settings(rasa_port=port, webchat_port=8089))
    finally:
        server.shutdown()
        server.server_close()
