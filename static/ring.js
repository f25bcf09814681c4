// An unanswered offer cannot be missed: while the console holds one, a short tone every few seconds
// (unless muted), the tab's title blinking "New chat — <name>", and one desktop notification per
// offer while the console is hidden (when the browser allows; the Log on button asks, a user gesture).
(function () {
  "use strict";
  var BLINK = 1000, RING_EVERY = 3;  // the title blinks each second, the tone sounds every third
  var tabs = document.getElementById("tabs");
  if (!tabs) return;
  var title = document.title, timer = null, beat = 0, notified = {}, audio = null;

  function tone() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.4);
    } catch (err) { /* no audio device: the title still blinks */ }
  }

  function offers() { return Array.from(tabs.querySelectorAll('.tab-label[data-mode="offer"]')); }
  function nameOf(label) { return label.firstChild.textContent.trim(); }
  function muted() {
    var button = document.querySelector("[data-mute]");
    return button && button.getAttribute("aria-pressed") === "true";
  }

  function notifyOnce(label) {
    var chatId = label.id.replace("tab-label-", "");
    var accept = document.querySelector("#controls-" + chatId + " [data-offer]");
    var key = accept ? accept.dataset.offer : chatId;
    if (notified[key] || !document.hidden || !window.Notification || Notification.permission !== "granted") return;
    notified[key] = true;
    var note = new Notification("New chat offered", { body: nameOf(label), tag: "parley-offer-" + key });
    note.onclick = function () {
      window.focus();
      var tab = label.closest("[role=tab]");
      if (tab) tab.click();
      note.close();
    };
  }

  function ring() {
    var pending = offers();
    if (!pending.length) {
      clearInterval(timer);
      timer = null;
      beat = 0;
      document.title = title;
      return;
    }
    if (beat % RING_EVERY === 0 && !muted()) tone();
    document.title = beat % 2 ? title : "New chat — " + nameOf(pending[0]);
    pending.forEach(notifyOnce);
    beat += 1;
  }

  function check() {
    if (!timer && offers().length) {
      ring();
      timer = setInterval(ring, BLINK);
    } else if (timer && !offers().length) {
      ring();  // stops at once, the title restored
    }
  }

  new MutationObserver(check).observe(tabs, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-mode"] });
  check();
})();
