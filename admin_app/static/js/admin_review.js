/* Review grid and staff card: confirmations and "select all matching" (no inline handlers: the CSP forbids them). */
(function () {
  'use strict';

  function json(id, fallback) {
    var el = document.getElementById(id);
    if (!el) { return fallback; }
    try { return JSON.parse(el.textContent); } catch (e) { return fallback; }
  }

  // Single-row forms of the staff card ask before they post.
  Array.prototype.forEach.call(document.querySelectorAll('form[data-confirm]'), function (f) {
    f.addEventListener('submit', function (e) {
      if (!window.confirm(f.getAttribute('data-confirm'))) { e.preventDefault(); }
    });
  });

  // Filter menu entries are plain links; Flask-Admin's script adds the filter row.
  Array.prototype.forEach.call(document.querySelectorAll('.field-filters a.filter'), function (a) {
    a.addEventListener('click', function (e) { e.preventDefault(); });
  });

  var form = document.getElementById('review_form');
  if (!form) { return; }
  var data = document.getElementById('review-data');
  var confirmations = json('actions-confirmation-data', {});
  var selectAll = document.getElementById('select_all');
  var banner = document.getElementById('select-all-banner');

  function boxes() { return form.querySelectorAll('input.action-checkbox'); }
  function checked() { return form.querySelectorAll('input.action-checkbox:checked').length; }

  function show(el, on) { if (el) { el.classList.toggle('d-none', !on); } }

  function setSelectAll(on) {
    selectAll.value = on ? '1' : '0';
    if (!banner) { return; }
    show(banner.querySelector('.select-page-text'), !on);
    show(banner.querySelector('.select-all-matching'), !on);
    show(banner.querySelector('.select-all-text'), on);
    show(banner.querySelector('.select-all-clear'), on);
  }

  function refresh() {
    var all = boxes().length > 0 && checked() === boxes().length;
    show(banner, all);
    if (!all) { setSelectAll(false); }
  }

  form.addEventListener('change', function (e) {
    if (e.target.classList.contains('action-checkbox') || e.target.classList.contains('action-rowtoggle')) {
      window.setTimeout(refresh, 0);  // after actions.js has ticked the rows for the header box
    }
  });

  if (banner) {
    banner.addEventListener('click', function (e) {
      if (e.target.classList.contains('select-all-matching')) { setSelectAll(true); }
      if (e.target.classList.contains('select-all-clear')) {
        Array.prototype.forEach.call(boxes(), function (b) { b.checked = false; });
        Array.prototype.forEach.call(form.querySelectorAll('input.action-rowtoggle'), function (b) { b.checked = false; });
        refresh();
      }
    });
  }

  form.addEventListener('submit', function (e) {
    var name = e.submitter ? e.submitter.value : '';
    if (!checked() && selectAll.value !== '1') {
      e.preventDefault();
      window.alert(data ? data.getAttribute('data-none-selected') : '');
      return;
    }
    var msg = confirmations[name] || '';
    if (selectAll.value === '1' && data) { msg = data.getAttribute('data-select-all-confirm') + (msg ? '\n' + msg : ''); }
    if (msg && !window.confirm(msg)) { e.preventDefault(); }
  });
}());
