/* Review grid and staff card: "select all matching" (no inline handlers: the CSP forbids them). */
(function () {
  'use strict';

  function json(id, fallback) {
    var el = document.getElementById(id);
    if (!el) { return fallback; }
    try { return JSON.parse(el.textContent); } catch (e) { return fallback; }
  }

  // A background export's page: poll its JSON status, move the bar, show the download link when done.
  var job = document.getElementById('export-job');
  if (job) {
    var bar = document.getElementById('export-progress');
    var text = document.getElementById('export-text');
    var link = document.getElementById('export-download');
    var poll = function () {
      fetch(job.getAttribute('data-status-url'), {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) { return; }
          bar.style.width = s.percent + '%';
          bar.setAttribute('aria-valuenow', s.percent);
          bar.textContent = s.percent + '%';
          if (s.status === 'done') {
            bar.classList.remove('progress-bar-animated');
            text.textContent = job.getAttribute('data-text-done').replace('{n}', s.done);
            link.setAttribute('href', s.download_url);
            link.classList.remove('d-none');
          } else if (s.status === 'failed') {
            bar.classList.remove('progress-bar-animated');
            bar.classList.add('bg-danger');
            text.textContent = s.error || '';
          } else {
            text.textContent = job.getAttribute('data-text-running').replace('{done}', s.done).replace('{total}', s.total);
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    if (job.getAttribute('data-status') === 'queued' || job.getAttribute('data-status') === 'running') { poll(); }
  }

  // The 单位 and 地区 filters: ajax pickers offering only institutions / regions in the admin's scope.
  var pickers = json('institution-picker-data', null);

  function pickerFor(name) {
    if (!pickers || !name) { return null; }
    for (var key in pickers) {
      if (Object.prototype.hasOwnProperty.call(pickers, key) && name.slice(-(pickers[key].arg.length + 1)) === '_' + pickers[key].arg) {
        return pickers[key];
      }
    }
    return null;
  }

  function enhance(input) {
    var $ = window.jQuery;
    if (!$ || !$.fn.select2 || input.getAttribute('data-picker')) { return; }
    var p = pickerFor(input.getAttribute('name'));
    if (!p) { return; }
    input.setAttribute('data-picker', '1');
    input.setAttribute('type', 'hidden');
    $(input).select2({
      width: '22em',
      placeholder: p.placeholder,
      minimumInputLength: 0,
      ajax: {
        url: p.url,
        dataType: 'json',
        quietMillis: 250,
        data: function (term, page) { return {query: term, offset: (page - 1) * 10, limit: 10}; },
        results: function (data) {
          return {results: data.map(function (v) { return {id: v[0], text: v[1]}; }), more: data.length === 10};
        }
      },
      initSelection: function (element, callback) {
        var v = element.val();
        callback(v ? {id: v, text: p.labels[v] || v} : null);
      }
    });
  }

  function scanFilters() {
    Array.prototype.forEach.call(document.querySelectorAll('#filter_form input.filter-val'), enhance);
  }
  scanFilters();
  document.addEventListener('click', function (e) {
    if (e.target.closest && e.target.closest('.field-filters a.filter')) { window.setTimeout(scanFilters, 0); }
  });

  // 单位确认码: the copy button (the clipboard API where the page is a secure context, else a selection + copy).
  Array.prototype.forEach.call(document.querySelectorAll('[data-copy]'), function (btn) {
    var target = document.querySelector(btn.getAttribute('data-copy'));
    var status = btn.parentNode.querySelector('[data-copy-status]');
    function say(text) { if (status) { status.textContent = text; } }
    function fallback() {
      var range = document.createRange();
      range.selectNodeContents(target);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      say(btn.getAttribute(ok ? 'data-copied-text' : 'data-copy-failed-text'));
    }
    btn.addEventListener('click', function () {
      if (!target) { return; }
      var text = target.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { say(btn.getAttribute('data-copied-text')); }, fallback);
      } else {
        fallback();
      }
    });
  });

  var form = document.getElementById('review_form');
  if (!form) { return; }
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
    if (e.target.classList.contains('action-rowtoggle')) {
      // What actions.js does too; done here as well, since its handler is bound only once the document is ready.
      Array.prototype.forEach.call(boxes(), function (b) { b.checked = e.target.checked; });
    }
    if (e.target.classList.contains('action-checkbox') || e.target.classList.contains('action-rowtoggle')) {
      window.setTimeout(refresh, 0);  // after actions.js has ticked the rows for the header box
    }
  });

  // A header box ticked before the scripts ran (a slow connection) selects its page's rows, as actions.js would.
  if (Array.prototype.some.call(document.querySelectorAll('input.action-rowtoggle'), function (t) { return t.checked; })) {
    Array.prototype.forEach.call(boxes(), function (b) { b.checked = true; });
    refresh();
  }

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
}());
