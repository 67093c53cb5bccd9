# File-integrity comparison tools for integrity's differential test against
# AIDE (integrity/aide_linux_test.go); source this file. It installs
# Debian's aide, attr (setfattr), acl (setfacl) and libcap2-bin (setcap)
# when any of their commands is missing, and exports
#   PROPSEC_TEST_AIDE_REQUIRED=1
# so that the test fails, rather than skips, without them. The test needs
# root for its setcap, chown and trusted.* cases (CI runs as root).

fim_tools_missing() {
  local c
  for c in aide setfattr setfacl setcap; do
    command -v "$c" >/dev/null 2>&1 || return 0
  done
  return 1
}

if fim_tools_missing; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends aide attr acl libcap2-bin >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends aide attr acl libcap2-bin >/dev/null
  fi
fi
aide --version 2>&1 | head -n 1
export PROPSEC_TEST_AIDE_REQUIRED=1
