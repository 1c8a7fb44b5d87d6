// The patrol sheet on a tablet: each tap gets its own id (client_key) so a re-sent tap is stored once;
// a tap that cannot be sent (Wi-Fi dropped: htmx:sendError) waits in localStorage and is re-sent when the
// network returns, with a visible counter; a just-recorded cell offers "撤销" for a minute.
// Loaded on every page (a boosted navigation swaps the body only): queued taps are re-sent from any page.
(function () {
  "use strict";

  var QUEUE_KEY = "hallscore.patrol.queue";
  var RETRY_MS = 15000;
  var flushing = false;

  // crypto.randomUUID needs a secure context; the hall's intranet may be plain http.
  function uuid() {
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function clockTime() {
    var d = new Date();
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function readQueue() {
    try { return JSON.parse(window.localStorage.getItem(QUEUE_KEY) || "[]"); } catch (e) { return []; }
  }

  function writeQueue(queue) {
    try { window.localStorage.setItem(QUEUE_KEY, JSON.stringify(queue)); } catch (e) { /* storage full */ }
    showUnsent();
  }

  function showUnsent() {
    var el = document.getElementById("patrol-unsent");
    var queue = readQueue();
    if (el) {
      el.hidden = queue.length === 0;
      el.textContent = (el.getAttribute("data-msg") || "{n}").replace("{n}", queue.length);
    }
    queue.forEach(function (tap) {
      var cell = document.querySelector('[data-cell="' + cssEscape(tap.cell) + '"]');
      if (cell) { cell.classList.add("pending"); }
    });
  }

  function cssEscape(text) {
    return window.CSS && CSS.escape ? CSS.escape(text) : String(text).replace(/["\\]/g, "\\$&");
  }

  function csrfToken() {
    var page = document.getElementById("page");
    try { return JSON.parse(page.getAttribute("hx-headers"))["X-CSRFToken"]; } catch (e) { return ""; }
  }

  function flashMessage(html) {
    var flash = document.getElementById("flash");
    if (flash) { flash.innerHTML = html; }
  }

  // A tap: give it its id and the time on the tablet (used only if it is sent after midnight).
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt.hasAttribute || !elt.hasAttribute("data-patrol-tap")) { return; }
    var vals = {};
    try { vals = JSON.parse(elt.getAttribute("hx-vals")); } catch (e) { vals = {}; }
    vals.client_key = uuid();
    vals.time = clockTime();
    event.detail.parameters.client_key = vals.client_key;
    event.detail.parameters.time = vals.time;
    var cell = elt.closest("[data-cell]");
    elt._patrolTap = { url: event.detail.path, params: vals, cell: cell ? cell.getAttribute("data-cell") : "" };
  });

  document.addEventListener("htmx:sendError", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt._patrolTap) { return; }
    var queue = readQueue();
    queue.push(elt._patrolTap);
    elt._patrolTap = null;
    writeQueue(queue);
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt._patrolTap && event.detail.successful) { elt._patrolTap = null; }
  });

  function send(tap) {
    var body = new FormData();
    Object.keys(tap.params).forEach(function (k) { body.append(k, tap.params[k]); });
    return fetch(tap.url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
    });
  }

  // Re-send queued taps one by one; stop at the first that cannot reach the server and try later.
  function flush() {
    if (flushing || navigator.onLine === false) { return; }
    var queue = readQueue();
    if (!queue.length) { return; }
    flushing = true;
    var tap = queue[0];
    send(tap).then(function (response) {
      if (response.redirected || response.status === 400 || response.status === 401 ||
          response.status === 403 || response.status >= 500) {
        // Logged out or a stale page: keep the tap for the next try after the inspector signs in again.
        throw new Error("later");
      }
      return response.text().then(function (html) {
        writeQueue(readQueue().filter(function (t) { return t.params.client_key !== tap.params.client_key; }));
        if (response.ok) {
          var cell = document.querySelector('[data-cell="' + cssEscape(tap.cell) + '"]');
          if (cell && window.htmx) {
            var holder = document.createElement("tbody");
            holder.innerHTML = "<tr>" + html + "</tr>";
            var fresh = holder.querySelector("td");
            if (fresh) {
              cell.replaceWith(fresh);
              window.htmx.process(fresh);
              armUndo(fresh);
            }
          }
        } else {
          flashMessage(html);  // refused (422): the server's Chinese message
        }
        flushing = false;
        flush();
      });
    }).catch(function () {
      flushing = false;
    });
  }

  // "已记录 · 撤销" lasts as long as the server allows the undo; then the cell taps again.
  function armUndo(root) {
    var buttons = root.matches && root.matches("[data-undo-seconds]") ? [root] : [];
    if (root.querySelectorAll) {
      buttons = buttons.concat(Array.prototype.slice.call(root.querySelectorAll("[data-undo-seconds]")));
    }
    buttons.forEach(function (undo) {
      if (undo._armed) { return; }
      undo._armed = true;
      var seconds = parseInt(undo.getAttribute("data-undo-seconds"), 10) || 0;
      window.setTimeout(function () {
        var cell = undo.closest("td");
        if (!cell || !cell.contains(undo)) { return; }
        var tap = cell.querySelector("[data-patrol-tap]");
        if (tap) { tap.hidden = false; }
        cell.classList.remove("recorded");
        undo.remove();
      }, Math.max(0, seconds - 1) * 1000);
    });
  }

  document.addEventListener("htmx:load", function (event) { armUndo(event.detail.elt); });
  window.addEventListener("online", flush);
  window.setInterval(flush, RETRY_MS);
  function start() { showUnsent(); flush(); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  document.addEventListener("htmx:afterSettle", showUnsent);
})();
