// The intranet's small behaviours. No inline scripts: the Content-Security-Policy forbids them.
(function () {
  "use strict";
  // Ask before a step that cannot be silently undone (close, publish, void): data-confirm="…".
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("htmx:confirm", function (event) {
    var el = event.detail.elt;
    var message = el && el.getAttribute && el.getAttribute("data-confirm");
    if (message && el.tagName !== "FORM") {
      event.preventDefault();
      if (window.confirm(message)) { event.detail.issueRequest(true); }
    }
  });
})();
