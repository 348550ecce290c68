"""Telling the admins' group chat about handoffs and overdue tickets, and the notifier built from the settings.

    from assistant.desk.admin_notify import ChatNotifier, notifier_from_settings
    chat = ChatNotifier(adapter_send, "admins-group")     # send(OutgoingMessage) -> None
    notifier = notifier_from_settings(settings, send=adapter_send)   # log + webhook + chat, as configured

Every message is short Chinese text for the admins' group: the handoff or ticket id, why, the
(redacted) summary and who is on duty, @-mentioned with the handle of ``channel`` in the roster's
contacts (phone numbers are never used as handles). The whole text is redacted again before it
is sent, so no ID, bank-card or mobile number reaches the chat.

Settings for ``notifier_from_settings``: a LogNotifier always; ``ASSISTANT_NOTIFY_WEBHOOK`` (URL) adds
a WebhookNotifier; ``ASSISTANT_ADMIN_CONVERSATION`` (the admins' group id) with a ``send`` function
adds a ChatNotifier, whose @-handles come from the ``ASSISTANT_ADMIN_CHANNEL`` contact (e.g. wecom).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx

from assistant.channels.base import OutgoingMessage
from assistant.desk.handoff.notify import LogNotifier, MultiNotifier, Notifier, WebhookNotifier, event_ids
from assistant.desk.handoff.queue import redact_summary
from assistant.moderation.pii import redact_text
from assistant.vocabulary import CATEGORY_NAMES, OVERDUE_NAMES, REASON_NAMES

if TYPE_CHECKING:
    from assistant.settings import Settings

log = logging.getLogger("assistant.desk.admin_notify")

SUMMARY_CHARS = 80           # the summary in a chat message is clipped to this

SERVICE_NAMES = {"rasa": "对话服务（Rasa）", "actions": "动作服务器"}


def _category_name(category: str) -> str:
    return CATEGORY_NAMES.get(category, category)


def _handle(admin: dict[str, Any], channel: str | None) -> str | None:
    """The admin's chat handle without '@': the ``channel`` contact, else the first one that is not
    a phone number or an unfilled {{placeholder}}."""
    contacts = admin.get("contacts") or {}
    usable = {k: str(v).strip().lstrip("@＠") for k, v in contacts.items()
              if k != "phone" and str(v).strip() and "{{" not in str(v)}
    if channel:
        return usable.get(channel)
    return next(iter(usable.values()), None)


def _duty(event: dict[str, Any], channel: str | None) -> tuple[str, str | None]:
    admin = event.get("admin")
    if not isinstance(admin, dict):
        return "值班：未排班，请管理员认领", None
    handle = _handle(admin, channel)
    name = str(admin.get("name") or admin.get("id") or "")
    return (f"值班：@{handle} {name}" if handle else f"值班：{name}"), handle


def _time(value: Any, tz: ZoneInfo) -> str:
    try:
        return datetime.fromisoformat(str(value)).astimezone(tz).strftime("%m-%d %H:%M")
    except ValueError:
        return "?"


def _summary(event: dict[str, Any]) -> str:
    text = " ".join(redact_summary(str(event.get("summary") or "")).split())
    if len(text) > SUMMARY_CHARS:
        text = text[:SUMMARY_CHARS - 1] + "…"
    return f"摘要：{text}" if text else "摘要：（无）"


def _service_line(kind: str, event: dict[str, Any]) -> str:
    """``serve``'s supervisor: a server restarted or given up on (no message text in these events)."""
    name = SERVICE_NAMES.get(str(event.get("service")), str(event.get("service")))
    why = event.get("reason") or "?"
    if kind == "service.restarting":
        return f"【服务异常】{name}（{why}），第 {event.get('restarts', '?')} 次重启中"
    if kind == "service.restarted":
        return f"【服务恢复】{name}已重启，用时 {event.get('took_s', '?')} 秒"
    if kind == "service.restart_failed":
        return f"【服务异常】{name}重启失败，稍后重试"
    return f"【服务停止】{name}多次失败（{why}），已停止全部服务，请人工处理"


