"""The callbacks' crypto, done by wechatpy's ``WeChatCrypto`` (signature check, AES of the XML).

    cb = Callbacks(token, encoding_aes_key, corp_id)
    cb.verify_url(msg_signature, timestamp, nonce, echostr)   # the URL check (GET): the plain echostr
    cb.decrypt(body, msg_signature, timestamp, nonce)         # a POST: the message as a dict
    cb.encrypt(xml, nonce, timestamp)                         # what WeCom sends (the fake server, tests)

A wrong signature raises ``BadSignature``; a body that is not the expected XML ``BadCallback``
(naming the field). Neither message quotes the body.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from assistant.channels.base import AdapterError
from assistant.channels.wecom.errors import WeComConfigError

try:                                   # wechatpy 2.x
    from wechatpy.work.crypto import WeChatCrypto  # type: ignore[import-not-found,unused-ignore]
except ImportError:                    # wechatpy 1.8 (the stable release): the same class, older name
    from wechatpy.enterprise.crypto import WeChatCrypto  # type: ignore[import-untyped,no-redef,unused-ignore]

MAX_BODY = 64 * 1024


class BadSignature(AdapterError):
    def __init__(self, field: str = "msg_signature") -> None:
        super().__init__(field, "signature does not match (wrong token, or the request was not sent by WeCom)")


class BadCallback(AdapterError):
    pass


def check_aes_key(key: str) -> None:
    """EncodingAESKey: 43 characters of base64 giving 32 bytes; ``WeComConfigError`` otherwise."""
    try:
        ok = len(key) == 43 and len(base64.b64decode(key + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise WeComConfigError("ASSISTANT_WECOM_AES_KEY must be the 43-character EncodingAESKey from the "
                               "WeCom admin console (API接收消息 → EncodingAESKey)")


def parse_xml(text: str | bytes, what: str = "body") -> dict[str, Any]:
    """The ``<xml>`` document as a flat dict of its elements (text values); nested ones as dicts."""
    from xml.parsers.expat import ExpatError

    import xmltodict

    try:
        data = xmltodict.parse(text, disable_entities=True)
    except (ExpatError, ValueError) as exc:
        raise BadCallback(what, f"not well-formed XML ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("xml"), dict):
        raise BadCallback(what, "not a WeCom <xml> document")
    return dict(data["xml"])


class Callbacks:
    def __init__(self, token: str, encoding_aes_key: str, corp_id: str) -> None:
        check_aes_key(encoding_aes_key)
        self.corp_id = corp_id
        self._crypto = WeChatCrypto(token, encoding_aes_key, corp_id)

    def verify_url(self, signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        from wechatpy.exceptions import InvalidSignatureException

        try:
            plain = self._crypto.check_signature(signature, timestamp, nonce, echostr)
        except InvalidSignatureException:
            raise BadSignature() from None
        except Exception as exc:       # bad base64/padding/corp id inside the echostr
            raise BadCallback("echostr", f"cannot be decrypted ({type(exc).__name__})") from None
        return plain.decode("utf-8") if isinstance(plain, bytes) else str(plain)

    def decrypt(self, body: bytes | str, signature: str, timestamp: str, nonce: str) -> dict[str, Any]:
        from wechatpy.exceptions import InvalidSignatureException

        envelope = parse_xml(body)
        if not isinstance(envelope.get("Encrypt"), str) or not envelope["Encrypt"]:
            raise BadCallback("Encrypt", "missing")
        try:
            plain = self._crypto.decrypt_message({"Encrypt": envelope["Encrypt"]}, signature, timestamp, nonce)
        except InvalidSignatureException:
            raise BadSignature() from None
        except Exception as exc:       # bad AES/padding, another corp's message
            raise BadCallback("Encrypt", f"cannot be decrypted ({type(exc).__name__})") from None
        return parse_xml(plain, "Encrypt")

    def encrypt(self, xml: str, nonce: str, timestamp: str | int) -> str:
        """The encrypted envelope WeCom POSTs for ``xml``, signed (``MsgSignature`` inside)."""
        return str(self._crypto.encrypt_message(xml, nonce, str(timestamp)))

    def encrypt_echo(self, text: str) -> str:
        """An ``echostr`` as WeCom sends it with the URL check (tests)."""
        try:
            from wechatpy.work.crypto import PrpCrypto  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            from wechatpy.enterprise.crypto import PrpCrypto  # type: ignore[import-untyped,no-redef,unused-ignore]

        raw = PrpCrypto(self._crypto.key).encrypt(text, self.corp_id)
        return raw.decode() if isinstance(raw, bytes) else str(raw)
