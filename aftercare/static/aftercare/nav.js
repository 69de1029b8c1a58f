// The top bar: a menu button on phones, and a "More" menu that takes the links that do not
// fit on one line on wider screens. Without this file the links simply wrap, and every one
// of them stays reachable.
(function () {
  "use strict";
  var COMPACT = "(max-width: 760px)";

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    var bar = document.querySelector("[data-topbar]");
    if (!bar) return;
    var toggle = bar.querySelector("[data-nav-toggle]");
    var nav = bar.querySelector(".mainnav");
    if (!toggle || !nav) return;
    var compact = window.matchMedia(COMPACT);
    bar.classList.add("js-nav");

    // -- the menu button (phones) --------------------------------------------------
    function setOpen(open) {
      bar.classList.toggle("nav-open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
    toggle.addEventListener("click", function () {
      setOpen(!bar.classList.contains("nav-open"));
    });
    document.addEventListener("keydown", function (e) {
      if (e.key !== "Escape") return;
      if (bar.classList.contains("nav-open") && compact.matches) {
        setOpen(false);
        toggle.focus();
      }
      if (more && more.open && !compact.matches) {
        more.open = false;
        more.querySelector("summary").focus();
      }
    });

    // -- the "More" menu (wider screens) ---------------------------------------------
    var more = nav.querySelector("details.nav-more");
    if (!more) {
      more = document.createElement("details");
      more.className = "nav-more";
      var summary = document.createElement("summary");
      summary.textContent = nav.getAttribute("data-more-label") || "More";
      var list = document.createElement("div");
      list.className = "nav-more-menu";
      more.appendChild(summary);
      more.appendChild(list);
      nav.appendChild(more);
    }
    var menu = more.querySelector(".nav-more-menu");
    var moved = []; // links taken from the bar, most recent first

    function markActive() {
      more.classList.toggle("active", !!menu.querySelector("a.active"));
      more.classList.toggle("has-count", !!menu.querySelector(".nav-count"));
      more.hidden = menu.children.length === 0;
    }
    function restore() {
      while (moved.length) nav.insertBefore(moved.shift(), more);
    }
    function wrapped() {
      // A link sits on a second line when its top is below the first link's bottom.
      var items = Array.prototype.filter.call(nav.children, function (el) {
        return !el.hidden && el.offsetParent !== null;
      });
      if (items.length < 2) return false;
      var limit = items[0].getBoundingClientRect().bottom - 2;
      return items.some(function (el) { return el.getBoundingClientRect().top >= limit; });
    }
    function fit() {
      restore();
      if (compact.matches) {
        // The phone menu lists every link; the "More" group is simply open in it.
        more.open = true;
        markActive();
        return;
      }
      more.hidden = false;
      var guard = 40;
      while (guard-- > 0 && wrapped()) {
        var links = nav.querySelectorAll(":scope > a");
        if (!links.length) break;
        var last = links[links.length - 1];
        moved.unshift(last);
        menu.insertBefore(last, menu.firstChild);
      }
      markActive();
    }
    var wasCompact = compact.matches;
    function onChange() {
      if (wasCompact && !compact.matches) { more.open = false; setOpen(false); }
      wasCompact = compact.matches;
      fit();
    }
    if (compact.addEventListener) compact.addEventListener("change", onChange);
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) window.cancelAnimationFrame(pending);
      pending = window.requestAnimationFrame(function () { pending = null; fit(); });
    });
    // Close the "More" menu when clicking elsewhere.
    document.addEventListener("click", function (e) {
      if (more.open && !compact.matches && !more.contains(e.target)) more.open = false;
    });
    fit();
    if (document.fonts && document.fonts.ready) document.fonts.ready.then(fit);
    window.addEventListener("load", fit);
  });
})();
