#!/usr/bin/env bash
# LensLab's two entry points; each sets everything up first (idempotent, fast when done).
#   ./run.sh app    start the app on the embedded demo model
#   ./run.sh test   run every test, the real-browser test included
set -euo pipefail
cd "$(dirname "$0")"

setup() {
  local stamp=.venv/.lenslab-setup
  local want
  want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
    # The CPU build of torch, pinned exactly (a looser pin pulls a CUDA build of several GB).
    .venv/bin/python -m pip install --quiet torch==2.13.0
    .venv/bin/python -m pip install --quiet -r requirements-dev.txt
    echo "$want" > "$stamp"
  fi
}

setup_browser() {
  if ! command -v chromium >/dev/null 2>&1; then
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver
  fi
}

case "${1:-}" in
  app)
    setup
    # serve.py runs app.py after warming the shared caches (the first visitor waits no longer than the rest).
    # It prints "LensLab is ready" once a page has answered; Streamlit's own earlier line is hidden.
    exec .venv/bin/streamlit run serve.py --server.headless true --logger.hideWelcomeMessage true "${@:2}"
    ;;
  test)
    setup
    setup_browser
    export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    # One worker per core (pytest-xdist); each test runs its torch and BLAS work on one thread (tests/conftest.py).
    exec .venv/bin/python -m pytest -q -rs -n auto --dist worksteal "${@:2}"
    ;;
  *)
    echo "usage: ./run.sh app | ./run.sh test" >&2
    exit 2
    ;;
esac
