"""The web chat page: the rasa-webchat widget (npm rasa-webchat 1.0.1) talking to our socket.io
channel in Rasa (assistant/rasa_server/webchat.py), served on loopback. The widget's bundle is fetched from the
npm registry at setup; the page serves a copy without its web-font import, and its Content Security
Policy lets requests go only to the page and Rasa, so nothing leaves the machine. The page's port
($ASSISTANT_WEBCHAT_PORT) is the one Rasa's CORS lets in (``services.webchat_origins``)."""

from __future__ import annotations

import functools
import html
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from assistant.errors import ConfigError, ServiceError
from assistant.settings import Settings

PACKAGE = "rasa-webchat@1.0.1"
PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; connect-src 'self' {socket_url} {socket_ws};
 script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'">
<title>锦山壹号小区助手</title>
<style>
/* The widget renders into its own element at the end of <body>: pin it under the header, full height. */
html,body{{height:100%;margin:0;background:#f5f7f6;
 font-family:system-ui,"Noto Sans CJK SC","WenQuanYi Zen Hei","PingFang SC",sans-serif}}
header{{box-sizing:border-box;height:44px;padding:0 16px;background:#2e7d5b;color:#fff;font-size:14px;line-height:44px;
 white-space:nowrap;overflow:hidden;text-overflow:ellipsis}}
header strong{{font-size:16px;margin-right:6px}}
/* the widget's own element (body > div > .rw-pro-widget-embedded): fixed under the header, and every box
   down to the conversation a flex column, so the messages take the height and the input stays at the bottom */
.rw-pro-widget-embedded{{position:fixed !important;top:44px;bottom:0;left:0;right:0;height:auto !important;
 font-family:system-ui,"Noto Sans CJK SC","WenQuanYi Zen Hei",sans-serif !important}}
.rw-pro-widget-embedded *{{font-family:inherit !important}}
.rw-pro-widget-embedded div:has(.rw-conversation-container),.rw-pro-widget-embedded .rw-conversation-container{{
 position:static !important;display:flex !important;flex-direction:column !important;align-items:stretch !important;
 flex:1 1 auto !important;min-height:0 !important;height:100% !important;max-height:none !important;
 width:100% !important;max-width:960px !important;margin:0 auto !important;border-radius:0 !important}}
.rw-pro-widget-embedded .rw-messages-container{{flex:1 1 auto !important;min-height:0 !important;height:auto !important;
 max-height:none !important}}
.rw-pro-widget-embedded .rw-sender{{flex:none !important}}
</style>
</head>
<body>
<header><strong>锦山壹号小区助手</strong>停车、垃圾分类、报修、物业服务、社区活动、周边商家、安全防范</header>
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


# the bundle's CSS imports the Inter font from Google Fonts; the page uses local fonts
_REMOTE_IMPORT = re.compile(rb"@import url\(https?://[^)]*\);?")


def write_page(settings: Settings) -> Path:
    """The page and the bundle (without remote imports) in .run/webchat-<port>/; returns the folder."""
    folder = settings.run_dir / f"webchat-{settings.webchat_port}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "webchat.js").write_bytes(_REMOTE_IMPORT.sub(b"", bundle_path(settings).read_bytes()))
    ws = "ws" + settings.rasa_url.removeprefix("http")
    page = PAGE.format(socket_url=html.escape(settings.rasa_url, quote=True), socket_ws=html.escape(ws, quote=True))
    (folder / "index.html").write_text(page, encoding="utf-8")
    return folder


def check_cors(settings: Settings) -> None:
    """Raise ServiceError when a running Rasa would refuse the page's origin (it was started for
    another web chat port), instead of a page that silently never connects."""
    origin = settings.webchat_url
    try:
        resp = httpx.get(f"{settings.rasa_url}/socket.io/", params={"EIO": "4", "transport": "polling"},
                         headers={"Origin": origin}, timeout=5, trust_env=False)
    except httpx.HTTPError:
        return      # not running: it will be started for this port
    if resp.headers.get("access-control-allow-origin") not in (origin, "*"):
        raise ServiceError(f"the Rasa server at {settings.rasa_url} does not accept the web chat page at {origin} "
                           "(it was started for another web chat port): stop it, or serve the page on the port "
                           "it was started with ($ASSISTANT_WEBCHAT_PORT)")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_page(settings: Settings) -> ThreadingHTTPServer:
    """Serve the page and the bundle on the webchat port (in a daemon thread); returns the server."""
    ensure_bundle(settings)
    check_cors(settings)
    folder = write_page(settings)
    server = ThreadingHTTPServer((settings.host, settings.webchat_port),
                                 functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True, name="webchat-page").start()
    return server
