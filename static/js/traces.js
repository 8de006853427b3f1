// The trace list's selection bar: "select all on this page", the selected count,
// and buttons that wait for a selection. The form works without it (the server
// checks every selection); this only keeps the bar honest. No inline scripts (CSP).
"use strict";
(() => {
  const rows = () => Array.from(document.querySelectorAll("#bulk-form input[name=ids]"));

  function refresh() {
    const bar = document.getElementById("selection-bar");
    if (!bar) return;
    const boxes = rows();
    const matching = document.getElementById("select-matching");
    const all = matching && matching.checked;
    const ticked = boxes.filter((box) => box.checked).length;
    const page = document.getElementById("select-page");
    for (const box of boxes) {
      box.disabled = all;  // the filter is the selection: the ticks are not sent
      box.closest("tr").classList.toggle("selected", all || box.checked);
    }
    page.checked = all || (boxes.length > 0 && ticked === boxes.length);
    page.indeterminate = !all && ticked > 0 && ticked < boxes.length;
    page.disabled = all;
    const count = document.getElementById("selection-count");
    if (all) {
      count.textContent = `all ${matching.dataset.count} selected`;
    } else {
      count.textContent = ticked ? `${ticked} selected` : "none selected";
    }
    bar.classList.toggle("active", all || ticked > 0);
    for (const button of bar.querySelectorAll("button[type=submit]")) {
      button.disabled = !(all || ticked > 0);
    }
  }

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.id === "select-page") {
      for (const box of rows()) box.checked = target.checked;
    }
    if (target.id === "select-page" || target.id === "select-matching" || target.name === "ids") {
      refresh();
    }
  });
  document.addEventListener("DOMContentLoaded", refresh);
  document.addEventListener("htmx:afterSwap", refresh);  // a new page of rows
  refresh();
})();
