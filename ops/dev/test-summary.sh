#!/usr/bin/env bash
# Turns per-project test outcomes into per-project lines and ONE closing line `N passed, N failed, N skipped`.
# stdin: one row per test project: NAME|EXIT_CODE|TRX_PATH|NOTE (a non-whitespace separator keeps empty fields)
#   EXIT_CODE is dotnet test's exit code (or a word such as `build`); NOTE is optional (e.g. "timed out after 1800s").
# A project that crashed, timed out, failed to build or left no results counts at least one failure: it never vanishes.
# Failed tests are listed first, each with the head of its message: CI keeps only the end of what a run prints, and the
# console log's failure section (printed as each project finishes) may be long or cut.
# Exit 0 only when nothing failed.
set -euo pipefail

counter() { # counter COUNTERS_ELEMENT ATTRIBUTE → its integer value (0 when absent)
  local v
  v=$(printf '%s' "$1" | grep -oE "[[:space:]]$2=\"[0-9]+\"" | head -1 | grep -oE '[0-9]+') || true
  printf '%s' "${v:-0}"
}

failed_tests() { # failed_tests TRX → "  Test.Name: first lines of its message" for every failed result (perl-base is always there)
  perl -0777 -ne '
    my %x = (lt => "<", gt => ">", amp => "&", quot => "\"", apos => "\x27");
    while (m{<UnitTestResult\b([^>]*[^/>])>(.*?)</UnitTestResult>}gs) {
      my ($attrs, $body) = ($1, $2);
      next unless $attrs =~ /\boutcome="Failed"/;
      my ($name) = $attrs =~ /\btestName="([^"]*)"/;
      my ($message) = $body =~ /<Message>(.*?)<\/Message>/s;
      $message //= "(no message)";
      $message =~ s/&(lt|gt|amp|quot|apos);/$x{$1}/g; $message =~ s/&#x([0-9a-fA-F]+);/chr(hex($1))/ge;
      my @l = grep { /\S/ } split /\n/, $message;
      @l = @l[0 .. 5] if @l > 6;
      print "  $name\n", map { "      " . (length($_) > 300 ? substr($_, 0, 300) . "…" : $_) . "\n" } @l;
    }' "$1"
}

total_passed=0 total_failed=0 total_skipped=0 lines=() failures=()
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
  if [ "$failed" -gt 0 ] && [ -n "$trx" ] && [ -s "$trx" ]; then
    digest=$(failed_tests "$trx") || true
    [ -n "$digest" ] && failures+=("$digest")
  fi
  status=PASS; [ "$failed" -gt 0 ] && status=FAIL
  detail=""; [ ${#why[@]} -gt 0 ] && detail=" - ${why[0]}"
  lines+=("$(printf '  %s  %-45s (%d passed, %d failed, %d skipped)%s' "$status" "$name" "$passed" "$failed" "$skipped" "$detail")")
  total_passed=$((total_passed + passed)); total_failed=$((total_failed + failed)); total_skipped=$((total_skipped + skipped))
done

if [ ${#failures[@]} -gt 0 ]; then
  printf '%s\n' "failed tests (first lines of each message; whole output in the project's log):"
  printf '%s\n' "${failures[@]}"
fi
printf '%s\n' "test projects:"
[ ${#lines[@]} -gt 0 ] && printf '%s\n' "${lines[@]}"
printf '%d passed, %d failed, %d skipped\n' "$total_passed" "$total_failed" "$total_skipped"
[ "$total_failed" -eq 0 ] && [ ${#lines[@]} -gt 0 ]