def _schedule_line(kind: str, event: dict[str, Any], tz: ZoneInfo) -> str:
    """The scheduler's events (assistant/schedule/runner.py): missed or failed posts, posts to admins."""
    name = str(event.get("name") or event.get("job") or "?")
    if kind == "schedule.missed":
        late = event.get("late_minutes", "?")
        return (f"【定时发布】「{name}」{_time(event.get('due'), tz)} 未按时发布（晚了 {late} 分钟，助手未运行），"
                "已跳过，不会补发")
    if kind == "schedule.failed":
        return f"【定时发布】「{name}」{_time(event.get('due'), tz)} 发送失败，请检查群聊适配器"
    if kind == "schedule.calendar_gap":
        return (f"【定时发布】节假日数据缺少 {event.get('year', '?')} 年，暂按周一至周五为工作日；"
                "请升级 chinese-calendar")
    return f"【定时提醒】{event.get('text') or name}"


def format_event(event: dict[str, Any], *, channel: str | None = None,
                 tz: ZoneInfo = ZoneInfo("Asia/Shanghai")) -> tuple[str, str | None]:
    """The admins' group message for ``event`` and the handle to @-mention (None: nobody)."""
    kind = str(event.get("event", ""))
    duty, handle = _duty(event, channel)
    hid = event.get("handoff_id", "?")
    reason = REASON_NAMES.get(str(event.get("reason")), str(event.get("reason") or "?"))
    if kind == "handoff.requested":
        lines = [f"【转人工】{hid}（{reason}）", _summary(event), f"{duty}，请接手：handoff take {hid}"]
    elif kind == "handoff.expired":
        tid = event.get("ticket_id")
        told = "已通知居民" if event.get("resident_told") else "未能通知居民，请线下联系"
        what = f"已转工单 {tid}，{told}" if tid else "工单未能创建，请人工登记并联系居民"
        lines = [f"【转人工超时】{hid} 无人接手（{reason}）", what, _summary(event), f"{duty}，请跟进"]
    elif kind == "handoff.taken":
        lines, handle = [f"【转人工】{hid} 已有管理员接手"], None
    elif kind == "handoff.released":
        lines, handle = [f"【转人工】{hid} 已交还助手"], None
    elif kind == "ticket.overdue":
        what = OVERDUE_NAMES.get(str(event.get("kind")), str(event.get("kind") or "?"))
        lines = [f"【工单超时】{event.get('ticket_id', '?')}（{_category_name(str(event.get('category', '')))}）"
                 f"{what}已超时，应于 {_time(event.get('due'), tz)} 前",
                 f"处理人：{event.get('assignee') or '未分配'}；{duty}，请跟进"]
    elif kind.startswith("service."):
        lines, handle = [_service_line(kind, event)], None
    elif kind.startswith("schedule."):
        lines, handle = [_schedule_line(kind, event, tz)], None
    else:
        lines = [f"【通知】{kind} {event.get('ticket_id') or hid}"]
    return redact_text("\n".join(lines)), handle


class ChatNotifier:
    """Posts each event as a short message to the admins' group through a chat adapter's ``send``.
    Never raises: a failed send is logged (ids only) and dropped."""

    def __init__(self, send: Callable[[OutgoingMessage], None], conversation_id: str, *,
                 channel: str | None = None, tz: ZoneInfo = ZoneInfo("Asia/Shanghai")) -> None:
        self.send, self.conversation_id, self.channel, self.tz = send, conversation_id, channel, tz

    def message(self, event: dict[str, Any]) -> OutgoingMessage:
        text, handle = format_event(event, channel=self.channel, tz=self.tz)
        return OutgoingMessage(self.conversation_id, text, at=handle)

    def notify(self, event: dict[str, Any]) -> None:
        try:
            self.send(self.message(event))
            log.info("chat %s posted to %s", event_ids(event), self.conversation_id)
        except Exception:
            log.exception("chat %s not posted", event_ids(event))


