/* The shop: product, day, slot (live places), price types and quantities, real-name holders,
   contact, then pay through a live channel and go to the ticket page. Every step is a call to
   the cloud's JSON API, so its limits and checks apply unchanged. */
"use strict";
(function () {
  var S = Scenic, page = S.data(), el = S.el;
  var state = { product: null, day: null, slots: [], slot: null, qty: {}, order: null, key: null, busy: false };

  function product() { return page.products.filter(function (p) { return p.id === state.product; })[0]; }
  function people() { return Object.keys(state.qty).reduce(function (n, k) { return n + state.qty[k]; }, 0); }
  function total() {
    var p = product();
    if (!p) { return 0; }
    return p.prices.reduce(function (sum, price) { return sum + price.amount_fen * (state.qty[price.price_type] || 0); }, 0);
  }
  function show(id, visible) { document.getElementById(id).hidden = !visible; }
  function radio(label, sub, checked, disabled, onPick, testid) {
    var b = el("button", { type: "button", role: "radio", "class": "choice", "aria-checked": checked ? "true" : "false" });
    if (testid) { b.dataset.testid = testid; }
    b.appendChild(el("span", { text: label }));
    if (sub) { b.appendChild(sub); }
    b.disabled = !!disabled;
    b.addEventListener("click", onPick);
    return b;
  }
  function ruleText(p) {
    if (p.refund_until_hours > 24 * 365) { return S.t("no_refund_rule"); }
    if (p.refund_until_hours <= 0) { return S.t("refund_rule_day", { h: -p.refund_until_hours, p: p.refund_fee_percent }); }
    return S.t("refund_rule", { h: p.refund_until_hours, p: p.refund_fee_percent });
  }

  function renderProducts() {
    var box = document.getElementById("products");
    box.textContent = "";
    page.products.forEach(function (p) {
      var from = p.prices.length ? Math.min.apply(null, p.prices.map(function (x) { return x.amount_fen; })) : 0;
      var sub = el("small", { text: S.t("from_price", { p: S.money(from) }) + " · " + ruleText(p) });
      box.appendChild(radio(S.pick(p.name_zh, p.name_en), sub, p.id === state.product, !p.days.length, function () {
        state.product = p.id; state.day = null; state.slot = null; state.qty = {}; state.key = null; state.order = null;
        render();
      }, "product-" + p.id));
    });
  }
  function dayLabel(iso) {
    var d = new Date(iso + "T00:00:00Z");
    var week = S.lang() === "en" ? ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] : ["周日", "周一", "周二", "周三", "周四", "周五", "周六"];
    return (d.getUTCMonth() + 1) + "/" + d.getUTCDate() + " " + week[d.getUTCDay()];
  }
  function renderDays() {
    var p = product();
    show("day-section", !!p);
    if (!p) { return; }
    var box = document.getElementById("days");
    box.textContent = "";
    p.days.forEach(function (day) {
      box.appendChild(radio(dayLabel(day), null, day === state.day, false, function () {
        state.day = day; state.slot = null; state.key = null; state.order = null;
        loadSlots();
      }, "day-" + day));
    });
  }
  function loadSlots() {
    render();
    S.api("GET", "/api/v1/products/" + state.product + "/availability?day=" + state.day).then(function (rows) {
      state.slots = rows;
      if (rows.length === 1 && rows[0].slot_start === null && !rows[0].stopped) { state.slot = rows[0].inventory_id; }
      render();
    }, function (err) { error("pay-error", err.message); });
  }
  function hhmm(m) { return ("0" + Math.floor(m / 60)).slice(-2) + ":" + ("0" + (m % 60)).slice(-2); }
  function renderSlots() {
    show("slot-section", !!state.day);
    var box = document.getElementById("slots");
    box.textContent = "";
    state.slots.forEach(function (row) {
      var out = row.stopped || row.available <= 0;
      var tag = out ? el("span", { "class": "tag out", text: S.t("sold_out") })
        : row.warning ? el("span", { "class": "tag few", text: S.t("few_left", { n: row.available }) })
        : el("span", { "class": "tag ok", text: S.t("left", { n: row.available }) });
      var label = row.slot_start === null ? S.t("whole_day") : hhmm(row.slot_start) + "-" + hhmm(row.slot_end);
      box.appendChild(radio(label, tag, row.inventory_id === state.slot, out, function () {
        state.slot = row.inventory_id; state.key = null; state.order = null;
        render();
      }, "slot-" + row.inventory_id));
    });
  }
  function renderQuantities() {
    var p = product();
    show("qty-section", !!state.slot);
    var box = document.getElementById("quantities");
    box.textContent = "";
    if (!p || !state.slot) { return; }
    p.prices.forEach(function (price) {
      var n = state.qty[price.price_type] || 0;
      var name = S.t(price.price_type);
      var minus = el("button", { type: "button", "aria-label": name + " −1", text: "−" });
      var plus = el("button", { type: "button", "aria-label": name + " +1", text: "+" });
      minus.dataset.testid = "minus-" + price.price_type;
      plus.dataset.testid = "plus-" + price.price_type;
      minus.disabled = n === 0;
      plus.disabled = people() >= p.max_per_order;
      minus.addEventListener("click", function () { state.qty[price.price_type] = n - 1; state.key = null; state.order = null; render(); });
      plus.addEventListener("click", function () { state.qty[price.price_type] = n + 1; state.key = null; state.order = null; render(); });
      box.appendChild(el("div", { "class": "qty" }, [
        el("div", {}, [el("div", { text: name }), el("div", { "class": "price", text: S.money(price.amount_fen) })]),
        el("div", { "class": "stepper" }, [minus, el("output", { "aria-live": "polite", text: String(n) }), plus])
      ]));
    });
  }
  function renderHolders() {
    var p = product();
    var need = p && p.real_name && state.slot ? people() : 0;
    show("holder-section", need > 0);
    var box = document.getElementById("holders");
    var kept = Array.prototype.map.call(box.querySelectorAll("input"), function (i) { return i.value; });
    box.textContent = "";
    for (var i = 0; i < need; i++) {
      var id = "holder-" + i;
      var input = el("input", { id: id, name: id, inputmode: "text", autocomplete: "off", maxlength: "18",
                                "aria-describedby": id + "-error", spellcheck: "false" });
      input.value = kept[i] || "";
      input.addEventListener("blur", checkHolders);
      box.appendChild(el("label", { "for": id, text: S.t("holder_n", { n: i + 1 }) }));
      box.appendChild(input);
      box.appendChild(el("p", { "class": "field-error", id: id + "-error", role: "alert" }));
    }
  }
  function checkHolders() {
    var inputs = Array.prototype.slice.call(document.querySelectorAll("#holders input"));
    var seen = {}, ok = true;
    inputs.forEach(function (input) {
      var v = input.value.trim().toUpperCase(), message = "";
      if (input.value && !S.validId(v)) { message = S.t("bad_id"); }
      else if (v && seen[v]) { message = S.t("same_id"); }
      seen[v] = true;
      fieldError(input, message || (input.value ? "" : null));
      if (message || !v) { ok = false; }
    });
    return ok;
  }
  function fieldError(input, message) {
    var box = document.getElementById(input.id + "-error");
    box.textContent = message || "";
    input.setAttribute("aria-invalid", message ? "true" : "false");
  }
  function error(id, message) { document.getElementById(id).textContent = message || ""; }
  function renderPay() {
    var ready = !!state.slot && people() > 0;
    show("contact-section", ready);
    show("pay-section", ready);
    document.getElementById("total").textContent = S.money(total());
    var box = document.getElementById("channels");
    box.textContent = "";
    if (!page.channels.length) { box.appendChild(el("p", { "class": "notice", text: S.t("no_channel") })); }
    page.channels.forEach(function (channel) {
      var b = el("button", { type: "button", "class": "primary", text: S.t("pay_" + channel) });
      b.dataset.testid = "pay-" + channel;
      b.disabled = state.busy;
      b.addEventListener("click", function () { buy(channel); });
      box.appendChild(b);
    });
  }
  function render() {
    document.getElementById("site-name").textContent = S.pick(page.site.name_zh, page.site.name_en);
    renderProducts(); renderDays(); renderSlots(); renderQuantities(); renderHolders(); renderPay();
  }

  function cart() {
    var p = product(), holders = Array.prototype.map.call(document.querySelectorAll("#holders input"),
      function (i) { return i.value.trim().toUpperCase(); });
    var lines = [], used = 0;
    p.prices.forEach(function (price) {
      var n = state.qty[price.price_type] || 0;
      if (!n) { return; }
      var line = { inventory_id: state.slot, price_type: price.price_type, quantity: n };
      if (p.real_name) { line.holders = holders.slice(used, used + n); used += n; }
      lines.push(line);
    });
    return { site: page.site.code, channel: "web", contact: document.getElementById("contact").value.trim(), lines: lines };
  }
  function buy(channel) {
    error("pay-error", "");
    var contact = document.getElementById("contact");
    var phoneOk = /^1[0-9]{10}$/.test(contact.value.replace(/\s/g, ""));
    fieldError(contact, phoneOk ? "" : S.t("bad_phone"));
    var holdersOk = product().real_name ? checkHolders() : true;
    if (!people()) { error("pay-error", S.t("pick_qty")); return; }
    if (!phoneOk || !holdersOk) { return; }
    var body = cart();
    state.busy = true; renderPay(); error("pay-error", S.t("working"));
    // One key per cart: a retry after a lost answer is the same order, never a second one.
    state.key = state.key || S.newKey();
    var made = state.order ? Promise.resolve(state.order)
      : S.api("POST", "/api/v1/orders", { key: state.key, body: body }).then(function (order) {
          state.order = order; return order;
        });
    made.then(function (order) { return pay(channel, order); }).catch(function (err) {
      state.busy = false; renderPay();
      if (err.code === "bad_id_number" || err.code === "duplicate_holder" || err.code === "holders_required") {
        var first = document.querySelector("#holders input");
        if (first) { fieldError(first, err.message); first.focus(); }
      }
      error("pay-error", err.message);
    });
  }
  function ticketsUrl(order) { return "/t/" + order.order_no + "#token=" + encodeURIComponent(order.access_token); }
  function pay(channel, order) {
    var auth = { token: order.access_token };
    if (channel === "sandbox") {
      return S.api("POST", "/api/v1/sandbox/pay/" + order.order_no, auth).then(function () {
        location.assign(ticketsUrl(order));
      });
    }
    return S.api("POST", "/api/v1/orders/" + order.order_no + "/payments", { token: order.access_token, body: { provider: channel } })
      .then(function (intent) {
        var link = document.getElementById("pay-link");
        link.href = intent.pay_url;
        show("pay-pending", true);
        error("pay-error", "");
        location.assign(intent.pay_url);  // WeChat / Alipay open their own checkout
        poll(order);
      });
  }
  function poll(order) {
    S.api("GET", "/api/v1/orders/" + order.order_no, { token: order.access_token }).then(function (now) {
      if (now.status === "paid") { location.assign(ticketsUrl(order)); return; }
      if (now.status === "pending") { setTimeout(function () { poll(order); }, 3000); }
    }, function () { setTimeout(function () { poll(order); }, 5000); });
  }

  var wanted = page.product;
  if (wanted && page.products.some(function (p) { return p.id === wanted; })) { state.product = wanted; }
  else if (page.products.length === 1) { state.product = page.products[0].id; }
  S.applyStatic();
  S.onSwitch(render);
  document.getElementById("contact").addEventListener("blur", function (e) {
    var ok = !e.target.value || /^1[0-9]{10}$/.test(e.target.value.replace(/\s/g, ""));
    fieldError(e.target, ok ? "" : S.t("bad_phone"));
  });
  render();
})();
