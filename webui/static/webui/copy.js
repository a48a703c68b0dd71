// Copy buttons: <button data-copy="ID"> copies the text of the element with
// that id and says "Copied" next to itself. Where the Clipboard API is
// missing or refused (a page served over plain http from another host is
// not a secure context), the text is selected and copied the old way, or
// left selected for Ctrl+C. A static file: the Content-Security-Policy
// allows no inline script.
(function () {
  "use strict";

  var SHOWN_MS = 4000;

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function legacyCopy(element) {
    selectText(element);
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function say(button, text) {
    var status = button.parentNode.querySelector(".copy-status");
    if (!status) return;
    status.textContent = text;
    clearTimeout(button.copyTimer);
    button.copyTimer = setTimeout(function () {
      status.textContent = "";
    }, SHOWN_MS);
  }

  function fallback(button, element) {
    if (legacyCopy(element)) {
      say(button, "Copied");
    } else {
      say(button, "Selected: press Ctrl+C (⌘C on a Mac) to copy");
    }
  }

  function copy(button) {
    var element = document.getElementById(button.getAttribute("data-copy"));
    if (!element) return;
    var text = element.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () {
          say(button, "Copied");
        },
        function () {
          fallback(button, element);
        }
      );
    } else {
      fallback(button, element);
    }
  }

  function start() {
    var buttons = document.querySelectorAll("button[data-copy]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (event) {
        copy(event.currentTarget);
      });
      buttons[i].closest(".copy").hidden = false;
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
