"""Checks the a11y crawl runs on every page it reaches, besides axe-core (issue 31): ids and the references to
them, English in a Chinese page, and a keyboard walk (Tab from the top until focus comes round again)."""
import re

from playwright.sync_api import Page

# ------------------------------------------------------------------------------------------------------ ids

IDS_JS = """() => {
  const ids = Array.from(document.querySelectorAll('[id]'), el => el.id);
  const seen = new Set(), dup = new Set();
  ids.forEach(id => { if (seen.has(id)) { dup.add(id); } seen.add(id); });
  const out = Array.from(dup, id => 'duplicate id ' + id);
  document.querySelectorAll('label[for]').forEach(l => {
    if (!document.getElementById(l.htmlFor)) { out.push('label for a missing id ' + l.htmlFor); } });
  document.querySelectorAll('[aria-describedby], [aria-labelledby], [aria-controls]').forEach(el => {
    ['aria-describedby', 'aria-labelledby', 'aria-controls'].forEach(a => {
      (el.getAttribute(a) || '').split(/\\s+/).filter(Boolean).forEach(id => {
        if (!document.getElementById(id)) { out.push(a + ' names a missing id ' + id); } }); }); });
  document.querySelectorAll('.error-summary a[href^="#"]').forEach(a => {
    if (!document.getElementById(a.getAttribute('href').slice(1))) {
      out.push('error summary links to a missing id ' + a.getAttribute('href')); } });
  return out;
}"""


def id_problems(page: Page) -> list[str]:
    """Duplicate ids, and labels, ARIA references and error-summary links naming an id the page lacks."""
    return page.evaluate(IDS_JS)


# --------------------------------------------------------------------------------------------------- English

# What a user sees or hears: rendered text (screen-reader-only text included: it is heard), the labelling
# attributes of rendered elements, the options of rendered selects and the page title. Code-like elements hold data.
TEXTS_JS = """() => {
  // Data, not words of the interface: code-like elements, and what a template marks translate="no" (a browser's
  // name on the sessions page); what the user types into a picker.
  // A grid's code column (td.col-code: a programme's code, the address of its pages) holds codes too.
  const DATA = 'script, style, noscript, template, code, kbd, samp, pre, option, [translate=no], .select2-match, ' +
               'td.col-code';
  const out = [['title', document.title, '']];
  const shown = el => el.checkVisibility({visibilityProperty: true}) && !el.closest('[aria-hidden=true]');
  const where = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.classList.length ? '.' + Array.from(el.classList).slice(0, 2).join('.') : '');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement, text = node.textContent.trim();
    if (!text || !el || el.closest(DATA)) { continue; }
    if (shown(el)) { out.push([where(el), text, el.closest('a[href*="lang="]') ? 'lang' : '']); }
  }
  document.querySelectorAll('[title], [aria-label], [placeholder], [alt], [aria-valuetext], [aria-roledescription], ' +
                            'input[type=submit][value], input[type=button][value], input[type=reset][value]')
    .forEach(el => {
      const drawnElsewhere = el.tagName === 'INPUT' && el.closest('.select2-container, .custom-control');
      const hidden = el.type === 'hidden' || !(shown(el) || drawnElsewhere);
      if (hidden) { return; }
      ['title', 'aria-label', 'placeholder', 'alt', 'aria-valuetext', 'aria-roledescription'].forEach(a => {
        if (el.getAttribute(a)) { out.push([where(el) + '[' + a + ']', el.getAttribute(a), '']); } });
      if (/^(submit|button|reset)$/.test(el.type) && el.value) { out.push([where(el) + '[value]', el.value, '']); }
    });
  document.querySelectorAll('select').forEach(s => {
    if (shown(s) || s.closest('.daterangepicker')) {
      Array.from(s.options).forEach(o => out.push([where(s) + ' option', o.textContent.trim(), ''])); } });
  return out;
}"""

