// The desk form (登记扣加分) and the incident pages: which blocks to refresh when a field changes, the rule
// filter, photos scaled down before upload, print buttons. Loaded on every page (a boosted navigation
// swaps the body only), so everything is delegated from the document and acts only where its elements are.
(function () {
  "use strict";

  var LONG_EDGE = 1600;
  var JPEG_QUALITY = 0.85;
  // A field change tells the blocks that depend on it (hx-trigger="unit-change from:#incident-form" …).
  var UNIT_FIELDS = ["unit_id", "occurred_at"];
  var RULE_FIELDS = ["unit_id", "occurred_at", "rule_code", "staff_pk"];

  function isIncidentForm(form) {
    return form && form.id === "incident-form";
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    var form = target && target.form;
    if (!isIncidentForm(form) || !target.name) { return; }
    if (UNIT_FIELDS.indexOf(target.name) >= 0) {
      form.dispatchEvent(new CustomEvent("unit-change", { bubbles: false }));
    }
    if (RULE_FIELDS.indexOf(target.name) >= 0) {
      form.dispatchEvent(new CustomEvent("rule-change", { bubbles: false }));
    }
  });

  // ---------------------------------------------------------------- the rule filter
  function normalise(text) {
    return (text || "").toLowerCase().replace(/\s+/g, "");
  }

  function filterRules(input) {
    var select = document.querySelector(input.getAttribute("data-rule-filter"));
    if (!select) { return; }
    var query = normalise(input.value);
    var shown = 0;
    Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
      var visible = 0;
      var groupMatches = query && normalise(group.label).indexOf(query) >= 0;
      Array.prototype.forEach.call(group.querySelectorAll("option"), function (option) {
        var match = !query || groupMatches || normalise(option.textContent).indexOf(query) >= 0;
        option.hidden = !match;
        if (match) { visible += 1; }
      });
      group.hidden = visible === 0;
      shown += visible;
    });
    var empty = select.parentNode.querySelector("[data-rule-empty]");
    if (empty) { empty.hidden = shown > 0; }
    return select;
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-rule-filter]")) { filterRules(event.target); }
  });

  // Enter in the filter picks the first rule still shown (and does not submit the form).
  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (event.key !== "Enter" || !input.matches || !input.matches("[data-rule-filter]")) { return; }
    event.preventDefault();
    var select = filterRules(input);
    if (!select) { return; }
    var first = Array.prototype.find.call(select.options, function (o) { return !o.hidden && o.value; });
    if (first && select.value !== first.value) {
      select.value = first.value;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
    select.focus();
  });

  // ---------------------------------------------------------------- photos: scaled down before upload
  function message(input, name, n, names) {
    return (input.getAttribute("data-msg-" + name) || "").replace("{n}", n).replace("{names}", names || "");
  }

  function countText(input, files) {
    var names = Array.prototype.map.call(files, function (f) { return f.name; }).join("、");
    return files.length ? message(input, "selected", files.length, names) : message(input, "none", 0);
  }

  function showCount(input, text) {
    var target = document.querySelector(input.getAttribute("data-count-target"));
    if (target) { target.textContent = text; }
  }

  function decode(file) {
    if (window.createImageBitmap) {
      return window.createImageBitmap(file);
    }
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("decode")); };
      img.src = url;
    });
  }

  // JPEG and PNG larger than the long edge become a JPEG of 1600 px; anything the browser cannot decode
  // (HEIC on most browsers) or that is already small is sent as it is: the server checks it either way.
  function scale(file) {
    if (!/^image\/(jpeg|png)$/.test(file.type)) { return Promise.resolve(file); }
    return decode(file).then(function (image) {
      var w = image.width, h = image.height, edge = Math.max(w, h);
      if (edge <= LONG_EDGE) { return file; }
      var ratio = LONG_EDGE / edge;
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
      var ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";  // a PNG's transparency would turn black in a JPEG
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          if (!blob) { resolve(file); return; }
          var name = file.name.replace(/\.[^.]+$/, "") + ".jpg";
          resolve(new File([blob], name, { type: "image/jpeg", lastModified: file.lastModified }));
        }, "image/jpeg", JPEG_QUALITY);
      });
    }).catch(function () { return file; });
  }

  function setBusy(form, busy) {
    Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (b) {
      b.disabled = busy;
    });
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[type=file][data-scale-photos]")) { return; }
    var files = Array.prototype.slice.call(input.files || []);
    if (!files.length) { showCount(input, countText(input, files)); return; }
    if (!window.DataTransfer) { showCount(input, countText(input, files)); return; }
    var form = input.form;
    showCount(input, message(input, "busy", files.length));
    if (form) { setBusy(form, true); }
    Promise.all(files.map(scale)).then(function (scaled) {
      var transfer = new DataTransfer();
      scaled.forEach(function (f) { transfer.items.add(f); });
      input.files = transfer.files;
      showCount(input, countText(input, input.files));
    }).finally(function () {
      if (form) { setBusy(form, false); }
    });
  });

  // ---------------------------------------------------------------- print buttons (notice, blank sheet)
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-print-page]");
    if (button) {
      event.preventDefault();
      window.print();
    }
  });
})();
