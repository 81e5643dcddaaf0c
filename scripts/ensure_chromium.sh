#!/usr/bin/env bash
# The browser tests drive Debian's chromium through Playwright, which never downloads a
# browser of its own. Install it when it is missing: Debian's package, as root with apt;
# anywhere else, say the one command to run. `make test` and `.ci/run` both come here.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's chromium for the browser tests (apt-get install chromium)..."
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; then
        "$CHROMIUM" --version
        exit 0
    fi
    echo "error: apt-get could not install chromium; the browser tests need $CHROMIUM" >&2
    exit 1
fi
echo "error: the browser tests need $CHROMIUM. Install it once with: sudo apt-get install -y chromium" >&2
exit 1
