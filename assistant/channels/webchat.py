"""The web chat page: the rasa-webchat widget (npm rasa-webchat 1.0.1) talking to Rasa's socket.io
channel, served on loopback. The widget's bundle is fetched from the npm registry at setup."""

from __future__ import annotations

import functools
import html
import shutil
import subprocess
import tarfile
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from assistant.errors import ConfigError
from assistant.settings import Settings

PACKAGE = "rasa-webchat@1.0.1"
PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>锦山壹号小区助手</title>
<style>body{{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;background:#f5f7f6}}
header{{padding:16px 24px;background:#2e7d5b;color:#fff}} #webchat{{height:calc(100vh - 80px)}}</style>
</head>
<body>
<header><strong>锦山壹号小区助手</strong> · 停车、垃圾分类、报修、物业服务、社区活动、周边商家、安全防范</header>
<div id="webchat"></div>
<script src="webchat.js"></script>
<script>
WebChat.default({{
  selector: "#webchat",
  socketUrl: "{socket_url}",
  socketPath: "/socket.io/",
  title: "锦山壹号小区助手",
  subtitle: "回答来自小区生活指南",
  inputTextFieldHint: "输入您的问题，例如：垃圾几点扔",
  embedded: true,
  showFullScreenButton: false,
  params: {{storage: "session"}},
  customMessageDelay: function () {{ return 0; }}
}}, null);
</script>
</body>
</html>
"""


def bundle_path(settings: Settings) -> Path:
    return settings.models_dir / "webchat" / "webchat.js"


def ensure_bundle(settings: Settings) -> Path:
    """Fetch the widget's self-contained bundle with `npm pack` once; raise ConfigError without npm."""
    target = bundle_path(settings)
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigError("npm is needed once to fetch the rasa-webchat widget (install Node.js and npm)")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([npm, "pack", PACKAGE, "--silent"], cwd=tmp, capture_output=True, text=True,
                              timeout=300, check=False)
        tgz = next(Path(tmp).glob("rasa-webchat-*.tgz"), None)
        if proc.returncode != 0 or tgz is None:
            raise ConfigError(f"npm pack {PACKAGE} failed: {proc.stderr.strip()[-500:]}")
        with tarfile.open(tgz) as tar:
            member = tar.getmember("package/lib/index.js")
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_target = target.with_suffix(".tmp")
    tmp_target.write_bytes(data)
    tmp_target.replace(target)
    return target


def write_page(settings: Settings) -> Path:
    folder = bundle_path(settings).parent
    page = folder / "index.html"
    page.write_text(PAGE.format(socket_url=html.escape(settings.rasa_url, quote=True)), encoding="utf-8")
    return folder


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_page(settings: Settings) -> ThreadingHTTPServer:
    """Serve the page and the bundle on the webchat port (in a daemon thread); returns the server."""
    ensure_bundle(settings)
    folder = write_page(settings)
    server = ThreadingHTTPServer((settings.host, settings.webchat_port),
                                 functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True, name="webchat-page").start()
    return server
