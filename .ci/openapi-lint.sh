#!/usr/bin/env bash
# Lints httpadapter/openapi.json with Redocly's CLI (pinned, installed from
# npm into a temporary directory at CI time, never committed) and the rules
# of redocly.yaml. Fails on any error; warnings are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
REDOCLY_VERSION=2.77.0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm install --silent --no-audit --no-fund --prefix "$tmp" "@redocly/cli@$REDOCLY_VERSION" >/dev/null
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  "$tmp/node_modules/.bin/redocly" lint --config redocly.yaml --format stylish httpadapter/openapi.json
