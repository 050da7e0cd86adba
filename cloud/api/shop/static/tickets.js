/* The ticket page: the order's codes, large on white, kept on the phone for when there is no
   signal; refund and date change with the fee shown first. The token comes from the link's
   fragment (#token=...), which no request carries (api/routes/shop.py says why). */
"use strict";
(function () {
  var S = Scenic, el = S.el, page = S.data();
  var orderNo = page.order_no, STORE = "scenic-order:" + orderNo;
  var token = tokenOf();
  var order = null, savedAt = null, offline = false, open = {};

  function tokenOf() { return new URLSearchParams(location.hash.slice(1)).get("token") || ""; }
  function status(text) {
    var box = document.getElementById("status");
    delete box.dataset.i18n;  // from now on the script says what it shows
    box.textContent = text || "";
    box.hidden = !text;
  }
  function kept() {
    try {
      var copy = JSON.parse(localStorage.getItem(STORE) || "null");
      return copy && copy.token === token ? copy : null;  // only with the same token
    } catch (e) { return null; }
  }
  function keep(data) {
    try { localStorage.setItem(STORE, JSON.stringify({ token: token, at: new Date().toISOString(), order: data })); }
    catch (e) { /* storage full or private mode: the page still works online */ }
  }
  function load() {
    if (!token) { status(S.t("no_token")); return; }
    S.api("GET", "/api/v1/orders/" + orderNo + "/cards", { token: token }).then(function (data) {
      order = data; offline = false; keep(data); render(); saveOffline();
      if (data.status === "pending") { setTimeout(load, 4000); }
    }, function (err) {
      var copy = kept();
      if (err.status === 0 && copy) {
        order = copy.order; savedAt = copy.at; offline = true; render();
      } else if (err.status === 404) {
        localStorage.removeItem(STORE); status(S.t("not_found"));
      } else { status(err.message); }
    });
  }
  /* The page, its script and styles into the service worker's cache: the next load with no
     signal is served from there. document.body.dataset.saved says when that is done. */
  function saveOffline() {
    if (!("serviceWorker" in navigator) || !window.caches) { return; }
    navigator.serviceWorker.register("/t/sw.js", { scope: "/t/" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function () {
      return caches.open("scenic-tickets-v1").then(function (cache) {
        return cache.addAll([location.pathname, "/shop/static/app.css", "/shop/static/i18n.js", "/shop/static/tickets.js"]);
      });
    }).then(function () {
      var box = document.getElementById("offline");
      box.dataset.i18n = "saved";  // follows the language switch
      box.textContent = S.t("saved");
      box.hidden = false;
      document.body.dataset.saved = "1";
    }).catch(function () { /* no offline copy: the page still works online */ });
  }
  function localTime(iso) {
    try {  // the site's clock, whatever zone the phone is set to
      return new Date(iso).toLocaleString(S.lang() === "en" ? "en-GB" : "zh-CN",
        { hour12: false, timeZone: order.site.timezone, month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });
    }
    catch (e) { return iso; }
  }
  function row(label, value, cls) {
    return [el("dt", { text: label }), el("dd", { text: value, "class": cls || "" })];
  }
  function card(ticket) {
    var valid = ticket.status === "valid";
    var node = el("article", { "class": "card" + (valid ? "" : " void"), "aria-label": S.t("ticket_no") + " " + ticket.ticket_no });
    node.dataset.ticket = ticket.ticket_no;
    node.appendChild(el("h2", { text: S.pick(ticket.product_zh, ticket.product_en) + " · " + S.t(ticket.price_type) }));
    if (valid && ticket.qr_png) {
      node.appendChild(el("div", { "class": "qr" }, [el("img", { src: ticket.qr_png, alt: S.t("ticket_no") + " " + ticket.ticket_no, width: "296", height: "296" })]));
      node.appendChild(el("p", { "class": "bright", text: "☀ " + S.t("brightness") }));
    } else {
      node.appendChild(el("p", { "class": "void-mark", text: S.t(ticket.status === "changed" ? "changed" : "refunded") }));
    }
    if (ticket.people > 1) { node.appendChild(el("p", { "class": "people", text: S.t("group_of", { n: ticket.people }) })); }
    var list = [];
    list = list.concat(row(S.t("day"), ticket.day === ticket.valid_until ? ticket.day : ticket.day + " – " + ticket.valid_until));
    if (ticket.slot) { list = list.concat(row(S.t("slot"), ticket.slot)); }
    if (ticket.zones.length) { list = list.concat(row(S.t("zones"), ticket.zones.map(function (z) { return S.pick(z.zh, z.en); }).join(S.lang() === "en" ? ", " : "、"))); }
    if (ticket.holder) { list = list.concat(row(S.t("holder"), ticket.holder, "no")); }
    list = list.concat(row(S.t("people"), String(ticket.people)));
    list = list.concat(row(S.t("ticket_no"), ticket.ticket_no, "no"));
    node.appendChild(el("dl", {}, list));
    if (valid && !offline) { node.appendChild(actions(ticket)); }
    if (valid && ticket.qr_png) {
      var save = el("a", { "class": "button", href: ticket.qr_png, download: "ticket-" + ticket.ticket_no + ".png", text: S.t("save_image") });
      node.appendChild(el("div", { "class": "actions" }, [save]));
    }
    if (open[ticket.ticket_no]) { node.appendChild(open[ticket.ticket_no]); }
    return node;
  }
  function actions(ticket) {
    var box = el("div", { "class": "actions" });
    var refund = el("button", { type: "button", text: S.t("refund") });
    refund.dataset.testid = "refund-" + ticket.ticket_no;
    refund.disabled = !ticket.refundable;
    refund.addEventListener("click", function () { quote(ticket, "refund"); });
    var change = el("button", { type: "button", text: S.t("change") });
    change.dataset.testid = "change-" + ticket.ticket_no;
    change.disabled = !ticket.changeable;
    change.addEventListener("click", function () { quote(ticket, "change"); });
    box.appendChild(refund); box.appendChild(change);
    if (!ticket.refundable && ticket.why_not) {
      box.appendChild(el("p", { "class": "hint", text: S.t("why_" + ticket.why_not) }));
    }
    return box;
  }
  function quote(ticket, what) {
    S.api("GET", "/api/v1/tickets/" + ticket.ticket_no + "/quote", { token: token }).then(function (q) {
      open[ticket.ticket_no] = what === "refund" ? refundPanel(ticket, q) : changePanel(ticket, q);
      render();
    }, function (err) { status(err.message); });
  }
  function panel(text, confirmLabel, onConfirm, ticket, extra) {
    var box = el("div", { "class": "panel", role: "region", "aria-live": "polite" });
    box.appendChild(el("p", { text: text }));
    if (extra) { box.appendChild(extra); }
    var message = el("p", { "class": "field-error", role: "alert" });
    var yes = el("button", { type: "button", "class": "primary", text: S.t(confirmLabel) });
    yes.dataset.testid = "confirm-" + ticket.ticket_no;
    var no = el("button", { type: "button", text: S.t("cancel") });
    no.addEventListener("click", function () { delete open[ticket.ticket_no]; render(); });
    yes.addEventListener("click", function () {
      yes.disabled = true;
      onConfirm().catch(function (err) { yes.disabled = false; message.textContent = err.message; });
    });
    box.appendChild(message);
    box.appendChild(el("div", { "class": "buttons" }, [yes, no]));
    return box;
  }
  function refundPanel(ticket, q) {
    if (!q.refundable) { return el("p", { "class": "panel", text: S.t("why_" + q.why_not) }); }
    var key = S.newKey();  // one key for this confirmation: a retry refunds once
    return panel(S.t("refund_quote", { r: S.money(q.refund_fen), f: S.money(q.fee_fen) }), "confirm_refund", function () {
      return S.api("POST", "/api/v1/orders/" + orderNo + "/refunds", { token: token, key: key, body: { tickets: [ticket.ticket_no] } })
        .then(function (done) { delete open[ticket.ticket_no]; status(S.t("done_refund", { r: S.money(done.refund_fen) })); load(); });
    }, ticket);
  }
  function changePanel(ticket, q) {
    if (!q.changeable) { return el("p", { "class": "panel", text: S.t("why_" + q.why_not) }); }
    if (!q.options.length) { return el("p", { "class": "panel", text: S.t("no_options") }); }
    var chosen = { id: null }, key = S.newKey();
    var list = el("div", { "class": "choices", role: "radiogroup" });
    q.options.forEach(function (o) {
      var b = el("button", { type: "button", role: "radio", "class": "choice", "aria-checked": "false",
                             text: o.day + " " + (o.slot || S.t("whole_day")) + " · " + S.t("left", { n: o.available }) });
      b.addEventListener("click", function () {
        chosen.id = o.inventory_id;
        list.querySelectorAll("button").forEach(function (x) { x.setAttribute("aria-checked", x === b ? "true" : "false"); });
      });
      list.appendChild(b);
    });
    return panel(S.t("change_quote", { f: S.money(q.change_fee_fen) }), "confirm_change", function () {
      if (!chosen.id) { return Promise.reject({ message: S.t("no_options") }); }
      return S.api("POST", "/api/v1/tickets/" + ticket.ticket_no + "/change", { token: token, key: key, body: { inventory_id: chosen.id } })
        .then(function () { delete open[ticket.ticket_no]; status(S.t("done_change")); load(); });
    }, ticket, list);
  }
  function render() {
    if (!order) { return; }
    document.getElementById("site-name").textContent = S.pick(order.site.name_zh, order.site.name_en);
    if (offline) { status(S.t("offline_copy", { t: localTime(savedAt) })); }
    else if (order.status === "pending") { status(S.t("pending")); }
    else if (document.getElementById("status").dataset.i18n === "loading") { status(""); }
    var box = document.getElementById("cards");
    box.textContent = "";
    var valid = order.tickets.filter(function (t) { return t.status === "valid"; });
    var rest = order.tickets.filter(function (t) { return t.status !== "valid"; });
    valid.concat(rest).forEach(function (t) { box.appendChild(card(t)); });
    box.appendChild(el("p", { "class": "hint", text: S.t("order_no") + " " + order.order_no }));
  }
  S.applyStatic();
  S.onSwitch(render);
  window.addEventListener("hashchange", function () {  // another link pasted into this tab
    token = tokenOf(); order = null; open = {};
    document.getElementById("cards").textContent = "";
    status(S.t("loading"));
    document.getElementById("status").dataset.i18n = "loading";  // cleared once loaded
    load();
  });
  load();
})();