# Latin words that are data or standard terms, not interface words left in English: the standards, formats and units
# the back office names (FHIR, API, OpenAPI, JSON, XLSX/Excel, PDF, JPG/PNG, MB, QR code, IP 地址), PCR (the manuals'
# own term for the nucleic acid test, 是否从事PCR工作), Token (接入系统's word for an API token, as in the manual) and
# bjxc (the pinyin initials a search box gives as its example). Everything else with two or more Latin letters is an
# untranslated word, except codes (letters with digits; lower case with hyphens, as a programme's talent-review;
# what the page labels a code, 业务代码：talent),
# e-mail addresses, URLs, file names and extensions, the ISO 8601 date notation (YYYY-MM-DD) and the language
# switch's own name ("English", written in the language it switches to).
STANDARD_TERMS = {"FHIR", "API", "OpenAPI", "JSON", "XLSX", "Excel", "PDF", "JPG", "PNG", "MB", "QR", "IP", "PCR",
                  "Token", "bjxc"}
_DATA = re.compile(r"\S+@\S+|\S*://\S*|(?<![\w])/[\w./?=&%-]*|[\w-]*\.(?:[Xx][Ll][Ss][Xx]|pdf|json|csv|png|jpe?g)\b|"
                   r"\bYYYY-MM-DD\b|\b[a-z0-9]+(?:-[a-z0-9]+)+\b|"  # a code of the shape of an address
                   r"代码[：:]\s*[\w-]+")  # a value the page labels as a code (业务代码：talent)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def english_words(text: str) -> list[str]:
    """The Latin words of text that are neither data nor an allowed standard term."""
    text = _DATA.sub(" ", text)
    return [w for w in _WORD.findall(text)
            if len(w) >= 2 and not re.search(r"\d", w) and w not in STANDARD_TERMS]


def english_on(page: Page) -> list[str]:
    """Every piece of text on the page (as shown now) holding an English word: 'where: text'."""
    found = []
    for where, text, kind in page.evaluate(TEXTS_JS):
        words = [w for w in english_words(text) if not (kind == "lang" and w == "English")]
        if words:
            found.append(f"{where}: {text[:80]!r} {words}")
    return found


# ----------------------------------------------------------------------------------------------- keyboard walk

# Records, at each focus change, what was focused, whether it (or what stands for it: the label of a visually
# hidden custom checkbox, a select2 box) can be seen, and the contrast of its focus indicator (outline or
# box-shadow) against the background behind it.
FOCUS_LOG_JS = """() => {
  if (window.__focusLog) { window.__focusLog.length = 0; return; }
  window.__focusLog = [];
  window.__focusStops = 0;
  const rgba = c => { const m = (c || '').match(/rgba?\\(([^)]+)\\)/); if (!m) { return null; }
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
  const background = el => { const layers = [];
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) { break; } } }
    return layers.reverse().reduce((acc, c) => over(c, acc), [255, 255, 255, 1]); };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const shown = el => { if (!el.checkVisibility({opacityProperty: true, visibilityProperty: true})) { return false; }
    const r = el.getBoundingClientRect();
    return r.width > 2 && r.height > 2 && r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.top < innerHeight; };
  const indicator = (el, pseudo) => {
    const cs = getComputedStyle(el, pseudo), bg = background(pseudo ? el : el.parentElement);
    const best = [];
    if (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2) {
      const c = rgba(cs.outlineColor); if (c) { best.push(ratio(over(c, bg), bg)); } }
    (cs.boxShadow || '').split(/,(?![^(]*\\))/).forEach(s => { const c = rgba(s);
      const px = (s.replace(/rgba?\\([^)]*\\)/, '').match(/-?[\\d.]+px/g) || []).map(parseFloat);
      if (c && !/inset/.test(s) && Math.max(px[2] || 0, px[3] || 0) >= 2) { best.push(ratio(over(c, bg), bg)); } });
    return best.length ? Math.max(...best) : 0; };
  document.addEventListener('focusin', e => {
    const el = e.target;
    let proxy = el, pseudo = null;
    if (!shown(el)) {
      const label = el.labels && el.labels[0];
      const box = el.closest('.select2-container');
      if (label && shown(label)) {
        proxy = label;
        pseudo = label.classList.contains('custom-control-label') ? '::before' : null;
      }
      else if (box && shown(box)) { proxy = box.querySelector('.select2-choice, .select2-choices') || box; }
      else { proxy = null; }
    }
    el.__stop = el.__stop || ++window.__focusStops;
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.getAttribute('name') ? '[name=' + el.getAttribute('name') + ']' : '') +
      (el.classList.length ? '.' + Array.from(el.classList).slice(0, 2).join('.') : '') +
      ' ' + JSON.stringify((el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 20));
    const contrast = proxy ? Math.max(indicator(proxy, pseudo), pseudo ? indicator(proxy, null) : 0) : 0;
    window.__focusLog.push({name, stop: el.__stop, shown: !!proxy, contrast: Math.round(contrast * 100) / 100,
                            skip: el.classList.contains('skip-link'), main: el.tagName === 'MAIN'});
  }, true);
}"""

