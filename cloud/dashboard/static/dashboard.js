// The dashboard's live updates: one EventSource; each "snapshot" replaces the sections it names.
// No library, nothing fetched but this site's own stream. A section being typed into (an alarm
// note) is updated when the typing is done, so a live update never eats what someone wrote.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf"]');
  var site = document.querySelector('meta[name="site"]');
  var live = document.getElementById("live");
  var pending = {};
  if (!site) { return; }

  function fillTokens(root) {
    root.querySelectorAll('input[name="csrf"]').forEach(function (input) {
      input.value = csrf.content;
    });
  }

  function busy(section) {
    var active = document.activeElement;
    if (active && section.contains(active) && active.tagName === "INPUT") { return true; }
    return Array.prototype.some.call(section.querySelectorAll('input[name="note"]'), function (i) {
      return i.value !== "";
    });
  }

  function apply(id, html) {
    var section = document.getElementById(id);
    if (!section) { return; }
    if (busy(section)) { pending[id] = html; return; }
    delete pending[id];
    section.innerHTML = html;
    fillTokens(section);
  }

  document.addEventListener("focusout", function () {
    setTimeout(function () {
      Object.keys(pending).forEach(function (id) { apply(id, pending[id]); });
    }, 0);
  });

  var picker = document.getElementById("site-picker");
  if (picker) { picker.addEventListener("change", function () { picker.form.submit(); }); }

  var source = new EventSource("/dashboard/live?site=" + encodeURIComponent(site.content));
  source.addEventListener("snapshot", function (event) {
    var data = JSON.parse(event.data);
    Object.keys(data.sections).forEach(function (id) { apply(id, data.sections[id]); });
    var asOf = document.getElementById("as-of");
    if (asOf) { asOf.textContent = data.as_of; }
    document.body.dataset.version = data.version;
    live.classList.remove("down");
    live.textContent = live.dataset.live;
  });
  source.addEventListener("signed_out", function () { window.location = "/dashboard/login"; });
  source.onerror = function () {
    live.classList.add("down");
    live.textContent = live.dataset.reconnecting;
  };
})();
