# The real-browser tests (internal/browsertest and its users); source this
# file. It installs Debian's chromium when no Chromium is found, firefox-esr
# when no Firefox is found, and node/npm when npm is missing, then installs axe-core@4 from npm into a temporary
# directory (removed on exit, never committed) and exports
#   PROPSEC_AXE_CORE=<that axe.min.js>
#   PROPSEC_TEST_BROWSER_REQUIRED=1
# so that the browser tests fail, rather than skip, without them.

browser_apt_install() {
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}

browser_missing() {
  [ -n "${PROPSEC_CHROMIUM:-}" ] && return 1
  local c
  for c in chromium chromium-browser google-chrome google-chrome-stable; do
    command -v "$c" >/dev/null 2>&1 && return 1
  done
  return 0
}

browser_pkgs=()
if browser_missing; then browser_pkgs+=(chromium fonts-dejavu-core); fi
if [ -z "${PROPSEC_FIREFOX:-}" ] && ! command -v firefox-esr >/dev/null 2>&1 && ! command -v firefox >/dev/null 2>&1; then
  browser_pkgs+=(firefox-esr)
fi
if ! command -v npm >/dev/null 2>&1; then browser_pkgs+=(nodejs npm); fi
if [ ${#browser_pkgs[@]} -gt 0 ]; then browser_apt_install "${browser_pkgs[@]}"; fi
"${PROPSEC_CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || command -v google-chrome-stable)}" --version 2>/dev/null | head -n 1
"${PROPSEC_FIREFOX:-$(command -v firefox-esr || command -v firefox)}" --version 2>/dev/null | head -n 1

# axe-core once for every test binary, rather than one npm install each.
browser_axe_dir=$(mktemp -d)
npm install --silent --no-audit --no-fund --no-package-lock --prefix "$browser_axe_dir" axe-core@4 >/dev/null
export PROPSEC_AXE_CORE="$browser_axe_dir/node_modules/axe-core/axe.min.js"
test -s "$PROPSEC_AXE_CORE"
echo "axe-core $(node -p "require('$browser_axe_dir/node_modules/axe-core/package.json').version")"
# Removed on exit, after whatever the earlier scripts' EXIT trap does
# (postgres.sh stops its cluster there).
browser_prev_trap=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
trap "rm -rf '$browser_axe_dir'; ${browser_prev_trap}" EXIT
export PROPSEC_TEST_BROWSER_REQUIRED=1
