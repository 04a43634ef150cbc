/* Forms that change something irreversibly ask first: data-confirm on the form or on the pressed button, and
   data-confirm-all on a grid's form while its select_all field says "every row that matches" (asked first); a button
   with data-needs-rows asks for a ticked row. Loaded in <head> without defer, so it has run before the page is
   drawn: on a slow connection no such button can be pressed before its question is in place (the page's other
   scripts may still be on their way). One listener on the document: it needs none of the page's elements. */
(function () {
  'use strict';
  document.addEventListener('submit', function (e) {
    var f = e.target, b = e.submitter;
    if (!f.getAttribute) { return; }
    var all = f.elements && f.elements.namedItem('select_all');
    var everything = !!(all && all.value === '1');
    if (b && b.hasAttribute('data-needs-rows') && !everything && !f.querySelector('input.action-checkbox:checked')) {
      e.preventDefault();
      window.alert(b.getAttribute('data-needs-rows'));
      return;
    }
    var msg = [everything ? f.getAttribute('data-confirm-all') : '',
               (b && b.getAttribute('data-confirm')) || f.getAttribute('data-confirm')]
      .filter(Boolean).join('\n');
    if (msg && !window.confirm(msg)) { e.preventDefault(); }
  });
}());
