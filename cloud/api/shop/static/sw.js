/* The ticket page's service worker (scope /t/): network first, so a visitor with signal sees
   the latest; with no signal, the copy kept here. The order's codes themselves are kept by the
   page in localStorage (with the token they were fetched with); the API is never cached here. */
"use strict";
var CACHE = "scenic-tickets-v1";
var ASSETS = ["/shop/static/app.css", "/shop/static/i18n.js", "/shop/static/tickets.js"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(ASSETS); })
    .then(function () { return self.skipWaiting(); }));
});
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });
self.addEventListener("fetch", function (event) {
  var url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) { return; }
  if (url.pathname.indexOf("/api/") === 0) { return; }
  event.respondWith(fetch(event.request).then(function (answer) {
    if (answer.ok) {
      var copy = answer.clone();
      caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
    }
    return answer;
  }).catch(function () {
    return caches.match(url.pathname).then(function (kept) { return kept || Response.error(); });
  }));
});
