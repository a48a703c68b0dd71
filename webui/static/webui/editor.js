// Turns every <textarea data-editor="..."> into a CodeMirror editor (the
// bundle in vendor/codemirror-6.min.js). Progressive enhancement: without
// this script, or without the bundle, the plain textarea still works, and
// with it the editor writes every change back into the textarea, so the
// form submits exactly what it would have. A static file, never inline
// script: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  var KINDS_BY_EXTENSION = { py: "python", sh: "shell" };

  function enhance(textarea) {
    var form = textarea.form;
    var kind = form ? form.querySelector("select[name=kind]") : null;
    var label = document.querySelector('label[for="' + textarea.id + '"]');
    var language = textarea.dataset.editor === "json" ? "json" : kind ? kind.value : "python";
    // A page served with a CSP nonce names it in <meta name="csp-nonce">.
    var nonce = document.querySelector('meta[name="csp-nonce"]');
    var editor = window.StewardCodeMirror.attach(textarea, {
      language: language,
      label: label ? label.textContent.trim() : "Code",
      nonce: nonce ? nonce.content : "",
    });
    textarea.hidden = true;
    // The label still leads to the field: clicking it focuses the editor.
    if (label) {
      label.addEventListener("click", function (event) {
        event.preventDefault();
        editor.focus();
      });
    }
    if (textarea.dataset.editor !== "script" || !form) return;
    if (kind) {
      kind.addEventListener("change", function () {
        editor.setLanguage(kind.value);
      });
    }
    // Show an uploaded script in the editor at once; the server reads the
    // file itself too (and its extension sets the kind), so nothing depends
    // on this part.
    var upload = form.querySelector("input[type=file][name=script_file]");
    if (upload) {
      upload.addEventListener("change", function () {
        var file = upload.files && upload.files[0];
        if (!file) return;
        var detected = KINDS_BY_EXTENSION[file.name.split(".").pop().toLowerCase()];
        if (detected && kind) {
          kind.value = detected;
          editor.setLanguage(detected);
        }
        file.text().then(function (text) {
          editor.setValue(text);
        });
      });
    }
  }

  function init() {
    if (!window.StewardCodeMirror) return;
    document.querySelectorAll("textarea[data-editor]").forEach(enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
