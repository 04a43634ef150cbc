/* The user menu (a <details>): Escape or a click outside closes it. It works without this file. */
(function () {
  "use strict";
  function closeAll(except) {
    document.querySelectorAll("[data-user-menu][open]").forEach(function (d) {
      if (d !== except) { d.removeAttribute("open"); }
    });
  }
  document.addEventListener("click", function (ev) {
    closeAll(ev.target.closest ? ev.target.closest("[data-user-menu]") : null);
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape") { return; }
    var open = document.querySelector("[data-user-menu][open]");
    if (open) { open.removeAttribute("open"); open.querySelector("summary").focus(); }
  });
})();
