#!/usr/bin/env bash
# Installs verimath: the system packages its sandbox needs, then the Python package.
#   bash setup.sh          verimath with the local llama.cpp engine (extra "local")
#   bash setup.sh --dev    the same plus everything the test suite needs (extra "dev",
#                          chromium for the HTML viewer's tests)
# Environment: PYTHON (default python3) picks the interpreter whose environment receives verimath:
# an active virtual environment's, or a Python of one's own (pyenv, python.org); a Python managed
# by the system (PEP 668) is refused with the way to make a virtual environment.
set -euo pipefail
cd "$(dirname "$0")"

python_bin="${PYTHON:-python3}"
extra="local"
system_packages=(bubblewrap libseccomp2)
if [[ "${1:-}" == "--dev" ]]; then
    extra="dev"
    system_packages+=(chromium tmux libcap2-bin)  # headless viewer tests; the progress line in a
    # terminal; capsh, to run the sandbox tests with a capability dropped
fi

# A Python managed by the system's packages (PEP 668) refuses pip: say what works instead.
if "$python_bin" - <<'PY'
import os, sys, sysconfig
managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
sys.exit(0 if managed and sys.prefix == sys.base_prefix else 1)
PY
then
    cat >&2 <<MSG
verimath setup: $("$python_bin" -c 'import sys; print(sys.executable)') is managed by the system's
package manager (PEP 668), so pip may not install into it. Make a virtual environment, then
run the setup inside it:
    python3 -m venv ~/.venvs/verimath && source ~/.venvs/verimath/bin/activate && bash setup.sh
MSG
    exit 1
fi
if ! "$python_bin" -m pip --version >/dev/null 2>&1; then
    echo "verimath setup: $python_bin has no pip; install it (python3-pip) or use a virtual environment" >&2
    exit 1
fi

missing=()
for pkg in "${system_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        cat >&2 <<MSG
verimath setup: the sandbox needs these system packages, which are not installed:
    ${missing[*]}
and this account cannot install them (not root, no password-less sudo). Ask an administrator for:
    apt-get install ${missing[*]}
verimath still installs; 'verimath doctor' lists the isolation layers that stay off until then.
MSG
    fi
fi

"$python_bin" -m pip install --quiet --disable-pip-version-check -e ".[$extra]"
# pyenv finds new console scripts (the `verimath` command) only after a rehash
if command -v pyenv >/dev/null 2>&1; then
    pyenv rehash || true
fi
