// Official documents: the print button (no inline handlers under the CSP).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-doc-print]");
    if (button) {
      event.preventDefault();
      window.print();
    }
  });
})();
