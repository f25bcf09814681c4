// The chat page when nobody can answer: opening times in the chatter's own time zone, and the offer
// to leave a message instead of waiting on (partials/leave_offer.html).
(function () {
  "use strict";

  var DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];

  // as data/hours.py `when` says it, but in the browser's time zone: "today at 13:00", "Monday at 08:00"
  function when(instant, now) {
    var day = function (d) { return Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()); };
    var days = Math.round((day(instant) - day(now)) / 86400000);
    var clock = String(instant.getHours()).padStart(2, "0") + ":" + String(instant.getMinutes()).padStart(2, "0");
    if (days === 0) return "today at " + clock;
    if (days === 1) return "tomorrow at " + clock;
    var weekday = DAYS[instant.getDay()];
    if (days < 7) return weekday + " at " + clock;
    return weekday + " " + instant.getDate() + " " + MONTHS[instant.getMonth()] + " at " + clock;
  }

  function localTimes(root) {
    var times = root.matches("time[data-opens]") ? [root] : root.querySelectorAll("time[data-opens]");
    times.forEach(function (el) {
      var instant = new Date(el.getAttribute("datetime"));
      if (!isNaN(instant)) el.textContent = when(instant, new Date());
    });
  }

  // a resync sends the offer again: a page that shows the same one keeps it, with what was typed in it
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var target = e.detail.target, fresh = e.detail.fragment.firstElementChild;
    if (target.dataset && "offerMode" in target.dataset && fresh && fresh.dataset.offerMode === target.dataset.offerMode) {
      e.detail.shouldSwap = false;
    }
  });

  // an offer that appears takes along what the chatter was typing in the composer, once
  function carryDraft(offer) {
    var draft = document.querySelector("form[data-composer] textarea");
    var text = offer.querySelector("textarea[name=text]");
    if (!text || !draft || !draft.value.trim()) return;
    text.value = text.value ? text.value + "\n\n" + draft.value.trim() : draft.value.trim();
  }

  // what the socket and responses put in the page (an out-of-band swap's own events fire on the
  // element it replaced, which has left the page by then)
  new MutationObserver(function (records) {
    records.forEach(function (r) {
      r.addedNodes.forEach(function (n) {
        if (n.nodeType !== 1) return;
        if (n.matches(".leave-offer.offering")) carryDraft(n);
        localTimes(n);
      });
    });
  }).observe(document.body, { childList: true, subtree: true });

  document.addEventListener("click", function (e) {
    var keep = e.target.closest && e.target.closest("[data-keep-waiting]");
    if (!keep) return;
    keep.closest(".leave-offer").hidden = true;  // at once: the composer shows again (parley.css)
    var box = document.querySelector("form[data-composer] textarea");
    if (box) box.focus();
  });

  document.addEventListener("DOMContentLoaded", function () { localTimes(document.body); });
})();
