// The request-for-a-caller form: find the caller by name, phone or e-mail.
//
// Choosing the organisation is plain htmx (attributes on the select): the page is asked
// again with ?organisation= and only the caller and system fields are swapped, so nothing
// typed elsewhere is lost. This file adds the type-ahead above the caller list; it asks
// /console/callers/ (people of the organisations this agent may see) and, when the person
// picked belongs to another organisation than the one chosen, switches the organisation
// with the caller preselected (#caller-pick travels with the htmx request).
// Without JavaScript the search stays hidden and the caller list works as a plain select.
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    var box = document.querySelector("[data-caller-search]");
    var input = document.getElementById("caller-search");
    var list = document.getElementById("caller-results");
    var status = document.getElementById("caller-search-status");
    var organisation = document.getElementById("id_organisation");
    var pick = document.getElementById("caller-pick");
    if (!box || !input || !list || !organisation || !pick) return;
    box.hidden = false;

    var timer = null;
    var asked = 0;
    var results = [];
    var active = -1;

    function reporter() { return document.getElementById("id_reporter"); }

    function close() {
      list.hidden = true;
      list.textContent = "";
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var items = list.querySelectorAll("[role=option]");
      if (!items.length) return;
      active = (index + items.length) % items.length;
      items.forEach(function (item, i) {
        item.setAttribute("aria-selected", i === active ? "true" : "false");
      });
      input.setAttribute("aria-activedescendant", items[active].id);
      items[active].scrollIntoView({ block: "nearest" });
    }

    function show(found) {
      results = found;
      list.textContent = "";
      active = -1;
      if (!found.length) {
        close();
        status.textContent = input.dataset.none;
        return;
      }
      status.textContent = "";
      found.forEach(function (person, i) {
        var item = document.createElement("li");
        item.id = "caller-option-" + i;
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        item.dataset.index = String(i);
        var name = document.createElement("span");
        name.className = "caller-name";
        name.textContent = person.name;
        var detail = document.createElement("span");
        detail.className = "caller-detail";
        detail.textContent = [person.email, person.phone, person.organisation_name]
          .filter(Boolean).join(" · ");
        item.appendChild(name);
        item.appendChild(detail);
        list.appendChild(item);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function search() {
      var q = input.value.trim();
      if (q.length < 2) { close(); status.textContent = ""; return; }
      var url = new URL(input.dataset.callersUrl, window.location.href);
      url.searchParams.set("q", q);
      if (organisation.value) url.searchParams.set("organisation", organisation.value);
      var ticket = ++asked;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (data) { if (ticket === asked) show(data.results || []); })
        .catch(function () {
          if (ticket !== asked) return;
          close();
          status.textContent = input.dataset.error;
        });
    }

    function choose(index) {
      var person = results[index];
      if (!person) return;
      close();
      input.value = person.name;
      status.textContent = "";
      var select = reporter();
      if (String(organisation.value) === String(person.organisation) && select &&
          select.querySelector('option[value="' + person.id + '"]')) {
        select.value = String(person.id);
        select.dispatchEvent(new Event("change", { bubbles: true }));
        return;
      }
      // Another organisation (or none chosen yet): switch it; htmx reloads the caller
      // and system fields with this caller selected.
      pick.value = String(person.id);
      organisation.value = String(person.organisation);
      organisation.dispatchEvent(new Event("change", { bubbles: true }));
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(search, 200);
    });
    input.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown") { e.preventDefault(); highlight(active + 1); }
      else if (e.key === "ArrowUp") { e.preventDefault(); highlight(active - 1); }
      else if (e.key === "Enter") {
        // Enter picks; it must not submit the request half filled in.
        e.preventDefault();
        choose(active >= 0 ? active : 0);
      } else if (e.key === "Escape") { close(); }
    });
    list.addEventListener("mousedown", function (e) { e.preventDefault(); });  // keep focus
    list.addEventListener("click", function (e) {
      var item = e.target.closest("[role=option]");
      if (item) choose(Number(item.dataset.index));
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
    document.body.addEventListener("htmx:afterSettle", function () { pick.value = ""; });
  });
})();
