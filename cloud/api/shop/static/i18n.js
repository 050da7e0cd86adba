/* Shared by the shop and the ticket page: texts in zh-CN (first) and English, money in yuan,
   and calls to the cloud's own JSON API (problem JSON answers carry both languages). */
"use strict";
var Scenic = (function () {
  var TEXT = {
    switch_lang: ["English", "中文"],
    choose_product: ["选择门票", "Choose a ticket"],
    choose_day: ["游玩日期", "Day of visit"],
    choose_slot: ["入园时段", "Entry time"],
    choose_qty: ["票种与数量", "Tickets and quantity"],
    holders: ["实名游客", "Visitors (real name)"],
    holders_hint: ["每位游客一个身份证号，入园时核验。", "One ID card number per visitor, checked at the gate."],
    holder_n: ["游客{n} 身份证号", "Visitor {n}: ID card number"],
    bad_id: ["身份证号不正确：应为18位，最后一位是数字或X，请核对。", "This ID number is not valid: 18 characters, the last a digit or X. Please check it."],
    same_id: ["同一身份证号只能购买一张。", "One ticket per ID number."],
    contact: ["联系人", "Contact"],
    phone: ["手机号", "Mobile phone number"],
    bad_phone: ["请填写手机号（11位数字）。", "Please enter a mobile number (11 digits)."],
    total: ["合计", "Total"],
    from_price: ["{p}起", "from {p}"],
    pay_wechat: ["微信支付", "Pay with WeChat Pay"],
    pay_alipay: ["支付宝支付", "Pay with Alipay"],
    pay_sandbox: ["沙箱支付（测试，无真实扣款）", "Sandbox payment (test, no money)"],
    no_channel: ["暂不能在线支付，请到售票窗口购票。", "Online payment is not available: please buy at the ticket window."],
    pay_waiting: ["请在打开的页面完成支付，支付后此页自动跳转。", "Finish paying on the page that opened; this page moves on by itself."],
    pay_open: ["打开支付", "Open payment"],
    rules_hint: ["退改规则见每种门票说明；现金请到售票窗口。", "Refund rules are shown with each ticket; cash at the ticket window only."],
    working: ["正在处理…", "Working…"],
    sold_out: ["售罄", "Sold out"],
    few_left: ["余量紧张 剩{n}", "Few left: {n}"],
    left: ["余{n}", "{n} left"],
    whole_day: ["全天", "All day"],
    pick_qty: ["请至少选择一张票。", "Choose at least one ticket."],
    network: ["网络不通，请稍后重试。", "No connection: please try again."],
    adult: ["成人票", "Adult"], child: ["儿童票", "Child"], concession: ["优惠票", "Concession"],
    senior: ["老人票", "Senior"], group: ["团体票", "Group"], member: ["会员票", "Member"],
    refund_rule: ["游玩日前{h}小时前可退，手续费{p}%", "Refundable until {h} h before the day, fee {p}%"],
    refund_rule_day: ["游玩当天{h}点前可退，手续费{p}%", "Refundable until {h}:00 on the day, fee {p}%"],
    no_refund_rule: ["不可退", "Not refundable"],
    my_tickets: ["我的门票", "My tickets"],
    loading: ["正在载入…", "Loading…"],
    no_token: ["链接不完整：请用购票后收到的完整链接打开。", "This link is incomplete: open the full link you got when you bought."],
    not_found: ["找不到这个订单（链接不完整或已失效）。", "Order not found (the link is incomplete or wrong)."],
    pending: ["订单待支付", "Waiting for payment"],
    saved: ["已保存到本机：无信号时也能出示。", "Saved on this phone: shows with no signal too."],
    offline_copy: ["无网络：显示本机保存的门票（{t} 更新）。", "Offline: tickets saved on this phone (updated {t})."],
    brightness: ["请调高屏幕亮度，对准闸机扫码口", "Turn the screen brightness up and hold the code to the gate"],
    product: ["票种", "Ticket"], day: ["日期", "Date"], slot: ["时段", "Entry time"],
    zones: ["可入区域", "Zones"], holder: ["持票人", "Holder"], people: ["人数", "People"],
    ticket_no: ["票号", "Ticket no."], order_no: ["订单", "Order"],
    group_of: ["团体票：{n}人同行，一码通行", "Group ticket: {n} people, one code"],
    save_image: ["保存二维码图片", "Save the code as an image"],
    refund: ["退票", "Refund"], change: ["改签", "Change date"],
    refunded: ["已退票", "Refunded"], changed: ["已改签（新票见下方）", "Changed (see the new ticket)"],
    refund_quote: ["退款 {r}，手续费 {f}", "Refund {r}, fee {f}"],
    change_quote: ["改签手续费 {f}，请选择新的日期/时段：", "Change fee {f}; choose the new day or time:"],
    no_options: ["没有可改签的日期。", "No other day is available."],
    confirm_refund: ["确认退票", "Confirm refund"], confirm_change: ["确认改签", "Confirm change"],
    cancel: ["取消", "Cancel"],
    done_refund: ["已退票，退款 {r} 将原路退回。", "Refunded: {r} goes back the way you paid."],
    done_change: ["已改签，请使用新的二维码。", "Changed: use the new code."],
    why_refund_window_closed: ["已过退改时间", "Too late to refund or change"],
    why_ticket_used: ["已入园使用", "Already used"],
    why_ticket_not_valid: ["已失效", "No longer valid"]
  };
  var lang = "zh";
  try { lang = localStorage.getItem("scenic-lang") === "en" ? "en" : "zh"; } catch (e) { /* private mode */ }

  function t(key, vars) {
    var pair = TEXT[key];
    var s = pair ? pair[lang === "en" ? 1 : 0] : key;
    Object.keys(vars || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(vars[k])); });
    return s;
  }
  function pick(zh, en) { return lang === "en" ? (en || zh) : (zh || en); }
  function money(fen) { return "¥" + (fen / 100).toFixed(2); }
  function applyStatic() {
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    document.querySelectorAll("[data-i18n]").forEach(function (el) { el.textContent = t(el.dataset.i18n); });
  }
  function onSwitch(render) {
    var button = document.getElementById("lang");
    button.addEventListener("click", function () {
      lang = lang === "en" ? "zh" : "en";
      try { localStorage.setItem("scenic-lang", lang); } catch (e) { /* private mode */ }
      applyStatic();
      render();
    });
  }
  function data() { return JSON.parse(document.getElementById("page-data").textContent); }
  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  /* fetch JSON from the API; rejects with {code, message, status} (message in the current language). */
  function api(method, path, options) {
    options = options || {};
    var headers = { "Accept": "application/json" };
    if (options.token) { headers["X-Order-Token"] = options.token; }
    if (options.key) { headers["Idempotency-Key"] = options.key; }
    var init = { method: method, headers: headers, credentials: "omit", referrerPolicy: "no-referrer", cache: "no-store" };
    if (options.body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(options.body); }
    return fetch(path, init).then(function (answer) {
      return answer.json().catch(function () { return {}; }).then(function (body) {
        if (answer.ok) { return body; }
        throw { code: body.code || "http_error", status: answer.status, body: body,
                message: pick(body.message_zh, body.message_en) || t("network") };
      });
    }, function () { throw { code: "network", status: 0, message: t("network") }; });
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "hidden") { node.hidden = attrs[k]; }
      else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }
  /* GB 11643-1999: 17 digits and an ISO 7064 MOD 11-2 check character (keys/holder.py). */
  function validId(value) {
    var n = value.trim().toUpperCase();
    if (!/^[0-9]{17}[0-9X]$/.test(n)) { return false; }
    var w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    var sum = 0;
    for (var i = 0; i < 17; i++) { sum += Number(n[i]) * w[i]; }
    return "10X98765432"[sum % 11] === n[17];
  }
  return { t: t, pick: pick, money: money, applyStatic: applyStatic, onSwitch: onSwitch, data: data,
           newKey: newKey, api: api, el: el, validId: validId, lang: function () { return lang; } };
})();
