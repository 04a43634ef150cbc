/* Registry grids and forms of the back office. No inline handlers (the CSP forbids them):
   bulk-action buttons ask for at least one ticked row and for confirmation (forms with data-confirm: admin.js). */
(function () {
  "use strict";
  document.querySelectorAll("button[data-needs-rows]").forEach(function (btn) {
    btn.addEventListener("click", function (ev) {
      var form = btn.form;
      if (form && !form.querySelector("input.action-checkbox:checked")) {
        ev.preventDefault();
        window.alert(btn.getAttribute("data-needs-rows"));
        return;
      }
      var msg = btn.getAttribute("data-confirm");
      if (msg && !window.confirm(msg)) { ev.preventDefault(); }
    });
  });
})();
