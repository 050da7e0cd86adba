"""Payment channels (sandbox, WeChat Pay, Alipay, UnionPay, cash) and settling what they report."""
