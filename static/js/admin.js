// The admin pages' small behaviours: a "select all" box for the detections queue.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[data-select-all]")) { return; }
    var scope = document.getElementById(box.getAttribute("data-select-all"));
    if (!scope) { return; }
    scope.querySelectorAll("input[type=checkbox][name=ids]").forEach(function (el) { el.checked = box.checked; });
  });
})();
