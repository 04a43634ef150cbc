/* Back-office behaviour shared by every grid. No inline handlers anywhere: the CSP forbids them. */
(function () {
  'use strict';
  document.addEventListener('click', function (e) {
    // "With selected" menu items (templates/admin/actions.html) run Flask-Admin's bulk action.
    var item = e.target.closest('.dropdown-item[data-action]');
    if (item && window.modelActions) {
      e.preventDefault();
      window.modelActions.execute(item.getAttribute('data-action'));
    }
    // Filter menu entries are javascript: links the CSP blocks; Flask-Admin's own script adds the filter row.
    if (e.target.closest('.field-filters a.filter')) { e.preventDefault(); }
  });
  // Flask-Admin's menu toggles are javascript: links too, and Bootstrap's handler stops the click from reaching the
  // listener above: cancel their navigation (the CSP would block and report it) before anyone else sees the click.
  document.addEventListener('click', function (e) {
    if (e.target.closest && e.target.closest('a[href^="javascript:"]')) { e.preventDefault(); }
  }, true);
  // Forms that change something irreversibly ask first: js/confirm.js, loaded in <head> so it is in place in time.
})();
