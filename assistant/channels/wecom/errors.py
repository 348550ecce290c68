"""WeCom errors: every refusal carries the API's errcode and errmsg."""

from __future__ import annotations

from assistant.errors import ConfigError, ServiceError

# Codes the client treats specially (https://developer.work.weixin.qq.com/document/path/90313).
INVALID_TOKEN = 40014          # 不合法的access_token
EXPIRED_TOKEN = 42001          # access_token已过期
TOKEN_CODES = frozenset({INVALID_TOKEN, EXPIRED_TOKEN, 40082})
RATE_LIMITED = 45009           # 接口调用超过限制
BUSY = -1                      # 系统繁忙
RETRY_CODES = frozenset({BUSY, RATE_LIMITED, 45033, 45011})


class WeComError(ServiceError):
    """A WeCom API call refused or failed; ``errcode`` and ``errmsg`` as WeCom sent them
    (``errcode`` None: no answer at all, e.g. a network error or HTTP 5xx)."""

    def __init__(self, api: str, errcode: int | None, errmsg: str) -> None:
        self.api, self.errcode, self.errmsg = api, errcode, errmsg
        code = "no answer" if errcode is None else f"errcode {errcode}"
        super().__init__(f"WeCom {api}: {code} ({errmsg[:200]})")

    @property
    def retryable(self) -> bool:
        return self.errcode is None or self.errcode in RETRY_CODES


class WeComConfigError(ConfigError):
    """A WeCom setting is missing or malformed; the message names the variable."""