def telegram_send(token: str, base_url: str = "https://api.telegram.org/bot",
                  timeout: float = 10.0) -> Callable[[OutgoingMessage], None]:
    """A ``send`` for ChatNotifier through Telegram's Bot API (sendMessage), usable from any process
    (the action server, the console, a sweeper), not only the one polling Telegram."""
    url = f"{base_url.rstrip('/')}{'' if base_url.rstrip('/').endswith('bot') else '/bot'}{token}/sendMessage"

    def send(message: OutgoingMessage) -> None:
        text = f"@{message.at.lstrip('@')} {message.text}" if message.at else message.text
        resp = httpx.post(url, json={"chat_id": message.conversation_id, "text": text}, timeout=timeout,
                          trust_env=False)
        resp.raise_for_status()
        if not resp.json().get("ok"):
            raise RuntimeError("Telegram refused the message")

    return send


def notifier_from_settings(settings: Settings, send: Callable[[OutgoingMessage], None] | None = None, *,
                           background: bool = True) -> MultiNotifier:
    """Log always; a webhook when $ASSISTANT_NOTIFY_WEBHOOK is set (sent from a background thread
    unless ``background`` is False; call ``flush()`` before exiting); the admins' group when
    $ASSISTANT_ADMIN_CONVERSATION is set and a ``send`` function is given, or $TELEGRAM_BOT_TOKEN is
    set (then through Telegram's Bot API; $ASSISTANT_TELEGRAM_BASE_URL for another endpoint)."""
    token = settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else ""
    if send is None and token:
        send = telegram_send(token, settings.telegram_base_url)
    notifiers: list[Notifier] = [LogNotifier()]
    if settings.notify_webhook is not None:
        notifiers.append(WebhookNotifier(settings.notify_webhook.get_secret_value(), background=background))
    if settings.admin_conversation and send is not None:
        notifiers.append(ChatNotifier(send, settings.admin_conversation, channel=settings.admin_channel))
    notifiers.extend(wecom_notifiers(settings))
    return MultiNotifier(notifiers)


def wecom_notifiers(settings: Settings) -> list[Notifier]:
    """The WeCom group robot when $ASSISTANT_WECOM_ROBOT_KEY is set; app messages to the admins when
    the app is configured ($ASSISTANT_WECOM_CORP_ID, _SECRET, _AGENT_ID)."""
    out: list[Notifier] = []
    if settings.wecom_robot_key is not None:
        out.append(RobotNotifier(settings.wecom_robot_key.get_secret_value(), url=settings.wecom_robot_url,
                                 console_url=settings.console_url))
    if settings.wecom_corp_id and settings.wecom_secret is not None and settings.wecom_agent_id is not None:
        from assistant.channels.wecom.admin import wecom_ids
        from assistant.channels.wecom.api import TokenCache, WeComAPI
        from assistant.desk.handoff.roster import load_roster

        api = WeComAPI(settings.wecom_corp_id, settings.wecom_secret.get_secret_value(),
                       cache=TokenCache(settings.wecom_dir / "token.json"), base_url=settings.wecom_base_url)
        ids = list(wecom_ids(load_roster(settings.handoff_roster).admins))
        out.append(AppNotifier(api, settings.wecom_agent_id, ids, console_url=settings.console_url))
    return out


# -- WeCom: the admins' group robot and app messages ---------------------------------------------------

ROBOT_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"


def _mobile(admin: Any) -> str | None:
    """An admin's mobile number for ``mentioned_mobile_list`` (a placeholder is no number)."""
    if not isinstance(admin, dict):
        return None
    phone = str((admin.get("contacts") or {}).get("mobile") or (admin.get("contacts") or {}).get("phone") or "")
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits if len(digits) == 11 and digits.startswith("1") and "{{" not in phone else None


