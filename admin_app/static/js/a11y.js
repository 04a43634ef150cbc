/* What a screen reader needs that the stock markup lacks (issue 31), for the portal and the back office:
   grid row checkboxes named by their row, the select-all toggle saying what it selects, filter inputs named by
   their filter, and an error summary (role="alert", focused, linking to each field) on a form that came back
   with errors, with the page title prefixed. Words come from the script tag's data-i18n (Flask-Babel). */
(function () {
  'use strict';
  var me = document.currentScript;
  var t = {};
  try { t = JSON.parse(me.getAttribute('data-i18n') || '{}'); } catch (e) { t = {}; }
  function text(el) { return el ? el.textContent.replace(/\s+/g, ' ').trim() : ''; }

  function nameRows() {
    document.querySelectorAll('input.action-checkbox').forEach(function (box) {
      var row = box.closest('tr');
      if (!row) { return; }
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
    });
  }

  // Adding a filter (Flask-Admin builds its row in script) leaves focus on <body>: move it to the new row.
  var filterRows = document.querySelectorAll('table.filters tr').length;
  function focusNewFilter() {
    var rows = document.querySelectorAll('table.filters tr');
    var added = rows.length > filterRows;
    filterRows = rows.length;
    if (!added) { return; }
    var target = Array.prototype.find.call(rows[rows.length - 1].querySelectorAll('input, select, a, button'),
      function (el) { return el.type !== 'hidden' && el.offsetParent !== null && el.tabIndex >= 0; });
    if (target) { target.focus(); }
  }

  function labelOf(field) {
    var label = field.id && document.querySelector('label[for="' + field.id + '"]');
    if (label) { return text(label); }
    var set = field.closest('fieldset');
    return set ? text(set.querySelector('legend')) : (field.getAttribute('aria-label') || field.name || '');
  }

  function messageOf(field) {
    var ids = (field.getAttribute('aria-describedby') || '').split(' ');
    for (var i = 0; i < ids.length; i++) {
      var el = ids[i] && document.getElementById(ids[i]);
      if (el && el.classList.contains('invalid-feedback')) { return text(el); }
    }
    var group = field.closest('.form-group') || field.parentNode;
    return text(group && group.querySelector('.invalid-feedback'));
  }

  function errorSummary() {
    var fields = Array.prototype.filter.call(document.querySelectorAll('.is-invalid'), function (el) {
      return el.matches('input, select, textarea') && el.type !== 'hidden';
    });
    if (!fields.length || document.querySelector('.error-summary')) { return; }
    var box = document.createElement('div');
    box.className = 'alert alert-danger error-summary';
    box.setAttribute('role', 'alert');
    box.setAttribute('tabindex', '-1');
    var head = document.createElement('p');
    head.className = 'font-weight-bold mb-1';
    head.textContent = (t.summary || 'The form has {n} error(s):').replace('{n}', fields.length);
    box.appendChild(head);
    var list = document.createElement('ul');
    list.className = 'mb-0';
    var seen = {};
    fields.forEach(function (field) {
      var key = field.name || field.id;
      if (seen[key]) { return; }
      seen[key] = true;
      if (!field.id) { field.id = 'field-' + key; }
      var item = document.createElement('li');
      var link = document.createElement('a');
      link.href = '#' + field.id;
      var label = labelOf(field).replace(/[*＊:：\s]+$/, '');
      link.textContent = label + (label ? '：' : '') + messageOf(field);
      link.addEventListener('click', function (e) { e.preventDefault(); field.focus(); });
      item.appendChild(link);
      list.appendChild(item);
    });
    box.appendChild(list);
    var form = fields[0].closest('form');
    form.parentNode.insertBefore(box, form);
    if (document.title.indexOf(t.errorPrefix || 'Error: ') !== 0) {
      document.title = (t.errorPrefix || 'Error: ') + document.title;
    }
    box.focus();
  }

  function run() {
    nameRows();
    nameFilters();
    errorSummary();
    var filters = document.querySelector('table.filters');
    if (filters && window.MutationObserver) {
      new MutationObserver(function () { nameFilters(); focusNewFilter(); })
        .observe(filters, {childList: true, subtree: true});
    }
  }
  if (document.readyState === 'loading') { document.addEventListener('DOMContentLoaded', run); } else { run(); }
}());
