// The code editor of the runbook form: CodeMirror 6 with Python, shell and
// JSON highlighting, bundled into one file by esbuild (see build.sh). It only
// exposes `window.StewardCodeMirror.attach`; webui/static/webui/editor.js
// decides which textareas become editors.
import { closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import {
  bracketMatching,
  defaultHighlightStyle,
  foldGutter,
  foldKeymap,
  indentOnInput,
  indentUnit,
  StreamLanguage,
  syntaxHighlighting,
} from "@codemirror/language";
import { json } from "@codemirror/legacy-modes/mode/javascript";
import { shell } from "@codemirror/legacy-modes/mode/shell";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { Compartment, EditorState } from "@codemirror/state";
import {
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
} from "@codemirror/view";

const LANGUAGES = {
  python: () => python(),
  shell: () => StreamLanguage.define(shell),
  json: () => StreamLanguage.define(json),
};

function languageFor(name) {
  return (LANGUAGES[name] || LANGUAGES.python)();
}

// Replaces `textarea` by an editor that writes every change back into it, so
// the form submits the textarea as if no editor were there.
function attach(textarea, options = {}) {
  const language = new Compartment();
  const view = new EditorView({
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        foldGutter(),
        highlightSpecialChars(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        indentUnit.of("    "),
        EditorState.tabSize.of(4),
        keymap.of([
          ...closeBracketsKeymap,
          ...defaultKeymap,
          ...searchKeymap,
          ...historyKeymap,
          ...foldKeymap,
          indentWithTab,
        ]),
        language.of(languageFor(options.language)),
        EditorView.contentAttributes.of({ "aria-label": options.label || "Code" }),
        EditorState.readOnly.of(Boolean(options.readOnly)),
        // CodeMirror injects its styles in a <style> element: under a
        // Content-Security-Policy without 'unsafe-inline' styles, that
        // element needs the page's nonce.
        options.nonce ? EditorView.cspNonce.of(options.nonce) : [],
        EditorView.updateListener.of((update) => {
          if (update.docChanged) textarea.value = update.state.doc.toString();
        }),
      ],
    }),
  });
  textarea.insertAdjacentElement("afterend", view.dom);
  // Built outside the document, the view measured nothing yet: measure now,
  // or the line numbers keep a guessed line height.
  view.requestMeasure();
  return {
    view,
    setLanguage(name) {
      view.dispatch({ effects: language.reconfigure(languageFor(name)) });
    },
    setValue(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    focus() {
      view.focus();
    },
  };
}

window.StewardCodeMirror = { attach };