class RobotNotifier:
    """The admins' internal WeCom group through its group robot (群机器人 webhook): each event as
    markdown, the admin on duty mentioned with ``<@userid>`` (the roster's ``contacts.wecom``); when
    the roster has the admin's mobile number, a short text with ``mentioned_mobile_list`` follows
    (markdown messages cannot mention by mobile). Rate limits (45009) and network errors are retried
    with backoff; never raises (failures logged with the errcode, ids only)."""

    def __init__(self, key: str, *, url: str = ROBOT_URL, console_url: str | None = None, attempts: int = 4,
                 backoff: float = 0.5, client: httpx.Client | None = None,
                 tz: ZoneInfo = ZoneInfo("Asia/Shanghai")) -> None:
        self._key, self.url, self.console_url = key, url, console_url
        self.attempts, self.backoff, self.tz = attempts, backoff, tz
        self.client = client or httpx.Client(timeout=10.0, trust_env=False)

    def payloads(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        text, handle = format_event(event, channel="wecom", tz=self.tz)
        lines = text.splitlines()
        body = [f"**{lines[0]}**", *[f"> {line}" for line in lines[1:]]] if lines else []
        if handle:
            body.append(f"<@{handle}>")
        if self.console_url:
            body.append(f"[打开管理后台]({self.console_url})")
        out: list[dict[str, Any]] = [{"msgtype": "markdown", "markdown": {"content": "\n".join(body)}}]
        mobile = _mobile(event.get("admin")) if handle is not None or event.get("admin") else None
        if mobile and str(event.get("event")) in ("handoff.requested", "handoff.expired", "ticket.overdue"):
            out.append({"msgtype": "text", "text": {"content": lines[0] if lines else "", "mentioned_mobile_list":
                                                    [mobile]}})
        return out

    def _post(self, payload: dict[str, Any]) -> None:
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

        from assistant.channels.wecom.errors import WeComError

        def once() -> None:
            try:
                r = self.client.post(self.url, params={"key": self._key}, json=payload)
            except httpx.TransportError as exc:
                raise WeComError("webhook/send", None, type(exc).__name__) from None
            if r.status_code >= 500 or r.status_code == 429:
                raise WeComError("webhook/send", None, f"HTTP {r.status_code}")
            data = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            code = data.get("errcode", 0 if r.status_code < 400 else None)
            if code != 0:
                raise WeComError("webhook/send", code if isinstance(code, int) else None,
                                 str(data.get("errmsg", f"HTTP {r.status_code}")))

        Retrying(stop=stop_after_attempt(self.attempts), reraise=True,
                 wait=wait_exponential_jitter(multiplier=self.backoff, max=8.0),
                 retry=retry_if_exception(lambda e: isinstance(e, WeComError) and e.retryable))(once)

    def notify(self, event: dict[str, Any]) -> None:
        try:
            for payload in self.payloads(event):
                self._post(payload)
            log.info("wecom robot %s posted", event_ids(event))
        except Exception as exc:
            log.error("wecom robot %s not posted: %s", event_ids(event), exc)


class AppNotifier:
    """Admins get each event as a WeCom app message (自建应用 ``message/send``): the admin on duty
    (the roster's ``contacts.wecom``), or every admin with a WeCom id when nobody is named; with the
    reply commands (接单/结单) and a link to the console. Never raises."""

    def __init__(self, api: Any, agent_id: int, roster_ids: list[str], *, console_url: str | None = None,
                 tz: ZoneInfo = ZoneInfo("Asia/Shanghai")) -> None:
        self.api, self.agent_id, self.roster_ids = api, agent_id, roster_ids
        self.console_url, self.tz = console_url, tz

    def message(self, event: dict[str, Any]) -> tuple[list[str], str]:
        text, handle = format_event(event, channel="wecom", tz=self.tz)
        kind = str(event.get("event", ""))
        if kind.startswith("handoff.requested"):
            text += f"\n回复“接单 {event.get('handoff_id', '')}”认领"
        elif kind.startswith("ticket."):
            text += f"\n回复“接单 {event.get('ticket_id', '')}”认领，办完回复“结单 {event.get('ticket_id', '')} 说明”"
        if self.console_url:
            text += f"\n管理后台：{self.console_url}"
        admin = event.get("admin")
        to = [handle] if handle and isinstance(admin, dict) and (admin.get("contacts") or {}).get("wecom") else []
        return (to or list(self.roster_ids)), redact_text(text)

    def notify(self, event: dict[str, Any]) -> None:
        try:
            to, text = self.message(event)
            if not to:
                log.warning("wecom app %s: no admin with a wecom id in the roster", event_ids(event))
                return
            self.api.send_app_text(self.agent_id, to, text)
            log.info("wecom app %s sent to %d admin(s)", event_ids(event), len(to))
        except Exception as exc:
            log.error("wecom app %s not sent: %s", event_ids(event), exc)
