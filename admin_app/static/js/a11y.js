/* What a screen reader needs that the stock markup lacks (issue 31), for the portal and the back office:
   grid row checkboxes named by their row, the select-all toggle saying what it selects, filter inputs named by
   their filter, and focus on the error summary the page renders when a form came back with errors. Words come
   from the script tag's data-i18n (Flask-Babel). */
(function () {
  'use strict';
  var me = document.currentScript;
  var t = {};
  try { t = JSON.parse(me.getAttribute('data-i18n') || '{}'); } catch (e) { t = {}; }
  function text(el) { return el ? el.textContent.replace(/\s+/g, ' ').trim() : ''; }

  function nameRows() {
    document.querySelectorAll('input.action-checkbox').forEach(function (box) {
      var row = box.closest('tr');
      // A grid drawn by views/list_table.py names its boxes itself (the same words, from the row's data).
      if (!row || box.hasAttribute('aria-label')) { return; }
      // The name and the phone the grid shows, masked as 138****0010; else the first data cell. Never an ID number.
      var phone = text(row.querySelector('td.col-phone')).replace(/^(\d{3})\d{4}(\d{4})$/, '$1****$2');
      var parts = [text(row.querySelector('td.col-name')), phone].filter(Boolean);
      if (!parts.length) {
        var cell = row.querySelector('td:not(.list-checkbox-column):not(.list-buttons-column)');
        if (cell) { parts.push(text(cell)); }
      }
      box.setAttribute('aria-label', (t.select || 'Select') + ' ' + parts.join(' '));
    });
    var n = document.querySelectorAll('input.action-checkbox').length;
    document.querySelectorAll('input.action-rowtoggle').forEach(function (box) {
      box.setAttribute('aria-label', (t.selectPage || 'Select all {n} rows on this page').replace('{n}', n));
    });
  }

  function nameFilters() {
    document.querySelectorAll('table.filters tr').forEach(function (row) {
      var name = text(row.querySelector('.remove-filter')).replace(/^[\u00d7x]\s*/, '');
      if (!name) { return; }
      row.querySelectorAll('select.filter-op').forEach(function (el) {
        el.setAttribute('aria-label', name + ' ' + (t.condition || 'condition'));
      });
      row.querySelectorAll('input:not([type=hidden]), select.filter-val').forEach(function (el) {
        if (el.classList.contains('filter-op')) { return; }
        el.setAttribute('aria-label', name);
        if (el.tagName === 'INPUT' && el.getAttribute('role')) { el.removeAttribute('role'); }
      });
      var remove = row.querySelector('.remove-filter');
      if (remove) { remove.setAttribute('aria-label', (t.removeFilter || 'Remove filter') + ' ' + name); }
      // A list filter's chosen values (select2 tags) each have a close link with no text.
      row.querySelectorAll('.select2-search-choice').forEach(function (chip) {
        var close = chip.querySelector('.select2-search-choice-close');
        if (close) { close.setAttribute('aria-label', (t.remove || 'Remove') + ' ' + text(chip)); }
      });
    });
  }

  // The date picker's start/end labels name ids its inputs lack (bootstrap-daterangepicker 1.3): give each
  // picker's inputs ids of their own.
  var pickers = 0;
  function labelDatePickers() {
    document.querySelectorAll('.daterangepicker label[for]').forEach(function (label) {
      if (document.getElementById(label.htmlFor)) { return; }
      var box = label.closest('.daterangepicker');
      var input = box && box.querySelector('input[name="' + label.htmlFor + '"]');
      if (!input) { return; }
      if (!input.id) { input.id = label.htmlFor + '-' + (++pickers); }
      label.htmlFor = input.id;
    });
  }

  // Adding a filter from the menu (Flask-Admin builds its row in script) leaves focus on <body>: move it to the
  // new row. Rows built as the page loads (the filters of the URL) leave focus where it is.
  var filterRows = document.querySelectorAll('table.filters tr').length;
  var filterChosen = false;
  document.addEventListener('click', function (e) {
    if (e.target.closest && e.target.closest('.field-filters a.filter')) { filterChosen = true; }
  }, true);
  function focusNewFilter() {
    var rows = document.querySelectorAll('table.filters tr');
    var added = rows.length > filterRows && filterChosen;
    filterRows = rows.length;
    if (!added) { return; }
    filterChosen = false;
    var target = Array.prototype.find.call(rows[rows.length - 1].querySelectorAll('input, select, a, button'),
      function (el) { return el.type !== 'hidden' && el.offsetParent !== null && el.tabIndex >= 0; });
    if (target) { target.focus(); }
  }

  // The error summary is rendered by the page (templates/_error_summary.html): move focus to it, so a screen
  // reader reads it at once. Its links are plain fragments (every id on a page is unique) that focus a field
  // without script; a link to a radio group's fieldset focuses its first choice here.
  function focusErrorSummary() {
    var box = document.querySelector('.error-summary');
    if (!box) { return; }
    box.querySelectorAll('a[href^="#"]').forEach(function (link) {
      link.addEventListener('click', function (e) {
        var target = document.getElementById(link.getAttribute('href').slice(1));
        if (!target) { return; }
        var field = target.matches('input, select, textarea') ? target
          : target.querySelector('input:not([type=hidden]), select, textarea');
        if (field) { e.preventDefault(); field.focus(); }
      });
    });
    // On a slow connection the user may already be typing in a field when this script runs: leave him there.
    var active = document.activeElement;
    if (!active || active === document.body || active === document.documentElement) { box.focus(); }
  }

  function run() {
    nameRows();
    nameFilters();
    labelDatePickers();
    focusErrorSummary();
    var filters = document.querySelector('table.filters');
    if (filters && window.MutationObserver) {
      new MutationObserver(function () { nameFilters(); labelDatePickers(); focusNewFilter(); })
        .observe(filters, {childList: true, subtree: true});
    }
  }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', run); } else { run(); }
}());
