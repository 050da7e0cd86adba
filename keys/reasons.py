"""Reason codes: why a ticket was admitted or refused, in one table for every part of the site.

Every decision the project makes about a credential ends in exactly one of these codes: the
envelope checks in ``keys/`` and the rule checks at the gate and in the cloud's verification
API. They are the contract shown to a visitor on a gate's display, stored in the ledger, sent
up in events and returned to partner systems, so the string values are stable: never rename
one, only add. Each carries the text a visitor or an operator reads, in zh-CN and English.

This module never raises and imports nothing from the project.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class ReasonText(NamedTuple):
    zh: str
    en: str


class Reason(StrEnum):
    """Stable reason codes. ``OK`` is the only one that admits."""

    OK = "ok"

    # --- the text itself (before any parsing) ---
    EMPTY = "empty"
    TOO_LONG = "too_long"
    BAD_PREFIX = "bad_prefix"
    NOT_BASE45 = "not_base45"
    TRUNCATED = "truncated"

    # --- the COSE_Sign1 envelope ---
    BAD_CBOR = "bad_cbor"
    DUPLICATE_KEY = "duplicate_key"
    NOT_COSE_SIGN1 = "not_cose_sign1"
    BAD_HEADER = "bad_header"
    WRONG_ALG = "wrong_alg"
    UNKNOWN_KID = "unknown_kid"
    RETIRED_KID = "retired_kid"
    BAD_SIGNATURE = "bad_signature"

    # --- the claims inside ---
    CLAIMS_MALFORMED = "claims_malformed"
    CLAIM_MISSING = "claim_missing"
    CLAIM_UNKNOWN = "claim_unknown"
    CLAIM_OUT_OF_RANGE = "claim_out_of_range"

    # --- rules applied at the gate (time, place, use) ---
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    SLOT_NOT_STARTED = "slot_not_started"
    SLOT_OVER = "slot_over"
    WRONG_ZONE = "wrong_zone"
    REVOKED = "revoked"
    ALREADY_USED = "already_used"
    DAILY_LIMIT = "daily_limit"
    TOO_SOON = "too_soon"
    NOT_INSIDE = "not_inside"
    HOLDER_MISMATCH = "holder_mismatch"
    FACE_REQUIRED = "face_required"
    ID_REQUIRED = "id_required"
    UNKNOWN_CARD = "unknown_card"
    UNREADABLE_CARD = "unreadable_card"
    UNKNOWN_FACE = "unknown_face"
    LANE_CLOSED = "lane_closed"
    CAPACITY_FULL = "capacity_full"
    STATE_UNTRUSTED = "state_untrusted"

    # --- the face at a face lane (gate_node/face/) ---
    FACE_NONE = "face_none"
    FACE_SEVERAL = "face_several"
    FACE_TOO_SMALL = "face_too_small"
    FACE_NO_MATCH = "face_no_match"
    FACE_BELOW_THRESHOLD = "face_below_threshold"
    FACE_NOT_LIVE = "face_not_live"
    FACE_UNAVAILABLE = "face_unavailable"
    FACE_TIMEOUT = "face_timeout"

    # --- our own fault: an unexpected exception caught at a boundary (a bug, logged there) ---
    INTERNAL_ERROR = "internal_error"

    @property
    def admits(self) -> bool:
        return self is Reason.OK

    @property
    def text(self) -> ReasonText:
        return REASON_TEXT[self]


REASON_TEXT: dict[Reason, ReasonText] = {
    Reason.OK: ReasonText("验票通过，请通行", "Valid, please pass"),
    Reason.EMPTY: ReasonText("未读到票码", "No code was read"),
    Reason.TOO_LONG: ReasonText("不是本景区的票码（过长）", "Not a ticket of this site (too long)"),
    Reason.BAD_PREFIX: ReasonText("不是本景区的票码", "Not a ticket of this site"),
    Reason.NOT_BASE45: ReasonText("票码无法识别", "Ticket code is unreadable"),
    Reason.TRUNCATED: ReasonText("票码不完整，请重新扫描", "Ticket code is incomplete, scan again"),
    Reason.BAD_CBOR: ReasonText("票码数据损坏", "Ticket data is damaged"),
    Reason.DUPLICATE_KEY: ReasonText(
        "票码数据含重复字段，疑似篡改", "Ticket data holds a field twice, possibly tampered"
    ),
    Reason.NOT_COSE_SIGN1: ReasonText("票码格式错误", "Ticket format is wrong"),
    Reason.BAD_HEADER: ReasonText("票码签名头错误", "Ticket signature header is wrong"),
    Reason.WRONG_ALG: ReasonText("票码签名算法不受支持", "Ticket signature algorithm not accepted"),
    Reason.UNKNOWN_KID: ReasonText(
        "签发密钥未知，疑似伪造", "Unknown issuing key, possibly forged"
    ),
    Reason.RETIRED_KID: ReasonText("签发密钥已停用", "Issuing key has been retired"),
    Reason.BAD_SIGNATURE: ReasonText("签名无效，疑似伪造", "Invalid signature, possibly forged"),
    Reason.CLAIMS_MALFORMED: ReasonText("票面信息格式错误", "Ticket contents are malformed"),
    Reason.CLAIM_MISSING: ReasonText("票面信息缺失", "Ticket contents are incomplete"),
    Reason.CLAIM_UNKNOWN: ReasonText("票面含未知字段", "Ticket has an unknown field"),
    Reason.CLAIM_OUT_OF_RANGE: ReasonText("票面信息超出范围", "Ticket field out of range"),
    Reason.NOT_YET_VALID: ReasonText("门票尚未生效", "Ticket is not valid yet"),
    Reason.EXPIRED: ReasonText("门票已过期", "Ticket has expired"),
    Reason.SLOT_NOT_STARTED: ReasonText("未到预约入园时段", "Your time slot has not started"),
    Reason.SLOT_OVER: ReasonText("预约入园时段已过", "Your time slot is over"),
    Reason.WRONG_ZONE: ReasonText("本票不适用于此区域", "Ticket not valid for this area"),
    Reason.REVOKED: ReasonText("门票已退票或改签", "Ticket was refunded or changed"),
    Reason.ALREADY_USED: ReasonText("门票已使用", "Ticket already used"),
    Reason.DAILY_LIMIT: ReasonText("今日入园次数已用完", "No entries left today"),
    Reason.TOO_SOON: ReasonText("入园间隔过短，请稍后再试", "Too soon since the last entry"),
    Reason.NOT_INSIDE: ReasonText("无入园记录，无法出园核验", "No entry on record for this exit"),
    Reason.HOLDER_MISMATCH: ReasonText("证件与实名票不符", "ID does not match the ticket holder"),
    Reason.FACE_REQUIRED: ReasonText("请进行人脸核验", "Face check required"),
    Reason.ID_REQUIRED: ReasonText("实名票，请刷身份证", "Real-name ticket: please swipe your ID"),
    Reason.UNKNOWN_CARD: ReasonText("卡片未登记", "Card is not registered"),
    Reason.UNREADABLE_CARD: ReasonText(
        "证件读取失败，请重新刷卡", "Card misread, please try again"
    ),
    Reason.UNKNOWN_FACE: ReasonText("未识别到已登记人脸", "Face not recognised"),
    Reason.LANE_CLOSED: ReasonText("本通道暂停使用", "This lane is closed"),
    Reason.CAPACITY_FULL: ReasonText("景区已达最大承载量", "The site is at capacity"),
    Reason.STATE_UNTRUSTED: ReasonText(
        "闸机数据被回退或替换，暂停使用，请联系工作人员",
        "Gate data was rolled back or replaced: lane closed, please call staff",
    ),
    Reason.FACE_NONE: ReasonText("未检测到人脸，请正对摄像头", "No face seen: look at the camera"),
    Reason.FACE_SEVERAL: ReasonText(
        "检测到多张人脸，请一人一次核验", "Several faces seen: one person at a time"
    ),
    Reason.FACE_TOO_SMALL: ReasonText("人脸太小，请靠近摄像头", "Face too small: come closer"),
    Reason.FACE_NO_MATCH: ReasonText(
        "未找到已登记的人脸，请到窗口办理", "No enrolled face matches: please see the window"
    ),
    Reason.FACE_BELOW_THRESHOLD: ReasonText(
        "人脸与实名信息不符", "Face does not match the ticket holder"
    ),
    Reason.FACE_NOT_LIVE: ReasonText(
        "活体检测未通过，请眨眼或轻微转头", "Liveness check failed: blink or turn your head"
    ),
    Reason.FACE_UNAVAILABLE: ReasonText(
        "本闸机无法进行人脸核验，请到人工通道", "Face check not available here: use a staffed lane"
    ),
    Reason.FACE_TIMEOUT: ReasonText(
        "人脸核验超时，请重新扫码", "Face check took too long: scan again"
    ),
    Reason.INTERNAL_ERROR: ReasonText(
        "系统内部错误，请重新扫描或联系工作人员", "Internal error: scan again or call staff"
    ),
}
