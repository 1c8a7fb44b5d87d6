// The admin pages' small behaviours: a "select all" box for the detections queue, and the chosen file's
// name beside the import page's Chinese file button (the native input, which the browser labels in its
// own language, is hidden).
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box.matches && box.matches("input[data-select-all]")) {
      var scope = document.getElementById(box.getAttribute("data-select-all"));
      if (scope) {
        scope.querySelectorAll("input[type=checkbox][name=ids]").forEach(function (el) { el.checked = box.checked; });
      }
      return;
    }
    if (box.matches && box.matches("input[type=file][data-file-name]")) {
      var label = document.getElementById(box.getAttribute("data-file-name"));
      if (label && box.files && box.files.length) { label.textContent = box.files[0].name; }
    }
  });
})();
