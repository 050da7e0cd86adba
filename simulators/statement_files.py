"""Payment-channel statement files as the channels write them (a simulator of their bill
downloads, for reconciliation tests and bench/reconcile.py):
WeChat Pay's trade bill (backticks, summary tail), Alipay's 业务明细 (GBK, # header and footer)
and the generic CSV. A row is a ``Row``; ``status`` is the channel's own word."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    kind: str  # payment | refund
    txn: str  # the channel's transaction id
    order_no: str
    amount_fen: int  # the payment's; for a refund, the refund's
    status: str = "SUCCESS"
    refund_no: str = ""
    at: str = "2026-12-01 10:00:00"


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


WECHAT_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)


def wechat_bill(rows: list[Row], declared: int | None = None) -> bytes:
    lines = [WECHAT_HEADER]
    paid = refunded = 0
    for row in rows:
        refund = row.kind == "refund"
        values = [
            row.at,
            "wx2421b1c4370ec43b",
            "1900000109",
            "0",
            "",
            row.txn,
            row.order_no,
            "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "NATIVE",
            "REFUND" if refund else row.status,
            "CMB_DEBIT",
            "CNY",
            "0.00" if refund else yuan(row.amount_fen),
            "0.00",
            "50000000382019052709732678859" if refund else "0",
            row.refund_no or "0",
            yuan(row.amount_fen) if refund else "0.00",
            "0.00",
            "ORIGINAL" if refund else "",
            row.status if refund else "",
            "日票",
            "",
            "0.00000",
            "0.60%",
            "0.00" if refund else yuan(row.amount_fen),
            yuan(row.amount_fen) if refund else "0.00",
            "",
        ]
        lines.append(",".join("`" + v for v in values))
        if refund:
            refunded += row.amount_fen
        else:
            paid += row.amount_fen
    lines.append(
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
    )
    count = len(rows) if declared is None else declared
    lines.append(
        f"`{count},`{yuan(paid)},`{yuan(refunded)},`0.00,`0.00000,`{yuan(paid)},`{yuan(refunded)}"
    )
    return ("\n".join(lines) + "\n").encode("utf-8")


ALIPAY_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,"
    "券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def alipay_bill(rows: list[Row]) -> bytes:
    lines = [
        "#支付宝业务明细查询",
        "#账号：[20881234567890120156]",
        "#起始日期：[2026年12月01日 00:00:00]   终止日期：[2026年12月02日 00:00:00]",
        "#-----------------------------------------业务明细列表----------------------------------------",
        ALIPAY_HEADER,
    ]
    payments = refunds = 0
    for row in rows:
        refund = row.kind == "refund"
        amount = ("-" if refund else "") + yuan(row.amount_fen)
        values = [
            row.txn,
            row.order_no,
            "退款" if refund else "交易",
            "日票",
            row.at,
            row.at,
            "",
            "",
            "",
            "",
            "buy***@example.com",
            amount,
            amount,
            "0.00",
            "0.00",
            "0.00",
            "0.00",
            "0.00",
            "",
            "0.00",
            "0.00",
            row.refund_no,
            "0.00",
            "0.00",
            "",
        ]
        lines.append(",".join(v + "\t" for v in values))
        refunds += refund
        payments += not refund
    lines += [
        "#-----------------------------------------业务明细列表结束------------------------------------",
        f"#交易合计：{payments}笔，商家实收共：0.00元，商家优惠共：0.00元",
        f"#退款合计：{refunds}笔，商家实收退款共：0.00元，商家优惠退款共：0.00元",
        "#导出时间：[2026年12月02日 09:12:34]",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def generic_csv(rows: list[Row]) -> bytes:
    lines = ["order_no,channel_txn,amount_fen,status,time,kind,refund_no"]
    for row in rows:
        lines.append(
            f"{row.order_no},{row.txn},{row.amount_fen},{row.status},{row.at},{row.kind},"
            f"{row.refund_no}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


WRITERS = {"wechat": wechat_bill, "alipay": alipay_bill, "generic": generic_csv}
