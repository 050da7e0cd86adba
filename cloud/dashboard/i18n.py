"""The dashboard's words in zh-CN and English, and how it writes money, times and numbers.

Never: format a figure anywhere else. Money is integer fen shown as yuan (¥1,234.50); times
are the site's (the snapshot carries its zone); a language is ``zh-CN`` or ``en``.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from cloud.services.staff_preferences import LANGS

WORDS: dict[str, tuple[str, str]] = {
    "title": ("管理看板", "Dashboard"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "bad_login": ("用户名或密码错误", "Wrong username or password"),
    "throttled": ("失败次数过多，请稍后再试", "Too many failed sign-ins: wait and try again"),
    "second_factor": (
        "请输入正确的动态验证码（或恢复码）",
        "Enter the right one-time code (or a recovery code)",
    ),
    "totp": ("动态验证码（如已启用）", "One-time code (if enabled)"),
    "no_role": ("该账号无权查看看板", "This account may not see the dashboard"),
    "no_ack_role": (
        "该账号无权确认告警（需经理）",
        "This account may not acknowledge alarms (managers do)",
    ),
    "back": ("返回看板", "Back to the dashboard"),
    "live": ("实时", "Live"),
    "reconnecting": ("正在重连…", "Reconnecting…"),
    "as_of": ("数据时间", "As of"),
    "attention": ("需要处理", "Needs attention"),
    "all_clear": ("一切正常", "All clear"),
    "open_alarms": ("未处理告警", "Open alarms"),
    "gates_missing": ("闸机失联", "Gates missing"),
    "slots_warning": ("时段预警", "Slots at warning"),
    "slots_stopped": ("时段限流", "Slots stopped"),
    "payments_flagged": ("待核支付", "Payments flagged"),
    "cash_differences": ("现金长短款", "Cash differences"),
    "refunds_waiting": ("待退款", "Refunds waiting"),
    "now": ("当前", "Now"),
    "in_park": ("在园人数", "Visitors in the park"),
    "entries": ("入园", "Entries"),
    "exits": ("出园", "Exits"),
    "by_zone": ("分区在园", "In the park by zone"),
    "sales_today": ("今日销售", "Sales today"),
    "tickets": ("张", "tickets"),
    "ticket": ("票号", "ticket"),
    "refunds_today": ("今日退款", "Refunds today"),
    "net": ("净额", "Net"),
    "by_channel": ("按渠道", "By channel"),
    "by_product": ("按产品", "By product"),
    "slots": ("时段容量", "Capacity by slot"),
    "slot": ("时段", "Slot"),
    "whole_day": ("全天", "Whole day"),
    "taken": ("已订", "Taken"),
    "capacity": ("容量", "Capacity"),
    "booked": ("已出票", "Booked"),
    "arrived": ("已到", "Arrived"),
    "no_shows": ("未到", "Not arrived"),
    "state": ("状态", "State"),
    "ok": ("正常", "OK"),
    "warning": ("预警", "Warning"),
    "stopped": ("限流", "Stopped"),
    "gates": ("闸机", "Gates"),
    "gate": ("闸机", "Gate"),
    "zone": ("分区", "Zone"),
    "kind": ("类型", "Kind"),
    "online": ("在线", "Online"),
    "missing": ("失联", "Missing"),
    "offline": ("离线", "Offline"),
    "never": ("从未上报", "Never reported"),
    "last_event": ("最后上报", "Last event"),
    "per_min": ("入园/分钟", "Entries/min"),
    "outbox": ("待上传", "Outbox"),
    "software": ("软件版本", "Software"),
    "ago": ("前", "ago"),
    "alarms": ("告警", "Alarms"),
    "no_alarms": ("没有告警", "No alarms"),
    "acknowledge": ("确认", "Acknowledge"),
    "note": ("处理说明", "What was done"),
    "acknowledged_by": ("已确认", "Acknowledged by"),
    "charts": ("今日图表", "Today in charts"),
    "entries_by_hour": ("每小时入园", "Entries by hour"),
    "in_park_curve": ("在园人数曲线", "Visitors in the park over the day"),
    "sales_by_channel": ("各渠道销售额", "Sales by channel"),
    "slot_fill": ("时段售出率", "Slot fill"),
    "booked_vs_arrived": ("预约与到达（未到）", "Booked versus arrived (no-shows)"),
    "peak_arrival": ("今日入园高峰", "Today's peak arrival"),
    "no_entries_yet": ("今天还没有入园", "No entries yet today"),
    "ahead": ("预测", "Ahead"),
    "expected_peak": ("预计在园峰值", "Expected in-park peak"),
    "peak_reached": ("今日峰值已出现", "Today's peak was reached"),
    "at": ("于", "at"),
    "still_coming": ("预计还将入园", "Still expected to arrive"),
    "release": ("未到名额释放", "Releasing unclaimed places"),
    "release_now": ("现在可释放", "can be released now"),
    "release_from": ("可于此时释放", "can be released from"),
    "expected_unclaimed": ("预计未到", "expected unclaimed"),
    "unclaimed": ("未到", "unclaimed"),
    "show_rate": ("到场率", "show rate"),
    "stay": ("平均停留", "typical stay"),
    "measured": ("今日实测", "measured today"),
    "assumed": ("默认值", "assumed"),
    "how_estimated": ("估算方法", "How this is estimated"),
    "forecast": ("预测", "forecast"),
    "so_far": ("实际", "so far"),
    "language": ("English", "中文"),
    "none": ("无", "none"),
    "web": ("线上", "Online"),
    "window": ("窗口", "Window"),
    "ota": ("OTA", "OTA"),
    "distributor": ("分销", "Distributors"),
    "read_only": ("只读", "read-only"),
    "site": ("景区", "Site"),
}

ALARM_NAMES: dict[str, tuple[str, str]] = {
    "double_entry": ("重复入园", "Double entry"),
    "fire_alarm": ("消防告警", "Fire alarm"),
    "tailgate": ("尾随闯入", "Tailgating"),
    "forced": ("强行闯入", "Forced entry"),
    "held_open": ("通道长开", "Held open"),
    "pinch": ("防夹触发", "Pinch guard"),
    "reverse": ("逆向通行", "Wrong way"),
    "state_untrusted": ("闸机数据异常", "Gate state not trusted"),
    "rolled_back": ("下发数据被回放", "Replayed document"),
    "face_bind_conflict": ("年卡人脸绑定冲突", "Pass bound to another face"),
}

KINDS: dict[str, tuple[str, str]] = {
    "tripod": ("三辊闸", "Tripod"),
    "wing": ("翼闸", "Wing"),
    "swing": ("摆闸", "Swing"),
    "handheld": ("手持机", "Handheld"),
    "passage": ("通行", "passage"),
    "use": ("验票", "ticket use"),
    "rollback": ("撤销", "rollback"),
    "denial": ("拒绝", "denial"),
    "alarm": ("告警", "alarm"),
    "heartbeat": ("心跳", "heartbeat"),
    "face_bind": ("人脸绑定", "face binding"),
}

# The annual-pass renewal rules page (/dashboard/passes).
WORDS.update(
    {
        "pass_rules": ("年卡续卡规则", "Annual pass renewal rules"),
        "pass_rules_link": ("年卡续卡规则", "Pass renewal rules"),
        "no_annual_products": ("暂无年卡产品", "No annual pass products"),
        "rule_set": ("已设置", "set"),
        "rule_defaults": ("默认规则", "the defaults"),
        "renew_before_days": ("到期前可续天数", "Renewable from, days before expiry"),
        "grace_days": ("过期宽限天数（续期自原到期日起）", "Grace days after expiry (runs on)"),
        "lapse_limit_days": ("过期后最长可续天数", "Renewable until, days after expiry"),
        "renewal_price": ("续卡价（元，空＝成人价）", "Renewal price (yuan, blank: adult price)"),
        "level_discount": ("会员等级折扣（%）", "Member level discount (%)"),
        "save_rule": ("保存规则", "Save the rule"),
        "level_gold": ("金卡会员", "gold members"),
        "level_silver": ("银卡会员", "silver members"),
        "level_regular": ("普通会员", "regular members"),
        "not_whole": ("须为整数", "must be a whole number"),
        "not_money": ("须为金额（最多两位小数）", "must be an amount in yuan (at most 2 decimals)"),
        "rule_not_allowed": (
            "该账号无权修改续卡规则（需经理）",
            "This account may not change renewal rules (managers do)",
        ),
    }
)

NOTICES: dict[str, tuple[str, str]] = {
    "pass_rule_saved": ("续卡规则已保存", "Renewal rule saved"),
    "alarm_acknowledged": ("该告警已由他人先行确认", "Someone else acknowledged this alarm first"),
    "alarm_note_required": ("请填写处理说明后再确认", "Say what was done before acknowledging"),
    "alarm_note_too_long": ("处理说明过长", "The note is too long"),
    "not_found": ("该告警不存在", "No such alarm"),
}

EXPLAIN = (
    "预测方法：各时段已出票但未到的人数乘以今日到场率（已结束时段的到达÷出票；无已结束时段时按90%），"
    "在该时段入园窗口（开始前15分钟至结束后30分钟）内均匀到达；全天票在17:00前均匀到达。"
    "停留时长＝今日在园人时÷入园人数（出园过半后才计算，此前按2.5小时）。"
    "在园人数按停留时长逐步离园，每15分钟推算一次至午夜。"
    "时段未到名额在入园窗口结束（时段结束后30分钟，闸机此后不再放行）时可释放。",
    "How it is estimated: for each slot, the places booked but not yet arrived, times today's "
    "show rate (arrived ÷ booked over the slots already over; 90% until one is), arrive evenly "
    "over the slot's entry window (15 min before it starts to 30 min after it ends); whole-day "
    "tickets arrive evenly until 17:00. The stay is the visitor-hours inside so far ÷ entries "
    "(once half have left; 2.5 h before that). Those inside leave at that pace; stepped every "
    "15 minutes to midnight. A slot's unclaimed places can be released when its entry window "
    "closes (30 min after the slot ends: the gates refuse its tickets from then on).",
)


class Words:
    """``t("in_park")`` in one language; ``yuan``, ``clock``, ``hm`` for its figures."""

    def __init__(self, lang: str, zone: ZoneInfo) -> None:
        self.lang = lang if lang in LANGS else LANGS[0]
        self.zh = self.lang == "zh-CN"
        self.zone = zone

    def __call__(self, key: str) -> str:
        pair = WORDS.get(key)
        if pair is None:
            return key
        return pair[0] if self.zh else pair[1]

    def pick(self, zh: str, en: str) -> str:
        return zh if self.zh else en

    def alarm(self, name: str) -> str:
        pair = ALARM_NAMES.get(name)
        return (pair[0] if self.zh else pair[1]) if pair else name

    def kind(self, name: str | None) -> str:
        if name is None:
            return "-"
        pair = KINDS.get(name)
        return (pair[0] if self.zh else pair[1]) if pair else name

    def channel(self, name: str) -> str:
        return self(name) if name in WORDS else name

    def notice(self, code: str) -> str:
        pair = NOTICES.get(code)
        return (pair[0] if self.zh else pair[1]) if pair else code

    @property
    def explain(self) -> str:
        return EXPLAIN[0] if self.zh else EXPLAIN[1]

    def clock(self, when: datetime | None) -> str:
        """HH:MM:SS in the site's time zone."""
        return when.astimezone(self.zone).strftime("%H:%M:%S") if when else "-"

    def ago(self, when: datetime | None, now: datetime) -> str:
        if when is None:
            return "-"
        seconds = max(0, int((now - when).total_seconds()))
        if seconds < 120:
            amount = f"{seconds} 秒" if self.zh else f"{seconds} s"
        elif seconds < 7200:
            amount = f"{seconds // 60} 分钟" if self.zh else f"{seconds // 60} min"
        else:
            amount = f"{seconds // 3600} 小时" if self.zh else f"{seconds // 3600} h"
        return f"{amount}{self('ago')}" if self.zh else f"{amount} {self('ago')}"


def yuan(fen: int) -> str:
    """Integer fen as yuan: 123456 -> ¥1,234.56; negative with a minus sign."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def hm(minute: int | None) -> str:
    """Minutes of the site day as HH:MM (24:00 at midnight's end)."""
    if minute is None:
        return "-"
    return f"{minute // 60:02d}:{minute % 60:02d}"


def number(value: int) -> str:
    return f"{value:,}"
