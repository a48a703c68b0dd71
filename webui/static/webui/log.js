// The live log of a run: Follow keeps the newest line in view, Pause stops
// fetching new lines (the poll resumes from the last line it has, so
// nothing is lost). Progressive enhancement: without this script the log
// still fills in through htmx, and the buttons stay hidden. A static file:
// the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  var NEAR_BOTTOM_PX = 40;

  function setPressed(button, pressed) {
    if (button) button.setAttribute("aria-pressed", pressed ? "true" : "false");
  }

  function isPressed(button) {
    return !!button && button.getAttribute("aria-pressed") === "true";
  }

  function start() {
    var log = document.getElementById("log");
    if (!log) return;
    var follow = document.getElementById("log-follow");
    var pause = document.getElementById("log-pause");

    function toBottom() {
      log.scrollTop = log.scrollHeight;
    }

    function atBottom() {
      return log.scrollHeight - log.scrollTop - log.clientHeight <= NEAR_BOTTOM_PX;
    }

    // The page opens on the tail of the output: show its end.
    toBottom();

    if (follow) {
      follow.hidden = false;
      follow.addEventListener("click", function () {
        setPressed(follow, !isPressed(follow));
        if (isPressed(follow)) toBottom();
      });
      // Scrolling up to read stops following; back at the bottom, it follows again.
      log.addEventListener("scroll", function () {
        setPressed(follow, atBottom());
      });
    }

    if (pause) {
      pause.hidden = false;
      pause.addEventListener("click", function () {
        var paused = !isPressed(pause);
        setPressed(pause, paused);
        pause.textContent = paused ? "Resume" : "Pause";
        log.classList.toggle("paused", paused);
      });
    }

    // While paused the poller keeps its timer but sends no request.
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      var source = event.detail && event.detail.elt;
      if (source && source.id === "log-poller" && isPressed(pause)) event.preventDefault();
    });

    var showingEarlier = false;
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      var source = event.detail && event.detail.elt;
      if (source && source.closest && source.closest("#log-earlier")) {
        showingEarlier = true;
        setPressed(follow, false);
      }
    });

    document.body.addEventListener("htmx:afterSettle", function () {
      if (showingEarlier) {
        // Earlier lines went on top: show them.
        showingEarlier = false;
        log.scrollTop = 0;
      } else if (isPressed(follow)) {
        toBottom();
      }
      // The run ended: nothing more to follow or pause.
      if (!document.getElementById("log-poller")) {
        if (follow) follow.hidden = true;
        if (pause) pause.hidden = true;
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
