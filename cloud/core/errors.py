"""Refusals the API returns: one table of stable codes, each with its HTTP status and zh-CN/en text.

Never: decide a status or write a message at the place that refuses. A service raises
``Problem(Code.SOLD_OUT, inventory_id=7)``; the status and both texts come from ``TEXT``
below, the only place they are written (as ``keys/reasons.py`` is for the gate). The API turns
the problem into RFC 9457 problem JSON::

    {"type": "about:blank", "status": 409, "code": "sold_out", "title": "...",
     "message_en": "...", "message_zh": "...", "inventory_id": 7}

Details (keyword arguments) go into the body beside the messages and fill the ``{fields}`` of
the texts; a detail that is a ``Thing`` reads in each language (``what=Thing.ORDER`` gives
"order not found" and "订单不存在"). Code strings are a contract with clients: never rename one,
only add. A 5xx is a bug or a broken setup; anything a client can cause is a 4xx.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple


class Code(StrEnum):
    """Stable error codes of the cloud API, grouped by the part of it that refuses."""

    # --- the request itself (answered by the app, not a service) ---
    INVALID_REQUEST = "invalid_request"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    HTTP_ERROR = "http_error"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INTERNAL_ERROR = "internal_error"

    # --- who is asking ---
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    BAD_CREDENTIALS = "bad_credentials"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    WEAK_PASSWORD = "weak_password"
    GUESSABLE_PASSWORD = "guessable_password"
    BAD_USERNAME = "bad_username"
    BAD_ROLE = "bad_role"
    DUPLICATE_USER = "duplicate_user"
    BAD_DEVICE_KIND = "bad_device_kind"
    BAD_NODE_ID = "bad_node_id"
    DUPLICATE_DEVICE = "duplicate_device"
    UNKNOWN_SCOPE = "unknown_scope"
    PASSWORD_CHANGED = "password_changed"

    # --- idempotent writes ---
    IDEMPOTENCY_KEY_REQUIRED = "idempotency_key_required"
    BAD_IDEMPOTENCY_KEY = "bad_idempotency_key"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"

    # --- sites, catalogue and inventory set-up ---
    BAD_SITE_CODE = "bad_site_code"
    BAD_TIMEZONE = "bad_timezone"
    DUPLICATE_SITE = "duplicate_site"
    DUPLICATE_ZONE = "duplicate_zone"
    UNKNOWN_ZONE = "unknown_zone"
    DUPLICATE_CODE = "duplicate_code"
    PRODUCT_NOT_ISSUABLE = "product_not_issuable"
    BAD_SLOT = "bad_slot"
    BAD_INVENTORY_DAY = "bad_inventory_day"
    DUPLICATE_INVENTORY = "duplicate_inventory"

    # --- issuer keys ---
    NO_ACTIVE_ISSUER = "no_active_issuer"
    UNKNOWN_ISSUER_KEY = "unknown_issuer_key"
    ACTIVE_KEY = "active_key"

    # --- orders and places ---
    BAD_CHANNEL = "bad_channel"
    EMPTY_ORDER = "empty_order"
    TOO_MANY_LINES = "too_many_lines"
    BAD_QUANTITY = "bad_quantity"
    NO_PRICE = "no_price"
    NOT_ON_SALE = "not_on_sale"
    DAY_PAST = "day_past"
    SLOT_OVER = "slot_over"
    DAY_CLOSED = "day_closed"
    SOLD_OUT = "sold_out"
    INVENTORY_MISMATCH = "inventory_mismatch"
    CLIENT_HOLD_LIMIT = "client_hold_limit"
    HOLDERS_REQUIRED = "holders_required"
    BAD_ID_NUMBER = "bad_id_number"
    DUPLICATE_HOLDER = "duplicate_holder"
    REAL_NAME_BATCH = "real_name_batch"
    ANNUAL_BATCH = "annual_batch"

    # --- payments and payment platforms ---
    CHANNEL_UNAVAILABLE = "channel_unavailable"
    CHANNEL_ERROR = "channel_error"
    NOT_PAYABLE = "not_payable"
    NOT_PAID = "not_paid"
    ALREADY_PAID = "already_paid"
    PAYMENT_IN_PROGRESS = "payment_in_progress"
    PLACES_GONE = "places_gone"
    AMOUNT_MISMATCH = "amount_mismatch"
    BAD_NOTIFICATION = "bad_notification"
    BAD_NOTIFICATION_SIGNATURE = "bad_notification_signature"
    STALE_NOTIFICATION = "stale_notification"
    WRONG_MERCHANT = "wrong_merchant"
    NO_NOTIFICATIONS = "no_notifications"

    # --- cash and the till ---
    BAD_AMOUNT = "bad_amount"
    NO_SHIFT = "no_shift"
    SHIFT_OPEN = "shift_open"
    SHIFT_CLOSED = "shift_closed"
    TILL_SHORT = "till_short"
    SLOT_MISMATCH = "slot_mismatch"
    NOT_ENOUGH_CASH = "not_enough_cash"

    # --- refunds and changes ---
    BAD_TICKET_NUMBER = "bad_ticket_number"
    NOTHING_TO_REFUND = "nothing_to_refund"
    TICKET_NOT_VALID = "ticket_not_valid"
    TICKET_USED = "ticket_used"
    REFUND_WINDOW_CLOSED = "refund_window_closed"
    CHANGE_WINDOW_CLOSED = "change_window_closed"
    REFUND_TOO_LARGE = "refund_too_large"
    REFUND_AT_WINDOW = "refund_at_window"
    NOT_CHANGEABLE = "not_changeable"
    BAD_TARGET = "bad_target"
    PRICE_DIFFERS = "price_differs"
    # --- provisioning (issue 14: enrolment tokens, device registry, broker logins) ---
    BAD_ENROLMENT_TOKEN = "bad_enrolment_token"
    ENROLMENT_TOKEN_EXPIRED = "enrolment_token_expired"
    ENROLMENT_TOKEN_USED = "enrolment_token_used"
    TOO_MANY_TOKENS = "too_many_tokens"
    BAD_NODE_KEY = "bad_node_key"
    UNKNOWN_SITE = "unknown_site"
    BROKER_LOGIN_FAILED = "broker_login_failed"
    NOT_ENROLLED = "not_enrolled"
    BAD_NODE_SIGNATURE = "bad_node_signature"
    BAD_DIRECTION = "bad_direction"
    BAD_GATE_SETTING = "bad_gate_setting"

    # --- card index (ID and RFID cards at the gates) ---
    NOT_ANNUAL_PASS = "not_annual_pass"
    BAD_CARD_UID = "bad_card_uid"
    CARD_ALREADY_BOUND = "card_already_bound"

    # --- face enrolment (services/face_enrolment.py) ---
    FACE_ENGINE_UNAVAILABLE = "face_engine_unavailable"
    FACE_PHOTO_UNREADABLE = "face_photo_unreadable"
    FACE_PHOTO_REFUSED = "face_photo_refused"
    FACE_NOT_REAL_NAME = "face_not_real_name"
    FACE_NOT_ENROLLED = "face_not_enrolled"

    # --- staff operations: reports, search, users, calendar, audit (issue 19) ---
    BAD_REPORT = "bad_report"
    BAD_RANGE = "bad_range"
    BAD_SEARCH = "bad_search"
    LAST_MANAGER = "last_manager"
    SECOND_FACTOR_REQUIRED = "second_factor_required"
    BAD_SECOND_FACTOR = "bad_second_factor"
    SECOND_FACTOR_NOT_ALLOWED = "second_factor_not_allowed"
    USER_CHANGED = "user_changed"

    # --- dashboard ---
    ALARM_ACKNOWLEDGED = "alarm_acknowledged"
    ALARM_NOTE_REQUIRED = "alarm_note_required"
    ALARM_NOTE_TOO_LONG = "alarm_note_too_long"
    CSRF_FAILED = "csrf_failed"

    # --- reconciliation and channels (issue 17) ---
    BAD_STATEMENT = "bad_statement"
    STATEMENT_IMPORTED = "statement_imported"
    BOOKS_CLOSED = "books_closed"
    OPEN_MISMATCHES = "open_mismatches"
    ALREADY_RESOLVED = "already_resolved"
    NOTE_REQUIRED = "note_required"
    NO_STATEMENT = "no_statement"
    DUPLICATE_CHANNEL = "duplicate_channel"
    BAD_TERMS = "bad_terms"
    CREDIT_EXCEEDED = "credit_exceeded"
    BAD_OTA_CODE = "bad_ota_code"
    DUPLICATE_OTA_CODE = "duplicate_ota_code"
    OTA_CODES_COUNT = "ota_codes_count"
    STATEMENT_CONFIRMED = "statement_confirmed"
    BAD_CONTACT = "bad_contact"
    CODE_TOO_SOON = "code_too_soon"
    BAD_MEMBER_CODE = "bad_member_code"
    MEMBER_LIMIT = "member_limit"
    OFFER_NOT_OPEN = "offer_not_open"
    OFFER_SOLD_OUT = "offer_sold_out"
    COUPON_NOT_APPLICABLE = "coupon_not_applicable"
    NOT_ENOUGH_POINTS = "not_enough_points"
    DUPLICATE_OFFER = "duplicate_offer"
    BAD_OFFER = "bad_offer"
    COUPON_AMOUNT_OR_PERCENT = "coupon_amount_or_percent"
    POINTS_BUSY = "points_busy"  # --- points on refunds, package revenue shares (issue 17) ---
    BAD_SHARES = "bad_shares"
    NOT_A_PACKAGE = "not_a_package"
    DUPLICATE_ATTRACTION = "duplicate_attraction"
    RENEWAL_OUTSIDE_WINDOW = "renewal_outside_window"  # --- annual passes (issue 17) ---
    RENEWAL_EXPIRED = "renewal_expired"
    PASS_NOT_ACTIVE = "pass_not_active"
    PASS_RENEWED = "pass_renewed"
    PASS_RENEWED_SINCE = "pass_renewed_since"
    NOT_A_MEMBER = "not_a_member"
    BAD_PASS_RULE = "bad_pass_rule"

    @property
    def text(self) -> Text:
        return TEXT[self]


class Text(NamedTuple):
    """The HTTP status of a code and its texts; ``{fields}`` are filled from the details."""

    status: int
    en: str
    zh: str


TEXT: dict[Code, Text] = {
    Code.INVALID_REQUEST: Text(422, "{where}: {problem}", "请求参数有误：{where}"),
    Code.NOT_FOUND: Text(404, "{what} not found", "{what}不存在"),
    Code.METHOD_NOT_ALLOWED: Text(405, "Method not allowed here", "该地址不支持此请求方法"),
    # Only the framework raises this, with a status of its own (see ``framework_problem``).
    Code.PAYLOAD_TOO_LARGE: Text(
        413, "The request body is larger than {limit} bytes", "请求内容超过{limit}字节"
    ),
    Code.HTTP_ERROR: Text(400, "The request cannot be handled: {detail}", "请求无法处理"),
    Code.INTERNAL_ERROR: Text(500, "Internal error (logged)", "系统内部错误（已记录）"),
    Code.UNAUTHENTICATED: Text(
        401,
        "Sign in first: the session or API key is missing, expired or not valid",
        "请先登录：登录状态或接口密钥缺失、已失效或无效",
    ),
    Code.FORBIDDEN: Text(403, "Not allowed: needs {needs}", "无权限执行此操作"),
    Code.BAD_CREDENTIALS: Text(401, "Wrong username or password", "用户名或密码错误"),
    Code.TOO_MANY_ATTEMPTS: Text(
        429,
        "Too many failed sign-ins; try again in {retry_after} s",
        "登录失败次数过多，请{retry_after}秒后再试",
    ),
    Code.BAD_ROLE: Text(422, "The role must be one of {roles}", "角色无效，可选：{roles}"),
    Code.DUPLICATE_USER: Text(409, "User {username} exists", "用户{username}已存在"),
    Code.BAD_NODE_ID: Text(
        422,
        "Site and node must be 1-32 letters, digits, - or _ (a node not cloud or site-...)",
        "景区或设备编号无效（1-32位字母、数字、-或_，设备不能为cloud或site-开头）",
    ),
    Code.BAD_DEVICE_KIND: Text(
        422, "The gate kind must be one of {kinds}", "设备类型无效，可选：{kinds}"
    ),
    Code.DUPLICATE_DEVICE: Text(
        409, "Node {node} of site {site} is already registered", "设备{site}/{node}已登记"
    ),
    Code.UNKNOWN_SCOPE: Text(
        422,
        "unknown scope(s): {unknown}; known: {known}",
        "未知权限范围：{unknown}（可选：{known}）",
    ),
    Code.GUESSABLE_PASSWORD: Text(
        422,
        "That password is a placeholder, a repeat or a keyboard run: use several unrelated words",
        "密码过于简单（默认口令、重复或连续字符），请使用几个无关的词",
    ),
    Code.BAD_USERNAME: Text(
        422,
        "A username is 1-64 visible characters, with no spaces",
        "用户名须为1-64个可见字符，不含空格",
    ),
    Code.WEAK_PASSWORD: Text(
        422, "A password needs at least {least} characters", "密码至少需要{least}个字符"
    ),
    Code.PASSWORD_CHANGED: Text(409, "The password was changed meanwhile", "密码已被他人修改"),
    Code.IDEMPOTENCY_KEY_REQUIRED: Text(
        428, "Send an Idempotency-Key header with every order", "下单须携带幂等键"
    ),
    Code.BAD_IDEMPOTENCY_KEY: Text(
        422, "Idempotency-Key must be 8-80 characters", "幂等键长度须为8-80"
    ),
    Code.IDEMPOTENCY_KEY_REUSED: Text(
        409, "This Idempotency-Key was used for a different request", "该幂等键已用于其他请求"
    ),
    Code.BAD_SITE_CODE: Text(
        422, "A site code is 1-32 letters, digits, - or _", "景区编码须为1-32位字母、数字、-或_"
    ),
    Code.BAD_TIMEZONE: Text(422, "Unknown time zone {timezone}", "时区{timezone}无效"),
    Code.DUPLICATE_SITE: Text(409, "Site {site} exists", "景区{site}已存在"),
    Code.DUPLICATE_ZONE: Text(409, "Zone {zone} exists", "园区{zone}已存在"),
    Code.UNKNOWN_ZONE: Text(422, "Site {site} has no zone {zone}", "景区没有园区{zone}"),
    Code.DUPLICATE_CODE: Text(
        409, "Product code {product_code} exists", "产品编码{product_code}已存在"
    ),
    Code.PRODUCT_NOT_ISSUABLE: Text(
        422,
        "No ticket could carry this product: {reason}",
        "票面无法表示该产品设置（超出门票允许的范围）",
    ),
    Code.BAD_SLOT: Text(
        422, "slot_start and slot_end go together, start < end", "时段起止须成对且开始早于结束"
    ),
    Code.BAD_INVENTORY_DAY: Text(
        422,
        "The day and the validity after it must lie between {first} and {last}",
        "日期及其有效期须在{first}至{last}之间",
    ),
    Code.DUPLICATE_INVENTORY: Text(409, "That day and slot already exist", "该日期时段库存已存在"),
    Code.NO_ACTIVE_ISSUER: Text(
        500,
        "Exactly one issuer key must be active in {registry} (active: {active})",
        "必须有且仅有一个签发密钥处于启用状态",
    ),
    Code.UNKNOWN_ISSUER_KEY: Text(404, "No issuer key {kid}", "签发密钥{kid}不存在"),
    Code.ACTIVE_KEY: Text(
        409, "Rotate first: the active key cannot be retired", "请先轮换：启用中的密钥不能停用"
    ),
    Code.BAD_CHANNEL: Text(422, "channel must be one of {channels}", "销售渠道无效"),
    Code.EMPTY_ORDER: Text(422, "An order needs at least one line", "订单不能为空"),
    Code.TOO_MANY_LINES: Text(422, "An order has at most {most} lines", "每个订单最多{most}行"),
    Code.BAD_QUANTITY: Text(
        422,
        "Quantity must be {least} to {most}, all lines together",
        "数量须为{least}-{most}（各行合计）",
    ),
    Code.NO_PRICE: Text(422, "No {price_type} price for this product", "该产品无此票种价格"),
    Code.NOT_ON_SALE: Text(409, "This product is not on sale here", "该产品不在售"),
    Code.DAY_PAST: Text(409, "That day is over", "所选日期已过"),
    Code.SLOT_OVER: Text(409, "That time slot is over", "所选时段已结束"),
    Code.DAY_CLOSED: Text(409, "The site is closed that day", "该日闭园"),
    Code.SOLD_OUT: Text(
        409, "Not enough places left for this day or time slot", "该日期或时段余票不足"
    ),
    Code.INVENTORY_MISMATCH: Text(
        409, "These places were already given back; nothing was changed", "名额已释放，未做任何更改"
    ),
    Code.CLIENT_HOLD_LIMIT: Text(
        429,
        "Unpaid orders from this address already hold {held} places (at most {limit}): "
        "pay for them or let them expire",
        "该地址未支付订单已占{held}张（上限{limit}张），请先支付或等待释放",
    ),
    Code.HOLDERS_REQUIRED: Text(
        422,
        "A real-name product needs one ID number per ticket, one ticket each",
        "实名制产品须每张票登记一个身份证号",
    ),
    Code.BAD_ID_NUMBER: Text(422, "An ID number is not valid (check character)", "身份证号码无效"),
    Code.DUPLICATE_HOLDER: Text(
        409,
        "This ID already holds a ticket for that day (one person, one ticket)",
        "该身份证当日已购票（一人一票）",
    ),
    Code.REAL_NAME_BATCH: Text(
        422, "Real-name tickets need one ID each: not in batches", "实名票不能批量出票"
    ),
    Code.ANNUAL_BATCH: Text(
        422,
        "Annual passes are sold one by one (each is a pass of its own): not in batches",
        "年卡需逐张出售（每张为独立年卡），不能批量出票",
    ),
    Code.CHANNEL_UNAVAILABLE: Text(
        422, "Payment channel {channel} is not configured here", "该支付渠道未开通"
    ),
    Code.CHANNEL_ERROR: Text(502, "{channel} refused the {action}", "{channel}未受理（{action}）"),
    Code.NOT_PAYABLE: Text(
        409, "The order is {order_status}: it cannot be paid", "订单当前不可支付"
    ),
    Code.NOT_PAID: Text(409, "No payment was made for this order", "该订单未支付"),
    Code.ALREADY_PAID: Text(
        409,
        "This order is already {order_status}: do not take the money",
        "该订单已支付或已处理，请勿收款",
    ),
    Code.PAYMENT_IN_PROGRESS: Text(409, "This payment is being applied", "支付处理中"),
    Code.PLACES_GONE: Text(
        409,
        "The hold expired and its places are sold: do not take the money",
        "订单已过期且余票已售出，请勿收款",
    ),
    Code.AMOUNT_MISMATCH: Text(
        400, "Paid amount differs from the order total", "支付金额与订单金额不符"
    ),
    Code.BAD_NOTIFICATION: Text(400, "Payment notification is malformed", "支付通知格式错误"),
    Code.BAD_NOTIFICATION_SIGNATURE: Text(
        400,
        "Payment notification signature or encryption is not valid",
        "支付通知验签或解密失败",
    ),
    Code.STALE_NOTIFICATION: Text(
        400, "Notification timestamp is too old or new", "支付通知时间戳无效"
    ),
    Code.WRONG_MERCHANT: Text(
        400, "Notification is for another merchant or app", "通知不属于本商户或应用"
    ),
    Code.NO_NOTIFICATIONS: Text(400, "Cash has no platform notifications", "现金支付无平台通知"),
    Code.BAD_AMOUNT: Text(
        422, "The amount {field} (fen) must be {allowed}", "金额{field}（分）须为{allowed}"
    ),
    Code.NO_SHIFT: Text(409, "Open a shift before taking cash", "请先开班"),
    Code.SHIFT_OPEN: Text(409, "This cashier already has an open shift", "已有未结班次"),
    Code.SHIFT_CLOSED: Text(409, "This shift is already closed", "班次已结束"),
    Code.SLOT_MISMATCH: Text(
        422,
        "A {kind} product sells places per day, not per time slot",
        "非分时票按日设置库存，不能设置时段",
    ),
    Code.TILL_SHORT: Text(
        409,
        "This till holds too little cash to pay out {refund_yuan} yuan: refund at a till that does",
        "本钱箱现金不足，无法退还{refund_yuan}元，请到现金充足的窗口退款",
    ),
    Code.NOT_ENOUGH_CASH: Text(422, "Cash tendered is less than the total", "收款金额不足"),
    Code.BAD_TICKET_NUMBER: Text(422, "A ticket number is hexadecimal", "票号格式错误"),
    Code.NOTHING_TO_REFUND: Text(409, "No valid tickets to refund", "没有可退的门票"),
    Code.TICKET_NOT_VALID: Text(
        409, "Ticket {ticket} was already refunded or changed", "门票{ticket}已退票或改签"
    ),
    Code.TICKET_USED: Text(
        409, "Ticket {ticket} has been used at a gate", "门票{ticket}已检票入园"
    ),
    Code.REFUND_WINDOW_CLOSED: Text(
        409, "Refunds close {hours} h before the day", "退票须在游玩日前{hours}小时办理"
    ),
    Code.CHANGE_WINDOW_CLOSED: Text(
        409, "Changes close {hours} h before the day", "改签须在游玩日前{hours}小时办理"
    ),
    Code.REFUND_TOO_LARGE: Text(409, "Refunds would exceed the payment", "退款超过实付"),
    Code.REFUND_AT_WINDOW: Text(
        409, "Cash payments are refunded at the window", "现金支付请到售票窗口退款"
    ),
    Code.NOT_CHANGEABLE: Text(409, "This product cannot be changed", "该产品不可改签"),
    Code.BAD_TARGET: Text(
        422, "Change to a day or slot of the same product", "只能改签到同一产品的其他日期或时段"
    ),
    Code.PRICE_DIFFERS: Text(
        409,
        "That day has another price (peak day): refund and buy again",
        "目标日期票价不同（高峰日），请退票后重新购买",
    ),
    # --- provisioning (issue 14: enrolment tokens, device registry, broker logins) ---
    Code.BAD_ENROLMENT_TOKEN: Text(
        401, "This enrolment token is not valid: ask for a new one", "安装令牌无效，请重新申请"
    ),
    Code.ENROLMENT_TOKEN_EXPIRED: Text(
        410, "This enrolment token has expired: ask for a new one", "安装令牌已过期，请重新申请"
    ),
    Code.ENROLMENT_TOKEN_USED: Text(
        409,
        "This enrolment token was used already: ask for a new one",
        "安装令牌已被使用，请重新申请",
    ),
    Code.TOO_MANY_TOKENS: Text(
        429,
        "Too many open enrolment tokens for this site (at most {most}): use or let some expire",
        "该景区未使用的安装令牌过多（最多{most}个），请先使用或等待过期",
    ),
    Code.BAD_NODE_KEY: Text(
        422, "The node's public key must be 32 bytes of Ed25519", "节点公钥须为32字节Ed25519公钥"
    ),
    Code.UNKNOWN_SITE: Text(404, "No site {site}", "没有景区{site}"),
    Code.BAD_GATE_SETTING: Text(
        422,
        "Gate setting {field} must be: {allowed} (the gates would refuse anything else)",
        "闸机参数{field}无效，允许：{allowed}（闸机不会接受其他值）",
    ),
    Code.BROKER_LOGIN_FAILED: Text(
        503,
        "The message broker did not accept the node's login ({reason}); try again",
        "消息服务未能创建节点账号（{reason}），请重试",
    ),
    Code.NOT_ENROLLED: Text(404, "Node {site}/{node} is not enrolled", "节点{site}/{node}未登记"),
    Code.BAD_NODE_SIGNATURE: Text(
        403, "Not signed by the node's enrolled identity key", "请求未由该节点登记的身份密钥签名"
    ),
    Code.BAD_DIRECTION: Text(422, "A lane's direction is in or out", "通道方向须为 in 或 out"),
    # --- card index (ID and RFID cards at the gates) ---
    Code.NOT_ANNUAL_PASS: Text(
        409,
        "Only a valid annual pass can have an RFID card: ticket {ticket}",
        "只有有效的年卡可以绑定RFID卡：门票{ticket}",
    ),
    Code.BAD_CARD_UID: Text(
        422, "A card UID is 4-32 hexadecimal digits", "卡号须为4至32位十六进制数字"
    ),
    Code.CARD_ALREADY_BOUND: Text(
        409, "This card is already bound to ticket {ticket}", "该卡已绑定门票{ticket}"
    ),
    # --- face enrolment ---
    Code.FACE_ENGINE_UNAVAILABLE: Text(
        409,
        "Face enrolment is not installed on this server (the face extra): "
        "enrol at a window that has it",
        "本服务器未安装人脸登记功能，请到支持人脸登记的窗口办理",
    ),
    Code.FACE_PHOTO_UNREADABLE: Text(
        422, "The photo is not a JPEG or PNG image we can read", "照片无法读取，请上传JPEG或PNG图片"
    ),
    Code.FACE_PHOTO_REFUSED: Text(
        422, "The photo cannot be enrolled: {reason_en}", "照片不能用于登记：{reason_zh}"
    ),
    Code.FACE_NOT_REAL_NAME: Text(
        409,
        "Only a valid real-name ticket can have a face enrolled",
        "只有有效的实名票可以登记人脸",
    ),
    Code.FACE_NOT_ENROLLED: Text(404, "No face is enrolled for this ticket", "该门票未登记人脸"),
    # --- staff operations: reports, search, users, calendar, audit (issue 19) ---
    Code.BAD_REPORT: Text(
        422,
        "No report {report} by {by}; reports: {reports}",
        "没有按{by}的{report}报表；可选：{reports}",
    ),
    Code.BAD_RANGE: Text(
        422,
        "The range must run forwards and span at most {days} days",
        "日期范围须从早到晚，且不超过{days}天",
    ),
    Code.BAD_SEARCH: Text(
        422,
        "Search by order number, ticket number, phone or ID number",
        "请按订单号、票号、手机号或证件号查询",
    ),
    Code.LAST_MANAGER: Text(
        409, "The last active manager cannot be disabled or demoted", "不能停用或降级最后一位管理员"
    ),
    Code.SECOND_FACTOR_REQUIRED: Text(
        401, "This account needs its one-time code (totp)", "此账号需要动态验证码"
    ),
    Code.BAD_SECOND_FACTOR: Text(
        401, "The one-time or recovery code is wrong", "动态验证码或恢复码错误"
    ),
    Code.SECOND_FACTOR_NOT_ALLOWED: Text(
        422,
        "A second factor is for manager and finance accounts",
        "仅管理员和财务账号可启用动态验证码",
    ),
    Code.USER_CHANGED: Text(
        409, "The account changed meanwhile: read it again", "账号已被他人修改，请刷新后重试"
    ),
    # --- dashboard ---
    Code.ALARM_ACKNOWLEDGED: Text(
        409, "This alarm was already acknowledged by {by}", "该告警已由{by}确认"
    ),
    Code.ALARM_NOTE_REQUIRED: Text(422, "Say what was done: a note is required", "请填写处理说明"),
    Code.ALARM_NOTE_TOO_LONG: Text(
        422, "The note is longer than {limit} characters", "处理说明超过{limit}个字符"
    ),
    Code.CSRF_FAILED: Text(
        403,
        "The form is out of date or came from another site: reload the page and try again",
        "表单已过期或来自其他网站：请刷新页面后重试",
    ),
    # --- reconciliation and channels (issue 17) ---
    Code.BAD_STATEMENT: Text(
        422,
        "Statement file unreadable at line {line}: {problem}",
        "对账单第{line}行无法读取：{problem}",
    ),
    Code.STATEMENT_IMPORTED: Text(
        409,
        "A statement of {channel} for {day} was imported already",
        "{channel}{day}的对账单已导入",
    ),
    Code.BOOKS_CLOSED: Text(
        409, "Reconciliation of {channel} for {day} is closed", "{channel}{day}的对账已关账"
    ),
    Code.OPEN_MISMATCHES: Text(
        409,
        "{count} mismatches of {channel} for {day} are not resolved yet",
        "{channel}{day}尚有{count}条差异未处理",
    ),
    Code.ALREADY_RESOLVED: Text(409, "This mismatch is resolved already", "该差异已处理"),
    Code.NOTE_REQUIRED: Text(422, "Say how it was resolved (a note)", "请填写处理说明"),
    Code.NO_STATEMENT: Text(
        409, "No statement of {channel} for {day} was imported", "{channel}{day}尚未导入对账单"
    ),
    Code.DUPLICATE_CHANNEL: Text(409, "Channel {account} exists already", "渠道{account}已存在"),
    Code.BAD_TERMS: Text(
        422,
        "Give either a net price or a commission rate of 0-100 %",
        "请设置结算价或0-100%的佣金比例（二选一）",
    ),
    Code.CREDIT_EXCEEDED: Text(
        409,
        "The channel's balance and credit do not cover {needed_fen} fen",
        "渠道余额与授信额度不足（需{needed_fen}分）",
    ),
    Code.BAD_OTA_CODE: Text(
        422,
        "An OTA code is 4-200 printable characters and does not start with J1",
        "OTA票码须为4至200个可打印字符，且不能以J1开头",
    ),
    Code.DUPLICATE_OTA_CODE: Text(409, "This OTA code is registered already", "该OTA票码已登记"),
    Code.OTA_CODES_COUNT: Text(
        422,
        "Give one OTA code per ticket ({tickets}), no group tickets",
        "每张门票需一个OTA票码（共{tickets}张），不支持团体票",
    ),
    Code.STATEMENT_CONFIRMED: Text(
        409, "That settlement statement is confirmed already", "该结算单已确认"
    ),
    Code.BAD_CONTACT: Text(
        422, "Give a mainland mobile number or an email address", "请填写手机号码或电子邮箱"
    ),
    Code.CODE_TOO_SOON: Text(
        429, "A code was sent less than {seconds} s ago", "验证码发送过于频繁，请{seconds}秒后再试"
    ),
    Code.BAD_MEMBER_CODE: Text(
        401,
        "The verification code is wrong, expired or used up: ask for a new one",
        "验证码错误、已过期或尝试次数过多，请重新获取",
    ),
    Code.MEMBER_LIMIT: Text(
        409,
        "You have reached the limit of {limit} for this offer",
        "已达到本活动每人限购{limit}的上限",
    ),
    Code.OFFER_NOT_OPEN: Text(409, "This offer is not open now", "活动未开始或已结束"),
    Code.OFFER_SOLD_OUT: Text(409, "This offer is sold out", "活动名额已抢完"),
    Code.COUPON_NOT_APPLICABLE: Text(
        409, "This coupon does not apply to this order", "该优惠券不适用于本订单"
    ),
    Code.NOT_ENOUGH_POINTS: Text(409, "Not enough points ({points})", "积分不足（现有{points}）"),
    Code.DUPLICATE_OFFER: Text(409, "Coupon {coupon} exists already", "优惠券{coupon}已存在"),
    Code.BAD_OFFER: Text(
        422, "Offer {field} must be: {allowed}", "优惠设置{field}无效，允许：{allowed}"
    ),
    Code.COUPON_AMOUNT_OR_PERCENT: Text(
        422,
        "A coupon takes either an amount (amount_fen) or a percentage (percent) off, one of them",
        "优惠券须设置减免金额（amount_fen）或折扣百分比（percent），且只能设置其一",
    ),
    Code.POINTS_BUSY: Text(
        409, "The member's points kept changing; try again", "会员积分正在变动，请重试"
    ),
    Code.BAD_SHARES: Text(
        422,
        "The partners' shares ({shares_fen} fen) exceed the {price_type} price ({price_fen} fen)",
        "合作景点分账合计（{shares_fen}分）超过{price_type}票价（{price_fen}分）",
    ),
    Code.NOT_A_PACKAGE: Text(
        422, "Product {product} is not a package ticket", "产品{product}不是套票"
    ),
    Code.DUPLICATE_ATTRACTION: Text(
        409, "Partner attraction {attraction} exists already", "合作景点{attraction}已存在"
    ),
    Code.RENEWAL_OUTSIDE_WINDOW: Text(
        409,
        "This pass can be renewed from {opens} until {closes} (it expires on {valid_until})",
        "该年卡可续卡时间为{opens}至{closes}（有效期至{valid_until}）",
    ),
    Code.RENEWAL_EXPIRED: Text(
        409,
        "Renewal order {order_no} has expired and would no longer start on {valid_from}: "
        "please ask for the renewal again",
        "续卡订单{order_no}已过期，续卡日期（自{valid_from}起）已不再适用，请重新申请续卡",
    ),
    Code.BAD_PASS_RULE: Text(
        422, "Renewal rule {field} must be: {allowed}", "年卡续卡规则{field}无效，允许：{allowed}"
    ),
    Code.PASS_NOT_ACTIVE: Text(  # a pass is active or refunded (models/annual_passes.py)
        409,
        "Annual pass {pass_id} is refunded: it cannot be renewed",
        "年卡{pass_id}已退款，不能续卡",
    ),
    Code.PASS_RENEWED: Text(
        409,
        "The annual pass was renewed or changed meanwhile: look at it again and ask anew",
        "该年卡已被续卡或变更，请刷新后重新办理",
    ),
    Code.PASS_RENEWED_SINCE: Text(
        409,
        "Annual pass {pass_id} was renewed after ticket {ticket}: refund the later renewal first",
        "年卡{pass_id}的门票{ticket}之后已续卡，请先退最近一次续卡",
    ),
    Code.NOT_A_MEMBER: Text(
        404, "No member has this phone number or email", "该手机号或邮箱不是会员"
    ),
}


class Thing(StrEnum):
    """What a detail names, in both languages (``what=Thing.ORDER`` in a ``not_found``)."""

    ORDER = "order"
    BATCH_ORDER = "batch order"
    TICKET = "ticket"
    PRODUCT = "product"
    INVENTORY = "inventory"
    SITE = "site"
    USER = "user"
    PAYMENT_CHANNEL = "payment channel"
    PAGE = "page"
    WECHAT_PAY = "WeChat Pay"
    ALIPAY = "Alipay"
    SANDBOX = "Sandbox"
    ORDER_REQUEST = "order request"
    REFUND = "refund"
    ALARM = "alarm"
    MISMATCH = "reconciliation mismatch"  # --- reconciliation and channels (issue 17) ---
    STATEMENT = "statement download"
    CHANNEL_ACCOUNT = "channel account"
    SETTLEMENT = "settlement statement"
    MEMBER = "member"
    OFFER = "offer"
    ATTRACTION = "partner attraction"
    ANNUAL_PASS = "annual pass"

    @property
    def zh(self) -> str:
        return THING_ZH[self]


THING_ZH: dict[Thing, str] = {
    Thing.ORDER: "订单",
    Thing.BATCH_ORDER: "批量订单",
    Thing.TICKET: "门票",
    Thing.PRODUCT: "产品",
    Thing.INVENTORY: "场次库存",
    Thing.SITE: "景区",
    Thing.USER: "用户",
    Thing.PAYMENT_CHANNEL: "支付渠道",
    Thing.PAGE: "页面",
    Thing.WECHAT_PAY: "微信支付",
    Thing.ALIPAY: "支付宝",
    Thing.SANDBOX: "沙箱",
    Thing.ORDER_REQUEST: "下单",
    Thing.REFUND: "退款",
    Thing.ALARM: "告警",
    Thing.MISMATCH: "对账差异",  # --- reconciliation and channels (issue 17) ---
    Thing.STATEMENT: "下载对账单",
    Thing.CHANNEL_ACCOUNT: "渠道账户",
    Thing.SETTLEMENT: "结算单",
    Thing.MEMBER: "会员",
    Thing.OFFER: "活动",
    Thing.ATTRACTION: "合作景点",
    Thing.ANNUAL_PASS: "年卡",
}


class Problem(Exception):
    """A refusal by code; ``details`` go into the body and fill the texts, ``headers`` (e.g.
    Retry-After) go onto the answer."""

    def __init__(self, code: Code, headers: dict[str, str] | None = None, **details: Any) -> None:
        text = TEXT[code]
        self.code = code
        self.status = text.status
        self.en = text.en.format_map({k: str(v) for k, v in details.items()})
        self.zh = text.zh.format_map(
            {k: v.zh if isinstance(v, Thing) else str(v) for k, v in details.items()}
        )
        self.headers = headers or {}
        self.extra = details
        super().__init__(f"{code}: {self.en}")

    def body(self) -> dict[str, Any]:
        return {
            "type": "about:blank",
            "status": self.status,
            "code": str(self.code),
            "title": self.en,
            "message_en": self.en,
            "message_zh": self.zh,
            **{k: str(v) if isinstance(v, Thing) else v for k, v in self.extra.items()},
        }


def not_found(what: Thing, **details: Any) -> Problem:
    """404 ``not_found`` naming what is missing, in both languages."""
    return Problem(Code.NOT_FOUND, what=what, **details)


def framework_problem(status: int, detail: str) -> dict[str, Any]:
    """The body for an error Starlette raised itself (no route, wrong method, unreadable body):
    the one place a status comes from outside ``TEXT``, because the framework chose it."""
    if status == 404:
        return Problem(Code.NOT_FOUND, what=Thing.PAGE).body()
    if status == 405:
        return Problem(Code.METHOD_NOT_ALLOWED).body()
    return {**Problem(Code.HTTP_ERROR, detail=detail).body(), "status": status}
