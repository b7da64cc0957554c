#!/usr/bin/env bash
# make demo: start the local fleet (unless it runs), run the example suites against
# the demo site, write the reports, and say where they are.
set -uo pipefail
cd "$(dirname "$0")/.."
tf=.venv/bin/testfleet
mkdir -p reports
if ! $tf status >/dev/null 2>&1; then
  $tf down >/dev/null 2>&1 || true
  $tf up --workers 2 --browsers 2 || exit 2
fi
echo
echo "== passing examples (expected: exit 0)"
$tf run examples/suites --junit reports/examples.junit.xml --json reports/examples.json \
  --html reports/examples.html
passing=$?
echo
echo "== deliberately failing examples (expected: exit 1)"
$tf run examples/failing --junit reports/failing.junit.xml --json reports/failing.json \
  --html reports/failing.html
failing=$?
echo
echo "reports written to $(pwd)/reports:"
ls -1 reports | sed 's/^/  /'
echo "the fleet is still up: testfleet status | testfleet down"
if [ "$passing" -eq 0 ] && [ "$failing" -eq 1 ]; then
  echo "demo: ok (passing suites passed, failing suite failed as designed)"
  exit 0
fi
echo "demo: unexpected exit codes (passing=$passing, failing=$failing; expected 0 and 1)"
exit 1