# Every element Tab should stop at (one per radio group), in document order: the walk must reach the last one.
TAB_STOPS_JS = """() => {
  const sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex], ' +
              '[contenteditable=true]';
  const groups = new Set();
  const stops = Array.from(document.querySelectorAll(sel)).filter(el => {
    if (el.disabled || el.tabIndex < 0 || el.closest('[inert]')) { return false; }
    if (!el.checkVisibility({visibilityProperty: true}) || !el.getClientRects().length) { return false; }
    if (el.type === 'radio' && el.name) { const key = (el.form ? el.form.id || 'f' : '') + el.name;
      if (groups.has(key)) { return false; } groups.add(key); }
    return true;
  });
  // A date or time box takes one Tab per part (year, month, day ...) without a new focus event.
  const parts = stops.filter(el => /^(date|time|datetime-local|month|week)$/.test(el.type)).length * 4;
  return [stops.length, parts];
}"""

MIN_CONTRAST = 3.0


def keyboard_problems(page: Page) -> list[str]:
    """Tab from the top of the page until focus comes round to the first stop again: the skip link comes first and
    moves focus to <main>; focus never lands on something unseen; every focused control shows an indicator of at
    least 3:1 against its background; Tab gets past every control (no trap)."""
    # Focus the body for a moment: the next Tab starts from the top, wherever focus or a click was before.
    page.evaluate("""() => { const b = document.body; b.tabIndex = -1; b.focus(); b.blur();
                             b.removeAttribute('tabindex'); window.scrollTo(0, 0); }""")
    page.evaluate(FOCUS_LOG_JS)
    stops, parts = page.evaluate(TAB_STOPS_JS)
    url = page.url
    for _ in range(stops + parts + 3):
        page.keyboard.press("Tab")
    log = page.evaluate("() => window.__focusLog.slice()")
    problems = []
    if page.url != url:
        return [f"Tab navigated away to {page.url}"]
    if not log or not log[0]["skip"]:
        problems.append(f"the first Tab stop is {log[0]['name'] if log else 'nothing'}, not the skip link")
    names = [e["name"] for e in log]
    first_again = next((i for i in range(1, len(log)) if log[i]["stop"] == log[0]["stop"]), None)
    if first_again is None:
        problems.append(f"Tab did not come round to the first stop after {len(log)} stops of {stops} "
                        f"(a trap?): ... {names[-4:]}")
    walked = log[:first_again] if first_again else log
    if first_again is not None and len(walked) < stops:
        problems.append(f"Tab came round after {len(walked)} stops, {stops} on the page")
    for entry in walked:
        if not entry["shown"]:
            problems.append(f"focus on something unseen: {entry['name']}")
        elif entry["contrast"] < MIN_CONTRAST and not entry["main"]:
            problems.append(f"focus indicator {entry['contrast']}:1 on {entry['name']}")
    if log and log[0]["skip"]:
        page.locator(".skip-link").first.focus()  # where the walk began
        page.keyboard.press("Enter")
        moved = page.evaluate("() => document.activeElement && document.activeElement.tagName")
        if moved != "MAIN":
            problems.append(f"the skip link moved focus to {moved}, not <main>")
    return problems
