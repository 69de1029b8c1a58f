// Aftercare: small progressive enhancements. Everything works without this file.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  var dragged = null;
  function init(root) {
    // Submit a form when its select changes (language switcher, quick filters).
    root.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
    // Select a read-only value (a new API token) when it gets focus.
    root.querySelectorAll("input[data-select-on-focus]").forEach(function (el) {
      el.addEventListener("focus", function () { el.select(); });
    });
    // Show the reason field only for transitions that need one.
    root.querySelectorAll("form[data-transition-form]").forEach(function (form) {
      var select = form.querySelector("select[name=target]");
      var reason = form.querySelector("[data-reason-field]");
      if (!select || !reason) return;
      function sync() {
        var opt = select.options[select.selectedIndex];
        reason.hidden = !(opt && opt.dataset.reason === "1");
      }
      select.addEventListener("change", sync); sync();
    });
    // Board: drag a card onto a column to perform the same checked transition.
    root.querySelectorAll(".card[draggable=true]").forEach(function (card) {
      card.addEventListener("dragstart", function (e) {
        dragged = card; card.classList.add("dragging");
        e.dataTransfer.setData("text/plain", card.dataset.ticket);
      });
      card.addEventListener("dragend", function () { card.classList.remove("dragging"); dragged = null; });
    });
    root.querySelectorAll(".board-column[data-status]").forEach(function (col) {
      col.addEventListener("dragover", function (e) {
        if (!dragged) return;
        var allowed = (dragged.dataset.targets || "").split(" ");
        if (allowed.indexOf(col.dataset.status) >= 0) { e.preventDefault(); col.classList.add("drop-ok"); }
      });
      col.addEventListener("dragleave", function () { col.classList.remove("drop-ok"); });
      col.addEventListener("drop", function (e) {
        e.preventDefault(); col.classList.remove("drop-ok");
        if (!dragged) return;
        var form = dragged.querySelector("form.card-move");
        if (!form) return;
        var needsReason = (dragged.dataset.reasonTargets || "").split(" ").indexOf(col.dataset.status) >= 0;
        var reason = "";
        if (needsReason) {
          reason = window.prompt(form.dataset.reasonPrompt || "Reason");
          if (!reason) return;
        }
        form.querySelector("select[name=target]").value = col.dataset.status;
        var r = form.querySelector("input[name=reason]"); if (r) r.value = reason;
        form.submit();
      });
    });
  }
  ready(function () { init(document); });
  // htmx replaced part of the page (filters): wire up what came in.
  document.addEventListener("htmx:afterSettle", function (e) { init(e.target); });
  // A filter refresh that failed must not leave the old rows under the new filters:
  // hide them and say so; the next successful refresh brings them back.
  function filterForm(e) {
    var elt = e.detail && e.detail.elt;
    return elt && elt.closest ? elt.closest("form[data-refresh-error]") : null;
  }
  function refreshFailed(e) {
    if (!filterForm(e)) return;
    var results = document.getElementById("results");
    var error = document.getElementById("refresh-error");
    if (results) results.hidden = true;
    if (error) error.hidden = false;
  }
  document.addEventListener("htmx:responseError", refreshFailed);
  document.addEventListener("htmx:sendError", refreshFailed);
  document.addEventListener("htmx:beforeRequest", function (e) {
    if (!filterForm(e)) return;
    var error = document.getElementById("refresh-error");
    if (error) error.hidden = true;
  });
})();
