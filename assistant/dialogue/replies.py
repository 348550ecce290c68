"""What the assistant says. One place for every fixed Chinese reply."""

from __future__ import annotations

from assistant.text.normalize import strip_emoji

CHITCHAT = {
    "greet": ("您好！我是锦山壹号小区助手🏡 "
              "停车、垃圾分类、报修、物业服务、社区活动、周边商家和安全防范的问题都可以问我。"),
    "goodbye": "好的，再见！有需要随时@我。",
    "thank": "不客气😊 还有其他问题随时问我。",
    "bot_challenge": "我是锦山壹号的智能助手（机器人），回答来自小区生活指南。需要真人帮忙请说“转人工”。",
    "affirm": "好的。还有什么可以帮您？",
    "deny": "好的，那就不打扰了。有需要随时@我。",
}
FALLBACK = ("抱歉，这个问题超出了我能回答的范围😅 "
            "我可以回答小区停车、垃圾分类、报修、物业服务、社区活动、周边商家和安全防范方面的问题。")
ELSEWHERE = ("我只了解锦山壹号小区自己的情况，别的小区或外面的事我答不准，请向那边的物业或相关部门咨询。"
             "本小区的问题欢迎问我。")
CLARIFY = "我不太确定您想问的是哪一项，您是想了解：\n{options}\n回复序号即可。"
ASSUMED = "（接着您上一条问的《{title}》回答）"
NOT_IN_GUIDE = ("生活指南里没有写到您问的这一点，我不想乱答。和它相关的有：\n{options}\n"
                "回复序号可查看；需要工作人员确认的话，回复「人工」。")
NEAREST = "生活指南里没有直接写到这一点，最接近的是这一条（不对的话请回复「人工」）："
ALSO = "您问的另一点（{part}）："
RELATED = "如果您想问的不是这个，也可能是：\n{options}\n回复序号即可查看。"
OFFER_HUMAN = "看起来我没能帮上忙，需要为您转接人工管理员吗？回复“是”或“转人工”即可。"
BLANK = "您好，请问有什么可以帮您？可以直接输入您的问题，例如“车位怎么租”。"
UNREADABLE = "抱歉，我没看懂这条消息😅 请用中文简单描述您的问题，例如“车位怎么租”“厨余垃圾几点扔”。"
EMOJI_ONLY = "收到😊 有问题的话请用文字描述一下，我来帮您查。"
# answer feedback (assistant/learning): 👍/有用, 👎/没用 after an answer
FEEDBACK_THANKS = "谢谢您的反馈😊 我们会继续完善生活指南。"
FEEDBACK_SORRY = "抱歉没能帮上忙🙏 已记下，管理员会补充完善这条回答；也可以回复“转人工”找管理员。"
SERVICE_DOWN = "抱歉，助手暂时无法回复，请稍后再试；紧急情况请直接联系物业服务中心。"
COMPLAIN_ACK = ("已收到您的反映，我们会登记并尽快由管理员私下联系您处理，保持中立调解。"
                "请不要在群里争执，复杂情况可以安排线下沟通。")
TICKET_OPENED = ("已为您登记工单 {id}（{category}）。值班管理员会私下联系您，保持中立调解；"
                 "复杂情况会安排线下当面沟通。请不要在群里争执。")
TICKET_APPENDED = "您的补充已记录到工单 {id}（{category}），管理员会一并处理。"
HANDOFF_TO = ("好的，已通知本月值班管理员{name}（转接单 {id}），管理员一般会在{minutes}分钟内私聊联系您；"
              "在管理员接手前，我先不在这个对话里回复。超时没人接手的话，我会告诉您并登记为工单。")
HANDOFF_ACK = "好的，已为您通知值班管理员，管理员会尽快私聊联系您，请稍候。"
SOURCE = "📖 来源：《{title}》（{topic_name}·{id}，更新于{updated}）"
MISSED_TWICE = "抱歉，我连续两次没能回答您的问题。"
COMPLAINT_CANCELLED = "好的，已取消，没有登记工单。之后需要的话随时告诉我。"
CSAT_QUESTION = "您反映的问题（工单 {id}）已处理完毕。请为本次处理打分：回复 1-5 的数字（5 = 非常满意，1 = 很不满意）。"
CSAT_THANKS = "感谢您的评价（{score} 分）！我们会继续改进。"
CSAT_FAILED = "抱歉，评价没有记录成功，请稍后再试或直接联系管理员。"
HANDOFF_TIMEOUT = ("抱歉，值班管理员暂时没能接手您的转人工请求（{id}）。您的请求已登记为工单 {ticket}，"
                   "管理员会在工作时间私下联系您；在此期间我可以继续回答小区相关问题。")
COMPLAIN_HINT = "如果您是想投诉登记，请说“我要投诉”，我来帮您登记工单。"


def blank(clean: str) -> tuple[str, str]:
    """The route and reply for a message with nothing word-like: emoji alone are a reaction (chitchat);
    punctuation alone ("？？？", "。。。") or nothing asks what the resident wants (a clarifying fallback)."""
    if clean and strip_emoji(clean) != clean:
        return "chitchat", EMOJI_ONLY
    return "fallback", BLANK
