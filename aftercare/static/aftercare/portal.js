// Portal: label each cell of a card list with its column's heading (table.list.cards),
// so a table read as cards on a phone still says what each value is. Cells that carry
// their own data-label keep it; without this file the cards simply show the values.
(function () {
  "use strict";
  function label(root) {
    root.querySelectorAll("table.list.cards").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      table.querySelectorAll("tbody tr:not(.empty)").forEach(function (tr) {
        var col = 0;
        Array.prototype.forEach.call(tr.children, function (td) {
          var text = heads[col];
          if (text && col > 0 && !td.hasAttribute("data-label") && !td.classList.contains("card-title")) {
            td.setAttribute("data-label", text);
          }
          col += td.colSpan || 1;
        });
      });
    });
  }
  if (document.readyState !== "loading") label(document);
  else document.addEventListener("DOMContentLoaded", function () { label(document); });
})();
