"""The mutual-help list (matches by category, the other side only, other units) and emergency
contacts (consent required, bad phone numbers refused)."""

from __future__ import annotations

import pytest

from assistant.community.errors import BadInput, NotFound
from assistant.community.helplist import ASK, OFFER, parse_post
from assistant.community.service import Community


def test_asks_are_matched_with_offers_of_the_same_category(lite: Community) -> None:
    h = lite.help
    cat = h.post("6-202", "li", "提供 宠物 周末可以帮忙喂猫").post
    h.post("7-303", "wang", "提供 工具 有电钻可以借")
    h.post("5-101", "zhang", "提供 宠物 可以遛狗")
    got = h.post("5-101", "zhang", "需要 宠物 下周出差想找人喂猫")
    assert [m.unit for m in got.matches] == ["6-202"]               # not tools, not the asker's own offer
    assert got.post.kind == ASK and got.post.category == "pets"
    h.withdraw(cat.id, "6-202")
    assert h.post("8-404", "zhao", "需要 宠物 帮忙喂猫").matches[0].unit == "5-101"
    with pytest.raises(NotFound):
        h.withdraw(got.post.id, "6-202")                             # only one's own


@pytest.mark.parametrize("text, kind, category", [
    ("提供 法律 合同问题可以咨询", OFFER, "legal"),
    ("需要 孩子数学作业辅导", ASK, "tutoring"),
    ("想借梯子用一下", ASK, "tools"),
    ("我能 帮忙代收快递", OFFER, "errands"),
    ("需要 其他 搬家帮手", ASK, "other"),
])
def test_posts_are_read(text: str, kind: str, category: str) -> None:
    k, c, body = parse_post(text)
    assert (k, c) == (kind, category) and body


@pytest.mark.parametrize("text, field", [("宠物 喂猫", "kind"), ("提供 宠物", "text"), ("需要 " + "长" * 201, "text")])
def test_bad_posts_say_what_is_missing(text: str, field: str) -> None:
    with pytest.raises(BadInput) as err:
        parse_post(text)
    assert err.value.field == field


def test_emergency_contacts_need_consent_and_a_real_number(lite: Community) -> None:
    c = lite.help.add_contact("3-1-502", "王奶奶", "王小明", "儿子", "138-1234-5678",
                              "王奶奶本人口头同意登记，2026-12-01 社区走访时确认", "admin-wang")
    assert c.phone == "13812345678" and c.consent_at is not None
    with pytest.raises(BadInput) as err:
        lite.help.add_contact("3-1-502", "王奶奶", "王小明", "儿子", "12345", "本人同意登记紧急联系人", "a")
    assert err.value.field == "phone"
    with pytest.raises(BadInput) as err:
        lite.help.add_contact("3-1-502", "王奶奶", "王小明", "儿子", "13812345678", "", "a")
    assert err.value.field == "consent"
    assert [x.contact_name for x in lite.help.contacts("3-1-502")] == ["王小明"]
