#!/usr/bin/env bash
# Runs the whole test suite (Release) and prints the totals from the test results on one line:
#   N passed, N failed, N skipped
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# The repository's projects restore exactly what their committed packages.lock.json files pin (Directory.Build.props):
# a fresh machine gets the versions CI tested, never what a feed happens to serve that day. Exported, so the
# restores and packs the tests run inside inherit it.
export LoraBuildLockedRestore=true
results="$root/artifacts/test-results"
rm -rf "$results"
mkdir -p "$results"
dotnet test "$root/LoraBuild.sln" -c Release --logger "trx" --results-directory "$results" "$@"
status=$?
python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
for path in glob.glob(sys.argv[1] + "/*.trx"):
    counters = ET.parse(path).getroot().find("t:ResultSummary/t:Counters", ns)
    passed += int(counters.get("passed", 0))
    failed += int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0)) + int(counters.get("aborted", 0))
    skipped += int(counters.get("notExecuted", 0))
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
