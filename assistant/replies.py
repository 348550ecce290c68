"""What the assistant says. One place for every fixed Chinese reply."""

from __future__ import annotations

CHITCHAT = {
    "greet": "您好！我是锦山壹号小区助手🏡 停车、垃圾分类、报修、物业服务、社区活动、周边商家和安全防范的问题都可以问我。",
    "goodbye": "好的，再见！有需要随时@我。",
    "thank": "不客气😊 还有其他问题随时问我。",
    "bot_challenge": "我是锦山壹号的智能助手（机器人），回答来自小区生活指南。需要真人帮忙请说“转人工”。",
    "affirm": "好的。还有什么可以帮您？",
    "deny": "好的，那就不打扰了。有需要随时@我。",
}
FALLBACK = "抱歉，这个问题超出了我能回答的范围😅 我可以回答小区停车、垃圾分类、报修、物业服务、社区活动、周边商家和安全防范方面的问题。"
CLARIFY = "我不太确定您想问的是哪一项，您是想了解：\n{options}\n回复序号即可。"
RELATED = "如果您想问的不是这个，也可能是：\n{options}\n回复序号即可查看。"
OFFER_HUMAN = "看起来我没能帮上忙，需要为您转接人工管理员吗？回复“是”或“转人工”即可。"
BLANK = "您好，请问有什么可以帮您？可以直接输入您的问题，例如“车位怎么租”。"
EMOJI_ONLY = "收到😊 有问题的话请用文字描述一下，我来帮您查。"
SERVICE_DOWN = "抱歉，助手暂时无法回复，请稍后再试；紧急情况请直接联系物业服务中心。"
COMPLAIN_ACK = ("已收到您的反映，我们会登记并尽快由管理员私下联系您处理，保持中立调解。"
                "请不要在群里争执，复杂情况可以安排线下沟通。")
HANDOFF_ACK = "好的，已为您通知值班管理员，管理员会尽快私聊联系您，请稍候。"
SOURCE = "📖 来源：《{title}》（{topic_name}·{id}，更新于{updated}）"
ITEM = "「{name}」属于{category}，请投放到{bin}。{how}"
ITEM_NOTE = "（{note}）"
