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
  });
})();
