/* Flask-Admin's date pickers (bootstrap-daterangepicker 1.3) and select2 (3.5) have English built in: give them the
   page's labels (#picker-locale-data, admin/hwr_base.html). Loaded after jQuery and select2, before the page's own
   scripts load the date picker and build the filters of the page (some while the page is still loading). */
(function () {
  'use strict';
  var data = document.getElementById('picker-locale-data');
  var $ = window.jQuery;
  if (!data || !$) { return; }
  var loc = JSON.parse(data.textContent);

  function localised(picker) {
    return function (options, callback) {
      return picker.call(this, $.extend(true, {locale: loc.daterangepicker}, options || {}), callback);
    };
  }
  // The date picker script defines $.fn.daterangepicker later on list and edit pages: wrap it as it arrives.
  var picker = $.fn.daterangepicker ? localised($.fn.daterangepicker) : undefined;
  Object.defineProperty($.fn, 'daterangepicker', {
    configurable: true,
    get: function () { return picker; },
    set: function (fn) { picker = localised(fn); }
  });

  if ($.fn.select2 && $.fn.select2.defaults) {
    $.extend($.fn.select2.defaults, {
      formatNoMatches: function () { return loc.select2.noMatches; },
      formatSearching: function () { return loc.select2.searching; },
      formatLoadMore: function () { return loc.select2.loadMore; },
      formatMatches: function (n) {
        return n === 1 ? loc.select2.oneMatch : loc.select2.matches.replace('%(n)s', String(n));
      },
      formatInputTooShort: function (input, min) {
        return loc.select2.inputTooShort.replace('%(n)s', String(min - input.length));
      }
    });
  }
})();
