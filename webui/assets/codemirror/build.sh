#!/usr/bin/env bash
# Rebuild webui/static/webui/vendor/codemirror-6.min.js from the pinned npm
# packages (package-lock.json). Needs node and npm; the result is committed,
# so neither `make run` nor CI needs them.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npm run build
{
  echo "CodeMirror 6 and its dependencies (MIT), bundled by webui/assets/codemirror/build.sh."
  echo
  cat node_modules/@codemirror/view/LICENSE
} > ../../static/webui/vendor/codemirror.LICENSE
