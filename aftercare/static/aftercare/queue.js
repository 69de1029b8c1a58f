// The queue: ticking rows, the bulk bar, select-all, "x" for the current row, and the
// sidebar's marker for the view being looked at. The page works without it (the bulk
// form posts whatever is ticked); this only makes it pleasant.
(function () {
  "use strict";
  var DEFAULT_SORT = "-updated";
  var FILTER_KEYS = ["q", "status", "priority", "category", "level", "organisation", "assignee", "sla"];

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll("#queue tbody input[name=tickets]"));
  }

  // -- selection and the bulk bar ---------------------------------------------------------
  function syncBar() {
    var bar = document.querySelector("[data-bulk-bar]");
    if (!bar) return;
    var all = boxes();
    var ticked = all.filter(function (b) { return b.checked; });
    all.forEach(function (b) {
      var row = b.closest("tr"); if (row) row.classList.toggle("selected", b.checked);
    });
    bar.hidden = ticked.length === 0;
    var count = bar.querySelector("[data-bulk-count]");
    if (count) {
      count.textContent = ticked.length === 1 ? count.dataset.one
        : (count.dataset.many || "%(n)s").replace("%(n)s", String(ticked.length));
    }
    var head = document.querySelector("#queue [data-select-all]");
    if (head) {
      head.checked = all.length > 0 && ticked.length === all.length;
      head.indeterminate = ticked.length > 0 && ticked.length < all.length;
    }
  }
  function syncAction() {
    var bar = document.querySelector("[data-bulk-bar]");
    if (!bar) return;
    var select = bar.querySelector("[data-bulk-action]");
    var action = select ? select.value : "";
    bar.querySelectorAll("[data-bulk-for]").forEach(function (el) {
      el.hidden = el.dataset.bulkFor.split(" ").indexOf(action) < 0;
    });
    var reason = bar.querySelector("[data-bulk-reason]");
    if (reason) reason.required = action === "priority";
  }
  function init() {
    var table = document.getElementById("queue");
    if (!table) return;
    var bar = document.querySelector("[data-bulk-bar]");
    var head = table.querySelector("[data-select-all]");
    if (head) {
      head.addEventListener("change", function () {
        boxes().forEach(function (b) { b.checked = head.checked; });
        syncBar();
      });
    }
    table.addEventListener("change", function (e) {
      if (e.target && e.target.name === "tickets") syncBar();
    });
    if (bar) {
      var select = bar.querySelector("[data-bulk-action]");
      if (select) select.addEventListener("change", syncAction);
      var clear = bar.querySelector("[data-bulk-clear]");
      if (clear) clear.addEventListener("click", function () {
        boxes().forEach(function (b) { b.checked = false; });
        syncBar();
      });
    }
    syncAction();
    syncBar();
  }

  // -- "x": tick the current row (keys.js moves the current row with j/k) --------------
  function currentRow() {
    var table = document.querySelector("#queue[data-keynav]");
    if (!table) return null;
    var marked = table.querySelector(
      "tbody tr.is-current, tbody tr.current, tbody tr.keynav-current, tbody tr[aria-current], " +
      "tbody tr[aria-selected=true], tbody tr[data-current]"
    );
    if (marked) return marked;
    var active = document.activeElement;
    return active && active.closest ? active.closest("#queue tbody tr") : null;
  }
  document.addEventListener("keydown", function (e) {
    if (e.key !== "x" || e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName) && t.name !== "tickets")) return;
    var row = currentRow();
    var box = row && row.querySelector("input[name=tickets]");
    if (!box) return;
    e.preventDefault();
    box.checked = !box.checked;
    syncBar();
  });

  // -- the sidebar marks the view whose filters are on screen -------------------------
  function signature(params) {
    var parts = [];
    FILTER_KEYS.forEach(function (key) {
      var value = (params.get(key) || "").trim();
      if (value && !(key === "status" && value === "open")) parts.push(key + "=" + value);
    });
    return parts.sort().join("\n");
  }
  function markView() {
    var params = new URLSearchParams(window.location.search);
    var current = signature(params);
    var sort = params.get("sort") || DEFAULT_SORT;
    document.querySelectorAll("#queue-sidebar a.view-link").forEach(function (a) {
      var match = a.dataset.filters === current &&
        (a.dataset.sort === undefined || (a.dataset.sort || DEFAULT_SORT) === sort);
      if (match) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
  }

  // On phones the views start folded, so the list comes first.
  function foldViews() {
    var views = document.querySelector("[data-views]");
    if (views && window.matchMedia && window.matchMedia("(max-width: 999px)").matches) views.open = false;
  }

  ready(function () { foldViews(); init(); });
  document.addEventListener("htmx:pushedIntoHistory", markView);
  document.addEventListener("htmx:afterSettle", function (e) {
    var target = e.detail && e.detail.target;
    if (target && target.id === "results") { init(); markView(); }
    if (target && target.id === "queue-views") {
      var aside = document.getElementById("queue-sidebar");
      if (aside) aside.classList.remove("stale");
      markView();
    }
  });
  // A failed count refresh leaves the old numbers, dimmed, rather than passing them off.
  function countsFailed(e) {
    var elt = e.detail && e.detail.elt;
    if (elt && elt.id === "queue-sidebar") elt.classList.add("stale");
  }
  document.addEventListener("htmx:responseError", countsFailed);
  document.addEventListener("htmx:sendError", countsFailed);
})();
