// Folds whose steps load on demand (issue 16). On a long trace the closed runs
// of execution steps arrive empty; opening one makes htmx fetch its steps
// (hx-get on .fold-body, "toggle once"). So that the page scripts can count
// and address every step before it loads, each empty fold of #trace-steps gets
// hidden placeholder steps (same id and data-i); the fetched steps replace
// them and "reflectlab:steps-loaded" tells workspace.js / steps.js / review.js
// to pick the new elements up. z (open all) fetches every missing step in one
// request. Server-rendered, escaped fragments only; placeholders are built
// with createElement and textContent.
"use strict";
(function () {
  const root = document.getElementById("trace-steps");
  const pending = (scope) => Array.from((scope || document).querySelectorAll("details.fold.lazy > .fold-body:not([data-loaded])"));

  function placeholders(body) {
    const fold = body.parentElement;
    const start = parseInt(fold.dataset.start, 10);
    const stop = parseInt(fold.dataset.stop, 10);
    for (let i = start; i < stop; i++) {
      const el = document.createElement("section");
      el.className = "step k-execution placeholder";
      el.id = `s${i}`;
      el.dataset.i = String(i);
      body.append(el);
    }
  }
  if (root) pending(root).forEach(placeholders);

  function loaded(body) {
    body.dataset.loaded = "1";
    body.parentElement.classList.remove("lazy");
    document.dispatchEvent(new CustomEvent("reflectlab:steps-loaded", { detail: { root: body } }));
  }
  // The page scripts (this one included) run before htmx has processed the page,
  // so a fold they open (the current step restored after a split or merge
  // reloads the page) may toggle before htmx listens, and then it never loads
  // (seen in CI). Once htmx has processed the page ("htmx:load" on the body),
  // such a fold is filled by fetch unless htmx caught its toggle after all.
  if (root) {
    document.addEventListener("htmx:load", (ev) => {
      if (!(ev.target instanceof Element) || !ev.target.contains(root)) return;
      pending(root)
        .filter((body) => body.parentElement.open && !body.classList.contains("htmx-request"))
        .forEach((body) => fill([body], "reload the page"));
    });
  }
  // A fold already filled (by openAll) must not fetch again when it opens.
  document.addEventListener("htmx:beforeRequest", (ev) => {
    const elt = ev.detail && ev.detail.elt;
    if (elt && elt.classList.contains("fold-body") && (elt.dataset.loaded || elt.dataset.filling)) ev.preventDefault();
  });
  // afterSettle, not afterSwap: the fetched steps carry their placeholders' ids, so
  // htmx settles the placeholders' attributes onto them first, then the new ones.
  document.addEventListener("htmx:afterSettle", (ev) => {
    const target = ev.detail && ev.detail.target;
    if (target && target.classList.contains("fold-body")) loaded(target);
  });
  document.addEventListener("htmx:responseError", (ev) => {
    const target = ev.detail && ev.detail.target;
    const wait = target && target.classList.contains("fold-body") && target.querySelector(".fold-wait");
    if (wait) wait.textContent = `These steps did not load (server answered ${ev.detail.xhr.status}); reload the page.`;
  });

  // Fetch the steps of these empty folds in one request and put them in place.
  async function fill(bodies, advice) {
    bodies.forEach((body) => { body.dataset.filling = "1"; });
    const url = new URL(bodies[0].getAttribute("hx-get"), location.href);
    url.searchParams.set("start", bodies[0].parentElement.dataset.start);
    url.searchParams.set("stop", bodies[bodies.length - 1].parentElement.dataset.stop);
    const resp = await fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } }).catch(() => null);
    if (!resp || !resp.ok) {
      const why = resp ? `the server answered ${resp.status}` : "offline";
      bodies.forEach((body) => {
        delete body.dataset.filling;
        const wait = body.querySelector(".fold-wait");
        if (wait) wait.textContent = `These steps did not load (${why}); ${advice}.`;
      });
      return false;
    }
    const holder = document.createElement("template");
    holder.innerHTML = await resp.text(); // server-rendered, escaped steps
    const byIndex = new Map();
    holder.content.querySelectorAll("section.step").forEach((el) => byIndex.set(el.dataset.i, el));
    for (const body of bodies) {
      const start = parseInt(body.parentElement.dataset.start, 10);
      const stop = parseInt(body.parentElement.dataset.stop, 10);
      const steps = [];
      for (let i = start; i < stop; i++) if (byIndex.has(String(i))) steps.push(byIndex.get(String(i)));
      body.replaceChildren(...steps);
      delete body.dataset.filling;
      loaded(body);
    }
    return true;
  }

  // Open (or close) every fold of #trace-steps; the missing steps come in one request.
  async function toggleAll() {
    if (!root) return;
    const folds = Array.from(root.querySelectorAll("details.fold"));
    const open = folds.some((d) => !d.open);
    const bodies = open ? pending(root) : [];
    // On failure opening them now would send one request per fold: leave them closed.
    if (bodies.length && !(await fill(bodies, "open the fold again or reload"))) return;
    folds.forEach((d) => { d.open = open; });
  }
  window.reflectlabFolds = { toggleAll };
})();
