// Impact drawing: click a box to highlight the dependency path that explains it.
(function () {
  "use strict";
  var svg = document.getElementById("impact-graph");
  if (!svg) { return; }
  svg.addEventListener("click", function (event) {
    var node = event.target.closest(".node");
    svg.querySelectorAll(".on").forEach(function (el) { el.classList.remove("on"); });
    if (!node) { return; }
    var path = (node.getAttribute("data-path") || "").split(" ").filter(Boolean);
    var keys = new Set(path.concat([node.getAttribute("data-key")]));
    svg.querySelectorAll(".node").forEach(function (el) {
      if (keys.has(el.getAttribute("data-key"))) { el.classList.add("on"); }
    });
    svg.querySelectorAll("line").forEach(function (line) {
      if (keys.has(line.getAttribute("data-from")) && keys.has(line.getAttribute("data-to"))) {
        line.classList.add("on");
      }
    });
  });
})();
