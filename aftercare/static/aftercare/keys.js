// Keyboard shortcuts for every page (the help dialog is aftercare/templates/_keys_help.html).
//   j / k   move the highlight over the rows of a table marked data-keynav
//   Enter/o open the highlighted row (its data-href, or its first link)
//   /       focus the search box in the top bar
//   r / n   reply / internal note on a request page (ticket.js provides the composer)
//   g q     go to the queue
//   ?       show the keys
// Keys are ignored while typing in a field and when a modifier key is held.
(function () {
  "use strict";

  function typing(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function rows() {
    var table = document.querySelector("[data-keynav]");
    if (!table) return [];
    return Array.prototype.slice.call(table.querySelectorAll("tbody tr:not(.empty), [data-href]")).filter(
      function (r, i, all) { return all.indexOf(r) === i && !r.hidden; }
    );
  }

  var current = -1;
  function highlight(delta) {
    var list = rows();
    if (!list.length) return false;
    list.forEach(function (r) { r.classList.remove("key-current"); r.removeAttribute("aria-current"); });
    current = Math.max(0, Math.min(list.length - 1, current + delta));
    var row = list[current];
    row.classList.add("key-current");
    row.setAttribute("aria-current", "true");
    row.scrollIntoView({ block: "nearest" });
    return true;
  }

  function openCurrent() {
    var list = rows();
    var row = list[current];
    if (!row) return false;
    var href = row.dataset.href;
    if (!href) {
      var a = row.querySelector("a[href]");
      href = a && a.getAttribute("href");
    }
    if (href) { window.location.assign(href); return true; }
    return false;
  }

  function searchBox() {
    return document.querySelector("[data-search-box]") ||
      document.querySelector(".topbar input[type=search]") ||
      document.querySelector("input[type=search]");
  }

  function helpDialog() { return document.getElementById("keys-help"); }

  function showHelp() {
    var d = helpDialog();
    if (!d) return false;
    if (typeof d.showModal === "function") { if (!d.open) d.showModal(); } else d.hidden = false;
    return true;
  }

  var pendingG = false, gTimer = null;

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (typing(e.target)) return;
    var d = helpDialog();
    if (d && d.open) return; // the dialog handles Escape itself
    var key = e.key;
    if (pendingG) {
      pendingG = false; window.clearTimeout(gTimer);
      if (key === "q") {
        var queue = document.querySelector("[data-queue-url]");
        if (queue) { window.location.assign(queue.dataset.queueUrl); e.preventDefault(); }
      }
      return;
    }
    var done = false;
    switch (key) {
      case "j": done = highlight(1); break;
      case "k": done = highlight(-1); break;
      case "Enter": case "o":
        // Enter on a focused link or button keeps its meaning; only a highlighted row opens.
        if (key === "Enter" && e.target !== document.body && !e.target.closest("[data-keynav]")) break;
        done = current >= 0 && openCurrent();
        break;
      case "/":
        var box = searchBox();
        if (box) { box.focus(); if (box.select) box.select(); done = true; }
        break;
      case "?": done = showHelp(); break;
      case "r": done = !!(window.aftercareComposer && window.aftercareComposer("reply")); break;
      case "n": done = !!(window.aftercareComposer && window.aftercareComposer("note")); break;
      case "g":
        pendingG = true;
        gTimer = window.setTimeout(function () { pendingG = false; }, 1200);
        break;
    }
    if (done) e.preventDefault();
  });

  document.addEventListener("click", function (e) {
    var close = e.target.closest && e.target.closest("[data-keys-close]");
    if (close) {
      var d = helpDialog();
      if (d && d.open) d.close(); else if (d) d.hidden = true;
    }
  });
})();
