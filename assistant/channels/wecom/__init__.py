"""The WeCom (企业微信) channel: 微信客服 for residents, app messages and the group robot for admins.

Light on purpose (nothing heavy imported here): ``errors`` (WeComError with errcode/errmsg),
``api`` (the HTTP client, token cache, retries), ``crypto`` (wechatpy's WeChatCrypto around the
callbacks), ``store`` (cursor and message-id memory), ``kf`` (微信客服 sync/send, handoff), ``admin``
(admins' commands in the app), ``adapter`` (the conformance adapter), ``server`` (the callback app).
See README.md (Chinese) for the WeCom admin console setup.
"""
