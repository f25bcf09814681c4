// The supervisors' live view: waiting times that count up, and choices that survive live updates.
(function () {
  "use strict";

  function format(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  // each waiting time counts on from the value the server rendered, by this browser's clock
  function tick() {
    var nowMs = Date.now();
    document.querySelectorAll("[data-waited]").forEach(function (el) {
      if (!el.dataset.base) el.dataset.base = String(nowMs);
      var seconds = Number(el.dataset.waited) + Math.floor((nowMs - Number(el.dataset.base)) / 1000);
      el.textContent = format(seconds);
      el.setAttribute("datetime", "PT" + seconds + "S");
    });
  }

  // the live view is replaced whenever anything changes: keep the agent chosen in each menu, and focus
  var chosen = {}, focused = null;
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("select[data-keep]")) chosen[e.target.id] = e.target.value;
  });
  document.addEventListener("focusin", function (e) {
    focused = e.target.closest && e.target.closest("[data-live]") ? e.target.id || null : null;
  });

  function restore(live) {
    live.querySelectorAll("select[data-keep]").forEach(function (select) {
      var value = chosen[select.id];
      if (value && select.querySelector('option[value="' + CSS.escape(value) + '"]')) select.value = value;
    });
    if (focused && !document.activeElement.closest("[data-live]")) {
      var again = document.getElementById(focused);
      if (again) again.focus();
    }
    tick();
  }

  new MutationObserver(function (records) {
    records.forEach(function (r) {
      r.addedNodes.forEach(function (n) {
        if (n.nodeType === 1 && n.matches("[data-live]")) restore(n);
      });
    });
  }).observe(document.body, { childList: true, subtree: true });

  document.addEventListener("DOMContentLoaded", tick);
  setInterval(tick, 1000);
})();
