#!/usr/bin/env bash
# Turns per-project test outcomes into per-project lines and ONE closing line `N passed, N failed, N skipped`.
# stdin: one row per test project: NAME|EXIT_CODE|TRX_PATH|NOTE (a non-whitespace separator keeps empty fields)
#   EXIT_CODE is dotnet test's exit code (or a word such as `build`); NOTE is optional (e.g. "timed out after 1800s").
# A project that crashed, timed out, failed to build or left no results counts at least one failure: it never vanishes.
# Exit 0 only when nothing failed.
set -euo pipefail

counter() { # counter COUNTERS_ELEMENT ATTRIBUTE → its integer value (0 when absent)
  local v
  v=$(printf '%s' "$1" | grep -oE "[[:space:]]$2=\"[0-9]+\"" | head -1 | grep -oE '[0-9]+') || true
  printf '%s' "${v:-0}"
}

total_passed=0 total_failed=0 total_skipped=0 lines=()
while IFS='|' read -r name rc trx note || [ -n "${name:-}" ]; do
  [ -n "$name" ] || continue
  passed=0 failed=0 skipped=0 why=()
  counters=""
  if [ -n "$trx" ] && [ -s "$trx" ]; then
    counters=$(tr '\n' ' ' <"$trx" | grep -oE '<Counters[^>]*>' | head -1) || true
  fi
  if [ -n "$counters" ]; then
    passed=$(counter "$counters" passed)
    failed=$(($(counter "$counters" failed) + $(counter "$counters" error) + $(counter "$counters" timeout) + $(counter "$counters" aborted)))
    # xunit's skipped tests are results with outcome NotExecuted; the Counters element does not count them.
    skipped=$(tr '\n' ' ' <"$trx" | grep -oE '<UnitTestResult[^>]*outcome="NotExecuted"' | wc -l) || true
  fi
  if [ -n "${note:-}" ]; then why+=("$note"); elif [ -z "$counters" ]; then why+=("no test results"); fi
  if [ "$rc" != 0 ] && [ ${#why[@]} -eq 0 ]; then
    case $rc in
      build) why+=("build failed") ;;
      *) [ "$failed" -eq 0 ] && why+=("test run exited with code $rc (crash or abort)") ;;
    esac
  fi
  # A run that went wrong without a failed test in its results still counts as one failure.
  if [ ${#why[@]} -gt 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  if [ "$rc" != 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  status=PASS; [ "$failed" -gt 0 ] && status=FAIL
  detail=""; [ ${#why[@]} -gt 0 ] && detail=" - ${why[0]}"
  lines+=("$(printf '  %s  %-45s (%d passed, %d failed, %d skipped)%s' "$status" "$name" "$passed" "$failed" "$skipped" "$detail")")
  total_passed=$((total_passed + passed)); total_failed=$((total_failed + failed)); total_skipped=$((total_skipped + skipped))
done

printf '%s\n' "test projects:"
[ ${#lines[@]} -gt 0 ] && printf '%s\n' "${lines[@]}"
printf '%d passed, %d failed, %d skipped\n' "$total_passed" "$total_failed" "$total_skipped"
[ "$total_failed" -eq 0 ] && [ ${#lines[@]} -gt 0 ]
