"""``python -m assistant wecom``: the WeCom channel (微信客服 for residents, the app for admins).

    export ASSISTANT_WECOM_CORP_ID=ww… ASSISTANT_WECOM_AGENT_ID=1000002 ASSISTANT_WECOM_SECRET=…
    export ASSISTANT_WECOM_TOKEN=… ASSISTANT_WECOM_AES_KEY=…        # the app's 接收消息 settings
    export ASSISTANT_WECOM_OPEN_KFID=wk…                           # optional: synced at start
    python -m assistant wecom [--host 127.0.0.1] [--port 8092] [--residents units.csv]

Serves the callback URL ``/wecom/callback`` (put it behind the estate's HTTPS reverse proxy). Every
setting is checked before anything starts; secrets are never printed or logged. Exit codes: 0
stopped with Ctrl-C or SIGTERM; 1 cannot listen or the servers failed; 2 a setting is missing or
malformed (the message names the variable).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assistant.cli.common import add_residents_option
from assistant.errors import ConfigError

if TYPE_CHECKING:
    from assistant.channels.wecom.server import WeComChannel
    from assistant.settings import Settings

_CORP = re.compile(r"^[A-Za-z0-9]{6,40}$")
_TOKEN = re.compile(r"^[A-Za-z0-9]{3,32}$")
_KFID = re.compile(r"^[A-Za-z0-9_-]{4,64}$")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("wecom", help="run the WeCom channel: 微信客服 for residents, app messages for admins")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None,
                   help="callback port (default 8092 or $ASSISTANT_WECOM_PORT; 0 picks a free one)")
    add_residents_option(p)
    p.set_defaults(run=run)
    return p


def check(settings: Settings) -> list[str]:
    """Every problem with the WeCom settings, each naming its variable; empty when fine."""
    from assistant.channels.wecom.crypto import check_aes_key

    problems = []
    if not settings.wecom_corp_id:
        problems.append("ASSISTANT_WECOM_CORP_ID is not set (我的企业 → 企业信息 → 企业ID)")
    elif not _CORP.match(settings.wecom_corp_id):
        problems.append("ASSISTANT_WECOM_CORP_ID does not look like a corp id (letters and digits, e.g. ww…)")
    if settings.wecom_agent_id is None:
        problems.append("ASSISTANT_WECOM_AGENT_ID is not set (应用管理 → the app → AgentId)")
    if settings.wecom_secret is None or not settings.wecom_secret.get_secret_value().strip():
        problems.append("ASSISTANT_WECOM_SECRET is not set (the app's Secret)")
    token = settings.wecom_token.get_secret_value() if settings.wecom_token else ""
    if not token:
        problems.append("ASSISTANT_WECOM_TOKEN is not set (the app → 接收消息 → Token)")
    elif not _TOKEN.match(token):
        problems.append("ASSISTANT_WECOM_TOKEN must be 3-32 letters and digits, as the admin console makes it")
    if settings.wecom_aes_key is None:
        problems.append("ASSISTANT_WECOM_AES_KEY is not set (the app → 接收消息 → EncodingAESKey)")
    else:
        try:
            check_aes_key(settings.wecom_aes_key.get_secret_value())
        except ConfigError as exc:
            problems.append(str(exc))
    for kfid in accounts(settings):
        if not _KFID.match(kfid):
            problems.append(f"ASSISTANT_WECOM_OPEN_KFID: {kfid[:70]!r} is not an open_kfid (e.g. wkAJ2GCAAA…)")
    return problems


def accounts(settings: Settings) -> tuple[str, ...]:
    return tuple(x.strip() for x in (settings.wecom_open_kfid or "").split(",") if x.strip())


def build_channel(settings: Settings, residents: Any = None) -> WeComChannel:
    """The channel the command serves; the gateway's answerer is set by the caller."""
    from assistant.channels.wecom.admin import AdminCommands, wecom_id
    from assistant.channels.wecom.api import TokenCache, WeComAPI
    from assistant.channels.wecom.crypto import Callbacks
    from assistant.channels.wecom.kf import KfService
    from assistant.channels.wecom.server import WeComChannel
    from assistant.channels.wecom.store import WeComStore
    from assistant.desk.handoff import load_roster, open_handoffs
    from assistant.runtime.app import group_gateway, open_desk, residents_roster

    assert settings.wecom_corp_id and settings.wecom_secret and settings.wecom_token and settings.wecom_aes_key
    assert settings.wecom_agent_id is not None
    agent = settings.wecom_agent_id
    api = WeComAPI(settings.wecom_corp_id, settings.wecom_secret.get_secret_value(),
                   cache=TokenCache(settings.wecom_dir / "token.json"), base_url=settings.wecom_base_url)
    # 微信客服 with its own Secret (微信客服 → API), else through the app named 可调用接口的应用
    kf_api = api if settings.wecom_kf_secret is None else WeComAPI(
        settings.wecom_corp_id, settings.wecom_kf_secret.get_secret_value(),
        cache=TokenCache(settings.wecom_dir / "token-kf.json"), base_url=settings.wecom_base_url)
    store = WeComStore(settings.desk_url)
    roster = load_roster(settings.handoff_roster)
    gateway = group_gateway(settings, residents_roster(settings, residents))

    def servicer() -> tuple[str, str] | None:
        admin = roster.handler(datetime.now(UTC))
        uid = wecom_id(admin)
        return (admin.id, uid) if uid else None

    kf = KfService(kf_api, store, gateway, handoffs=open_handoffs(settings.desk_url), servicer=servicer)
    def reply(userid: str, text: str) -> None:
        api.send_app_text(agent, [userid], text)

    kf_accounts = accounts(settings)

    def released(conversation_id: str) -> None:
        for account in kf_accounts or tuple(store.accounts()):
            kf.end_conversation(conversation_id, account)

    admin = AdminCommands(lambda: open_desk(settings), reply, released)
    callbacks = Callbacks(settings.wecom_token.get_secret_value(), settings.wecom_aes_key.get_secret_value(),
                          settings.wecom_corp_id)
    return WeComChannel(callbacks, store, kf, admin, accounts=accounts(settings), admin_agent=agent)


def run(args: argparse.Namespace, settings: Settings) -> int:
    problems = check(settings)
    port = settings.wecom_port if args.port is None else args.port
    if not 0 <= port <= 65535:
        problems.append(f"--port {port} is not a port number (0-65535)")
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        print("see assistant/channels/wecom/README.md (企业微信后台配置)", file=sys.stderr)
        return 2
    from assistant.channels.wecom.server import serve
    from assistant.runtime.app import live_answerer

    channel = build_channel(settings, args.residents)
    print("starting the assistant (first start ~30 s) …", file=sys.stderr, flush=True)
    try:
        with live_answerer(settings) as ask:
            assert channel.kf is not None
            channel.kf.gateway.answerer = ask
            serve(channel, args.host, port,
                  ready=lambda url: print(f"WeCom callback on {url}. Ctrl-C to stop.", flush=True))
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
