/* Portal enhancements. Every page works without this file; the server's rules are the truth.
   Loaded as an external script because the CSP allows only 'self' (no inline handlers). */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : []; });
  }

  /* Image captcha: a new image without reloading the page (the cache-buster defeats any cache). */
  document.querySelectorAll("[data-captcha-refresh]").forEach(function (link) {
    link.addEventListener("click", function (ev) {
      var img = document.querySelector(link.getAttribute("data-captcha-refresh"));
      if (!img) { return; }
      ev.preventDefault();
      img.src = link.getAttribute("data-src") + "?t=" + Date.now();
      var input = document.getElementById("captcha");
      if (input) { input.value = ""; input.focus(); }
    });
  });
  document.querySelectorAll(".captcha-img").forEach(function (img) {
    img.addEventListener("click", function () { img.src = img.src.split("?")[0] + "?t=" + Date.now(); });
  });

  /* 获取验证码: POST /sms/send as JSON instead of submitting the form, then count down. */
  document.querySelectorAll("[data-sms-send]").forEach(function (btn) {
    var label = btn.textContent;
    var status = btn.closest(".form-group").querySelector(".sms-status");
    function say(text, ok) {
      if (!status) { return; }
      status.textContent = text;
      status.className = "small mt-1 sms-status " + (ok ? "text-success" : "text-danger");
    }
    function countdown(n) {
      btn.disabled = true;
      var tick = function () {
        if (n <= 0) { btn.disabled = false; btn.textContent = label; return; }
        btn.textContent = btn.getAttribute("data-wait-text").replace("{n}", n);
        n -= 1;
        setTimeout(tick, 1000);
      };
      tick();
    }
    btn.addEventListener("click", function (ev) {
      ev.preventDefault();
      var phone = document.querySelector(btn.getAttribute("data-phone-input"));
      var body = new URLSearchParams();
      body.set("phone", phone ? phone.value : "");
      body.set("purpose", btn.getAttribute("data-purpose"));
      var box = btn.closest(".form-group").querySelector("[data-sms-captcha]");
      var answer = box && !box.hidden ? box.querySelector("input") : null;
      if (answer) { body.set("sms_captcha", answer.value); }
      btn.disabled = true;
      fetch(btn.getAttribute("data-url"), {
        method: "POST", credentials: "same-origin", body: body,
        headers: {"X-CSRFToken": csrfToken(), "Accept": "application/json"}
      }).then(function (r) {
        return r.json().catch(function () { return {ok: false, error: r.statusText}; });
      }).then(function (data) {
        if (box && (data.captcha || answer)) {
          /* The answer is spent either way: show a fresh image while the captcha is needed. */
          var img = box.querySelector("img");
          box.hidden = !data.captcha;
          if (data.captcha) {
            img.src = (data.captcha_url || img.getAttribute("src") || "/captcha.png").split("?")[0] + "?t=" + Date.now();
            box.querySelector("input").value = "";
            box.querySelector("input").focus();
          }
        }
        if (data.ok) { say(btn.getAttribute("data-sent-text") || "", true); countdown(60); }
        else { say(data.error || "", false); btn.disabled = false; }
      }).catch(function () { btn.disabled = false; });
    });
  });

  /* Region cascade: fill the next <select> from /api/regions?parent=. */
  document.querySelectorAll("[data-region-cascade]").forEach(function (box) {
    var url = box.getAttribute("data-url");
    var levels = ["province", "city", "county"].map(function (l) { return box.querySelector('[data-level="' + l + '"]'); });
    var blank = levels[0].options.length ? levels[0].options[0].textContent : "";
    function fill(select, rows) {
      select.innerHTML = "";
      var first = document.createElement("option");
      first.value = ""; first.textContent = blank;
      select.appendChild(first);
      rows.forEach(function (r) {
        var o = document.createElement("option");
        o.value = r.code; o.textContent = r.name;
        select.appendChild(o);
      });
    }
    levels.forEach(function (select, i) {
      if (i === levels.length - 1) { return; }
      select.addEventListener("change", function () {
        for (var k = i + 1; k < levels.length; k++) { fill(levels[k], []); }
        if (!select.value) { return; }
        getJSON(url + "?parent=" + encodeURIComponent(select.value)).then(function (rows) {
          if (i === 1 && rows.length === 0) {
            // A city without counties (e.g. 东莞市) is itself the finest choice.
            var opt = select.options[select.selectedIndex];
            rows = [{code: select.value, name: opt.textContent}];
          }
          fill(levels[i + 1], rows);
        });
      });
      // A level chosen before this script ran (a slow phone) still fills the next one.
      var served = Array.prototype.find.call(select.options, function (o) { return o.defaultSelected; });
      if (select.value !== (served ? served.value : select.options.length ? select.options[0].value : "")) {
        select.dispatchEvent(new Event("change"));
      }
    });
  });

  /* Unit picker: search as one types, list matches with code, supervising unit and category. */
  document.querySelectorAll("[data-unit-picker]").forEach(function (box) {
    var input = box.querySelector("[data-unit-query]");
    var results = box.querySelector("[data-unit-results]");
    var select = box.querySelector("[data-unit-select]");
    var url = box.getAttribute("data-url");
    var timer = null;
    function choose(row) {
      var found = Array.prototype.find.call(select.options, function (o) { return o.value === String(row.id); });
      if (!found) {
        found = document.createElement("option");
        found.value = row.id;
        found.textContent = row.name + (row.parent ? " · " + row.parent : "");
        found.setAttribute("data-line", row.code || row.name);  // what a list of institutions takes (below)
        select.appendChild(found);
      }
      select.value = String(row.id);
      results.innerHTML = "";
      select.dispatchEvent(new Event("change"));
    }
    var empty = box.querySelector("[data-unit-empty]");  // the way to register a unit (account page only)
    function showEmpty(show) { if (empty) { empty.hidden = !show; } }
    function render(rows) {
      results.innerHTML = "";
      showEmpty(rows.length === 0);
      rows.forEach(function (row) {
        var item = document.createElement("button");
        item.type = "button";
        item.className = "list-group-item list-group-item-action";
        item.setAttribute("role", "option");
        var name = document.createElement("div");
        name.className = "font-weight-bold";
        name.textContent = row.name;
        var meta = document.createElement("div");
        meta.className = "small text-muted";
        var parent = row.parent ? (box.getAttribute("data-parent-label") || "{name}").replace("{name}", row.parent) : "";
        meta.textContent = [row.code, parent, row.category].filter(Boolean).join(" · ");
        item.appendChild(name);
        item.appendChild(meta);
        item.addEventListener("click", function () { choose(row); });
        results.appendChild(item);
      });
    }
    var asked = 0;  // only the answer to the latest query is shown; a slow earlier one arriving late is dropped
    function search() {
      var q = input.value.trim();
      var mine = ++asked;
      if (!q) { results.innerHTML = ""; showEmpty(false); return; }
      getJSON(url + "?q=" + encodeURIComponent(q)).then(function (rows) { if (mine === asked) { render(rows); } });
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 250); });
    input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); clearTimeout(timer); search(); }
    });
    // On a slow phone one may type before this script has run: search what is already typed.
    if (input.value.trim() && input.value !== input.defaultValue) { search(); }
  });

  /* A picker over a list of institutions (one per line, e.g. a programme's): the chosen one is added as a line. */
  document.querySelectorAll("[data-unit-append]").forEach(function (select) {
    var list = document.getElementById(select.getAttribute("data-unit-append"));
    select.addEventListener("change", function () {
      var opt = select.options[select.selectedIndex];
      if (!list || !opt || !opt.value) { return; }
      var line = opt.getAttribute("data-line") || opt.textContent;
      var lines = list.value.split("\n").map(function (l) { return l.trim(); }).filter(Boolean);
      if (lines.indexOf(line) < 0) { lines.push(line); }
      list.value = lines.join("\n");
      select.value = "";
    });
  });

  /* Profile: show the question blocks of the chosen personnel type, PCR years only when doing PCR,
     gender and birth date only for documents other than the resident ID card. */
  var profile = document.getElementById("profile-form");
  if (profile) {
    var checked = function (name) {
      var el = profile.querySelector('input[name="' + name + '"]:checked');
      return el ? el.value : "";
    };
    var toggle = function (el, show) { if (el) { el.hidden = !show; } };
    var update = function () {
      var t = checked("personnel_type");
      toggle(profile.querySelector('[data-block="sampling"]'), t === "sampling" || t === "both");
      toggle(profile.querySelector('[data-block="testing"]'), t === "testing" || t === "both");
      toggle(profile.querySelector("[data-pcr-years]"), checked("doing_pcr") === "yes");
      var idType = profile.querySelector('[name="id_type"]');
      toggle(profile.querySelector("[data-id-manual]"), idType && idType.value !== "resident_id");
    };
    profile.addEventListener("change", update);
    update();

    /* 上传头像: a preview of the chosen photo before saving, and an oversize or non-image file refused on the form
       (the server checks again; a body over its hard limit would otherwise end on a bare error page). */
    var avatar = profile.querySelector('input[type="file"][name="avatar"]');
    var previewBox = document.getElementById("avatar-preview-box");
    var preview = document.getElementById("avatar-preview");
    var avatarError = document.getElementById("avatar-client-error");
    if (avatar && previewBox && preview && window.FileReader) {
      var checkAvatar = function () {
        var file = avatar.files && avatar.files[0];
        var problem = "";
        if (file && !/^image\/(jpeg|png)$/.test(file.type)) { problem = avatar.getAttribute("data-not-image"); }
        else if (file && file.size > Number(avatar.getAttribute("data-max-bytes"))) { problem = avatar.getAttribute("data-too-large"); }
        avatarError.textContent = problem;  /* shown by Bootstrap while the input is .is-invalid */
        avatar.classList.toggle("is-invalid", !!problem);
        if (problem) { avatar.setAttribute("aria-invalid", "true"); } else { avatar.removeAttribute("aria-invalid"); }
        if (problem) { avatar.value = ""; }
        if (!file || problem) { previewBox.classList.add("d-none"); preview.removeAttribute("src"); return; }
        var reader = new FileReader();
        reader.onload = function () { preview.src = reader.result; previewBox.classList.remove("d-none"); };
        reader.readAsDataURL(file);
      };
      avatar.addEventListener("change", checkAvatar);
      // On a slow phone a photo may be chosen before this script has run: check (and preview) it now.
      if (avatar.files && avatar.files.length) { checkAvatar(); }
    }
  }
  /* Forms that end something (a session) ask first: js/confirm.js, loaded in <head> so it is in place in time. */
})();
