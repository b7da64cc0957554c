#!/bin/bash
# Written by testfleet (grid/sandbox.py): the fleet's Chromium, sandboxed, under
# the fleet's URL policy, without the node's environment.
set -eu
for arg do
  shift
  case "$arg" in
    --no-sandbox) ;;
    *) set -- "$@" "$arg" ;;
  esac
done
keep=()
for name in HOME PATH TMPDIR LANG LANGUAGE LC_ALL TZ; do
  if [ -n "${!name+x}" ]; then keep+=("$name=${!name}"); fi
done
set -- env -i "${keep[@]}" /opt/google/chrome/google-chrome-base "$@"
exec "$@"
