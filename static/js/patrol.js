// The patrol sheet on a tablet: each tap gets its own id (client_key) and the time it was tapped (the
// tablet's hall-time date and time), so a re-sent tap is stored once and a late one keeps its time;
// a tap that cannot be sent (Wi-Fi dropped: htmx:sendError) waits in localStorage and is re-sent when the
// network returns, with a counter in the header and in its cell; a queued tap the server refuses (e.g. its
// month was closed meanwhile) goes to the visible "未能保存" list with the reason until the inspector
// dismisses it; a just-recorded cell offers "撤销" for a minute; the unit select shows one unit's rows
// (a unit of another group of units loads that group's page).
// Loaded on every page (a boosted navigation swaps the body only): queued taps are re-sent from any page.
(function () {
  "use strict";

  var QUEUE_KEY = "hallscore.patrol.queue";
  var FAILED_KEY = "hallscore.patrol.failed";
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

  // The tablet's clock is the hall's (Asia/Shanghai): its local date and time are hall time.
  function clockDate(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  }

  function clockTime(d) {
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function readList(key) {
    try {
      var list = JSON.parse(window.localStorage.getItem(key) || "[]");
      return Array.isArray(list) ? list : [];
    } catch (e) { return []; }
  }

  function writeList(key, list) {
    try { window.localStorage.setItem(key, JSON.stringify(list)); } catch (e) { /* storage full */ }
  }

  function readQueue() { return readList(QUEUE_KEY); }

  function writeQueue(queue) {
    writeList(QUEUE_KEY, queue);
    showUnsent();
  }

  // The header's counter, and in each cell the number of its taps still waiting (a badge, not an outline).
  function showUnsent() {
    var el = document.getElementById("patrol-unsent");
    var queue = readQueue();
    if (el) {
      el.hidden = queue.length === 0;
      el.textContent = (el.getAttribute("data-msg") || "{n}").replace("{n}", queue.length);
    }
    var sheet = document.getElementById("patrol-sheet");
    if (!sheet) { return; }
    var day = sheet.getAttribute("data-date");
    var perCell = {};
    queue.forEach(function (tap) {
      if (tap.params && tap.params.date !== day) { return; }
      perCell[tap.cell] = (perCell[tap.cell] || 0) + 1;
    });
    Array.prototype.forEach.call(sheet.querySelectorAll("td[data-cell]"), function (cell) {
      var n = perCell[cell.getAttribute("data-cell")] || 0;
      var badge = cell.querySelector(".unsent");
      cell.classList.toggle("pending", n > 0);
      if (!n) { if (badge) { badge.remove(); } return; }
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "unsent";
        badge.setAttribute("aria-live", "polite");
        cell.appendChild(badge);
      }
      badge.textContent = (sheet.getAttribute("data-msg-cell") || "+{n}").replace("{n}", n);
    });
  }

  // ---------------------------------------------------------------- "未能保存": refused queued taps
  function showFailed() {
    var box = document.getElementById("patrol-failed");
    var list = document.getElementById("patrol-failed-list");
    if (!box || !list) { return; }
    var failed = readList(FAILED_KEY);
    box.hidden = failed.length === 0;
    list.textContent = "";
    failed.forEach(function (tap) {
      var item = document.createElement("li");
      var what = document.createElement("strong");
      what.textContent = tap.label || tap.cell;
      var when = document.createElement("span");
      when.className = "failed-time";
      when.textContent = (box.getAttribute("data-msg-time") || "") + " " +
        (tap.params ? tap.params.date + " " + tap.params.time : "");
      var why = document.createElement("span");
      why.className = "failed-reason";
      why.textContent = tap.reason || "";
      var dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.className = "btn";
      dismiss.setAttribute("data-patrol-dismiss", tap.params ? tap.params.client_key : "");
      dismiss.textContent = box.getAttribute("data-msg-dismiss") || "OK";
      item.appendChild(what);
      item.appendChild(when);
      item.appendChild(why);
      item.appendChild(dismiss);
      list.appendChild(item);
    });
  }

  function addFailed(tap, reason) {
    var failed = readList(FAILED_KEY);
    tap.reason = reason;
    failed.push(tap);
    writeList(FAILED_KEY, failed);
    showFailed();
  }

  function textOf(html) {
    var holder = document.createElement("template");
    holder.innerHTML = html;
    return (holder.content.textContent || "").replace(/\s+/g, " ").trim();
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

  // A tap: give it its id and the date and time it was tapped on the tablet (kept however late it is sent).
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt.hasAttribute || !elt.hasAttribute("data-patrol-tap")) { return; }
    var vals = {};
    try { vals = JSON.parse(elt.getAttribute("hx-vals")); } catch (e) { vals = {}; }
    var now = new Date();
    vals.client_key = uuid();
    vals.date = clockDate(now);
    vals.time = clockTime(now);
    event.detail.parameters.client_key = vals.client_key;
    event.detail.parameters.date = vals.date;
    event.detail.parameters.time = vals.time;
    var cell = elt.closest("[data-cell]");
    elt._patrolTap = {
      url: event.detail.path, params: vals, cell: cell ? cell.getAttribute("data-cell") : "",
      label: elt.getAttribute("aria-label") || "",
    };
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
        var sheet = document.getElementById("patrol-sheet");
        if (response.ok) {
          // The answer is the cell as of the tap's own day: shown only on that day's sheet.
          var cell = document.querySelector('[data-cell="' + cssEscape(tap.cell) + '"]');
          if (cell && window.htmx && sheet && sheet.getAttribute("data-date") === tap.params.date) {
            var holder = document.createElement("template");
            holder.innerHTML = html;
            var fresh = holder.content.querySelector("td");
            if (fresh) {
              // The record panel rides in the answer for htmx's out-of-band swap: not opened from here.
              Array.prototype.forEach.call(fresh.querySelectorAll("[hx-swap-oob]"), function (el) { el.remove(); });
              cell.replaceWith(fresh);
              window.htmx.process(fresh);
              armUndo(fresh);
            }
          }
          showUnsent();
        } else {
          // Refused (422: e.g. its month was closed meanwhile): listed back with the server's reason.
          addFailed(tap, textOf(html));
          flashMessage(html);
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

  // ---------------------------------------------------------------- clicks: dismiss, close, jump
  document.addEventListener("click", function (event) {
    var dismiss = event.target.closest && event.target.closest("[data-patrol-dismiss]");
    if (dismiss) {
      var key = dismiss.getAttribute("data-patrol-dismiss");
      writeList(FAILED_KEY, readList(FAILED_KEY).filter(function (t) {
        return !t.params || t.params.client_key !== key;
      }));
      showFailed();
      return;
    }
    var close = event.target.closest && event.target.closest("[data-patrol-close]");
    if (close) {
      var panel = document.getElementById("patrol-record");
      if (panel) { panel.hidden = true; panel.textContent = ""; }
    }
  });

  // The unit select: only that unit's rows (all with the empty choice); the address keeps the choice.
  function jumpTo(select) {
    var sheet = document.getElementById("patrol-sheet");
    if (!sheet) { return; }
    var unit = select.value;
    // A unit of another group: the page of its group (the sheet shows one group of units at a time).
    if (unit && !sheet.querySelector('tbody tr[data-unit="' + cssEscape(unit) + '"]')) {
      var form = document.getElementById("patrol-date-form");
      if (form) {
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
        return;
      }
    }
    Array.prototype.forEach.call(sheet.querySelectorAll("tbody tr[data-unit]"), function (row) {
      row.hidden = !!unit && row.getAttribute("data-unit") !== unit;
    });
    sheet.scrollTop = 0;
    sheet.scrollLeft = 0;
    try {
      var url = new URL(window.location.href);
      if (unit) { url.searchParams.set("unit", unit); } else { url.searchParams.delete("unit"); }
      window.history.replaceState(window.history.state, "", url.toString());
    } catch (e) { /* old browser: the choice is not kept in the address */ }
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-patrol-jump]")) { jumpTo(event.target); }
  });

  window.addEventListener("online", flush);
  window.setInterval(flush, RETRY_MS);
  function start() { showUnsent(); showFailed(); flush(); }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  document.addEventListener("htmx:afterSettle", function () { showUnsent(); showFailed(); });
})();
