// reflectlab dashboards: draw the Plotly figures whose JSON the page carries in
// <script type="application/json" id="fig-…"> data blocks (no inline script, CSP).
"use strict";
(function () {
  var config = {
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ["lasso2d", "select2d"],
  };

  function draw(root) {
    if (!window.Plotly || !root || !root.querySelectorAll) return;
    root.querySelectorAll("[data-figure]").forEach(function (el) {
      if (el.dataset.drawn === "1") return;
      var block = document.getElementById(el.dataset.figure);
      if (!block) return;
      var figure = JSON.parse(block.textContent);
      el.dataset.drawn = "1";
      window.Plotly.newPlot(el, figure.data || [], figure.layout || {}, config);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  // After an htmx swap of the filtered dashboard.
  document.addEventListener("htmx:load", function (event) { draw(event.detail.elt); });
})();
