/* @mentions in internal notes: typing "@" followed by letters offers the colleagues who
 * may see the request; Enter, Tab or a click inserts "@username ". The server decides who
 * is told (only people who may see the request); this only helps to spell the name. */
(function () {
  "use strict";
  function init() {
    var root = document.getElementById("ticket-root");
    var area = document.getElementById("composer_body");
    if (!root || !area || !root.dataset.mentionsUrl) return;
    var box = document.createElement("ul");
    box.className = "mention-box";
    box.id = "mention-box";
    box.setAttribute("role", "listbox");
    box.hidden = true;
    area.parentNode.style.position = "relative";
    area.parentNode.appendChild(box);
    area.setAttribute("aria-autocomplete", "list");
    area.setAttribute("aria-controls", "mention-box");
    var items = [], active = 0, timer = null, seq = 0;

    function noteMode() {
      var form = document.getElementById("composer");
      return form && form.classList.contains("mode-note");
    }
    function token() {
      var upto = area.value.slice(0, area.selectionStart);
      var m = /(^|[\s(])@([\w.+-]{0,30})$/.exec(upto);
      return m ? { text: m[2], start: upto.length - m[2].length - 1 } : null;
    }
    function close() { box.hidden = true; items = []; }
    function render() {
      box.textContent = "";
      items.forEach(function (p, i) {
        var li = document.createElement("li");
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", i === active ? "true" : "false");
        li.textContent = p.name;
        var small = document.createElement("span");
        small.className = "muted small";
        small.textContent = "@" + p.username;
        li.appendChild(small);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
        box.appendChild(li);
      });
      box.style.left = "0";
      box.style.top = (area.offsetTop + area.offsetHeight) + "px";
      box.hidden = items.length === 0;
    }
    function pick(i) {
      var t = token();
      if (!t || !items[i]) return close();
      var before = area.value.slice(0, t.start), after = area.value.slice(area.selectionStart);
      var insert = "@" + items[i].username + " ";
      area.value = before + insert + after;
      var pos = before.length + insert.length;
      area.setSelectionRange(pos, pos);
      area.dispatchEvent(new Event("input", { bubbles: true }));
      close();
      area.focus();
    }
    function lookup() {
      var t = token();
      if (!noteMode() || !t) return close();
      var mine = ++seq;
      fetch(root.dataset.mentionsUrl + "?q=" + encodeURIComponent(t.text), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { people: [] }; })
        .then(function (data) {
          if (mine !== seq) return;
          items = data.people || []; active = 0; render();
        })
        .catch(close);
    }
    area.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(lookup, 120); });
    area.addEventListener("keydown", function (e) {
      if (box.hidden) return;
      if (e.key === "ArrowDown") { active = (active + 1) % items.length; render(); e.preventDefault(); }
      else if (e.key === "ArrowUp") { active = (active + items.length - 1) % items.length; render(); e.preventDefault(); }
      else if (e.key === "Enter" || e.key === "Tab") { pick(active); e.preventDefault(); }
      else if (e.key === "Escape") { close(); e.preventDefault(); e.stopPropagation(); }
    });
    area.addEventListener("blur", function () { setTimeout(close, 150); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
