// CMDB web UI: progressive enhancements only; every page works without JavaScript.
(function () {
  "use strict";

  // "Select all" checkbox on list pages.
  document.querySelectorAll("input[data-select-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelectorAll("input[name=pk]").forEach(function (cb) { cb.checked = box.checked; });
    });
  });

  // Dependent choices: a <select data-depends-on="site" data-options-url="/api/dcim/racks/" data-filter="site_id">
  // reloads its options from the API (session-authenticated, permission-filtered) when the parent changes.
  document.querySelectorAll("select[data-depends-on]").forEach(function (child) {
    var form = child.form;
    var parent = form && form.elements[child.dataset.dependsOn];
    if (!parent) { return; }
    parent.addEventListener("change", function () {
      var keep = child.value;
      var url = child.dataset.optionsUrl + "?brief=1&limit=0";
      if (parent.value) {
        url += "&" + encodeURIComponent(child.dataset.filter) + "=" + encodeURIComponent(parent.value);
      }
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { results: [] }; })
        .then(function (data) {
          child.innerHTML = "";
          var blank = document.createElement("option");
          blank.value = ""; blank.textContent = "---------";
          child.appendChild(blank);
          data.results.forEach(function (obj) {
            var opt = document.createElement("option");
            opt.value = obj.id; opt.textContent = obj.display;
            if (String(obj.id) === keep) { opt.selected = true; }
            child.appendChild(opt);
          });
        });
    });
  });
})();
