// The hall screen: the clock (hall time), the rotation of panels and pages, the offline mark.
// The offline mark is the footer's "数据更新于" stamp shown as 离线 (CSS, on body[data-offline]): one updated
// time on the screen, the server's, never a second clock kept here.
// No inline scripts (the Content-Security-Policy forbids them): everything it needs comes in data-* attributes.
// It never navigates (no reload, no location change): a screen whose server is away keeps what it shows.
(function () {
  "use strict";
  var body = document.body;
  var offsetMs = (Number(body.getAttribute("data-utc-offset")) || 0) * 60000;
  // The kiosk PC's clock may be wrong; the server's time at page load is the reference.
  var skew = (Number(body.getAttribute("data-now")) || Date.now()) - Date.now();
  var weekdays = (body.getAttribute("data-weekdays") || "").split(",");
  var datePattern = body.getAttribute("data-date-pattern") || "{y}-{m}-{d} {w}";
  var current = null;   // key of the slide shown ("live-2"), kept across refreshes of the fragment
  var shownAt = Date.now();
  var lastSet = null;

  function hall(ms) { return new Date(ms + skew + offsetMs); }  // read with getUTC*: hall wall time
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function hhmm(d) { return two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()); }
  function each(selector, fn) { Array.prototype.forEach.call(document.querySelectorAll(selector), fn); }
  function setText(el, text) { if (el.textContent !== text) { el.textContent = text; } }

  function clock() {
    var d = hall(Date.now());
    var time = hhmm(d) + ":" + two(d.getUTCSeconds());
    var date = datePattern.replace("{y}", d.getUTCFullYear()).replace("{m}", d.getUTCMonth() + 1)
      .replace("{d}", d.getUTCDate()).replace("{w}", weekdays[d.getUTCDay()] || "");
    each("[data-clock=time]", function (el) { setText(el, time); });
    each("[data-clock=date]", function (el) { setText(el, date); });
  }

  function live() { return document.getElementById("kiosk-live"); }
  function intervalMs() {
    var el = live();
    var seconds = el ? Number(el.getAttribute("data-interval")) : 0;
    return (seconds > 0 ? seconds : 15) * 1000;
  }
  // The server renders one set of pages per orientation; CSS shows the one that fits the screen.
  function visibleSet() {
    var sets = document.querySelectorAll(".k-slides");
    for (var i = 0; i < sets.length; i++) {
      if (window.getComputedStyle(sets[i]).display !== "none") { return sets[i]; }
    }
    return null;
  }
  function slidesOf(set) { return set ? Array.prototype.slice.call(set.querySelectorAll("[data-slide]")) : []; }
  function panelOf(key) { return key ? key.replace(/-\d+$/, "") : ""; }

  function restartProgress(elapsed, count) {
    var bar = document.querySelector(".k-progress i");
    if (!bar) { return; }
    bar.classList.remove("k-run");
    if (count < 2) { return; }
    void bar.offsetWidth;  // let the animation start again from the beginning
    bar.style.animationDuration = intervalMs() + "ms";
    bar.style.animationDelay = -elapsed + "ms";  // after a refresh, keep the bar where it was
    bar.classList.add("k-run");
  }

  // Show the slide `key` (or, if the new content has no such page, the same panel's first, or the first).
  function show(key, fresh) {
    var set = visibleSet();
    var list = slidesOf(set);
    if (!list.length) { current = null; return; }
    var target = null;
    list.forEach(function (s) { if (!target && s.getAttribute("data-slide") === key) { target = s; } });
    list.forEach(function (s) { if (!target && s.getAttribute("data-panel") === panelOf(key)) { target = s; } });
    target = target || list[0];
    var targetKey = target.getAttribute("data-slide");
    list.forEach(function (s) { s.toggleAttribute("data-active", s === target); });
    set.querySelectorAll("[data-dot]").forEach(function (d) {
      d.toggleAttribute("data-active", d.getAttribute("data-dot") === targetKey);
    });
    set.querySelectorAll("[data-tab]").forEach(function (t) {
      t.toggleAttribute("data-active", t.getAttribute("data-tab") === target.getAttribute("data-panel"));
    });
    if (fresh || targetKey !== current) { shownAt = Date.now(); }
    current = targetKey;
    lastSet = set;
    restartProgress(Date.now() - shownAt, list.length);
  }

  function advance() {
    var list = slidesOf(visibleSet());
    if (list.length < 2) { shownAt = Date.now(); return; }
    var keys = list.map(function (s) { return s.getAttribute("data-slide"); });
    var next = keys[(keys.indexOf(current) + 1) % keys.length];
    show(next, true);
  }

  function tick() {
    clock();
    if (visibleSet() !== lastSet) { show(current, false); }  // the screen turned: the other set of pages
    if (Date.now() - shownAt >= intervalMs()) { advance(); }
  }

  function markOffline() { body.setAttribute("data-offline", ""); }
  function markOnline() { body.removeAttribute("data-offline"); }
  function isOurs(xhr) { return !!(xhr && xhr.getResponseHeader("X-Kiosk-Version")); }

  // Only a 200 from this app (it names its version) replaces the content; anything else keeps it.
  body.addEventListener("htmx:beforeSwap", function (event) {
    if (!isOurs(event.detail.xhr) || !event.detail.serverResponse) {
      event.detail.shouldSwap = false;
    }
  });
  // Runs in the same task as the swap, before the browser paints: the page shown stays shown.
  body.addEventListener("htmx:afterSwap", function () { show(current, false); clock(); });
  body.addEventListener("htmx:afterRequest", function (event) {
    var xhr = event.detail.xhr;
    var status = xhr ? xhr.status : 0;
    if ((status === 200 || status === 204 || status === 304) && isOurs(xhr)) { markOnline(); } else { markOffline(); }
  });
  ["htmx:sendError", "htmx:responseError", "htmx:timeout", "htmx:swapError", "htmx:targetError"].forEach(function (name) {
    body.addEventListener(name, markOffline);
  });

  show(null, true);
  clock();
  window.setInterval(tick, 1000);
})();
