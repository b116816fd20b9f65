#!/usr/bin/env bash
# Mutation check: applies each one-line mutation of Scripts/mutations.txt, one at a time, to a scratch
# copy of the working tree (never to the tree itself), rebuilds, runs the tests the line names under a
# time limit, and reports per mutation whether the tests caught it (failed), it survived (tests passed)
# or the run hung (hit the limit). The last line is `caught C, survived S, hung H`.
#
# Usage: Scripts/mutate.sh [LIST] [-k PATTERN]   (-k: only mutations whose line contains PATTERN)
# Environment: MUTATE_SCRATCH   scratch folder (default ${TMPDIR:-/tmp}/verity-mutate-<repo folder name>);
#                               kept between runs so that only the mutated modules rebuild
#              MUTATE_TIMEOUT   seconds allowed per test run (default 300)
#              MUTATE_JOBS      build jobs (default 2)
#
# List format (one mutation a line; blank lines and lines starting with # are skipped), fields separated
# by a TAB:  FILE  ORIGINAL  REPLACEMENT  TESTS
#   FILE         path from the repository root
#   ORIGINAL     a literal string that occurs exactly once in FILE (else the line is reported as bad)
#   REPLACEMENT  the literal string put in its place
#   TESTS        XCTest selectors for the test binary, comma-separated: Target.Class or Target.Class/testName
# Fields are taken literally (no escapes); REPLACEMENT may be empty (two TABs in a row).
#
# Exit status: 0 when every mutation was caught, 1 when any survived or hung, 2 on a setup error or a bad line (checked
# for every line before anything is built: a line whose ORIGINAL is not found exactly once fails the script at once).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
list="$here/mutations.txt"
only=""
while (($#)); do
  case "$1" in
    -k) only="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) list="$1"; shift ;;
  esac
done
[[ -f $list ]] || { echo "mutate.sh: no list $list" >&2; exit 2; }
scratch=${MUTATE_SCRATCH:-${TMPDIR:-/tmp}/verity-mutate-$(basename "$repo")}
limit=${MUTATE_TIMEOUT:-300}
jobs=${MUTATE_JOBS:-2}
[[ $scratch != "$repo" && $scratch != "$repo"/* ]] || { echo "mutate.sh: scratch must be outside the repository" >&2; exit 2; }

# MARK: - Scratch copy

echo "mutate.sh: scratch copy $scratch (from $repo)"
mkdir -p "$scratch"
# Everything but the scratch's own build folder is replaced; tar keeps modification times, so unchanged files do not rebuild.
find "$scratch" -mindepth 1 -maxdepth 1 ! -name .build -exec rm -rf {} + || exit 2
(cd "$repo" && tar -cf - --exclude=./.git --exclude='./.build*' --exclude=./.swiftpm --exclude=./runs .) | (cd "$scratch" && tar -xf -) || {
  echo "mutate.sh: copy failed" >&2; exit 2; }
cd "$scratch" || exit 2
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

build() { timeout 1800 swift build --build-tests -j "$jobs" >"$log/build" 2>&1; }

# Runs the selectors; prints caught|survived|hung|no-tests.
run_tests() {
  timeout -k 10 "$limit" "$bin" "$1" >"$log/test" 2>&1
  local rc=$?
  if ((rc == 124 || rc == 137)); then echo hung; return; fi
  local n
  n=$(grep -Eo 'Executed [0-9]+ tests?' "$log/test" | tail -n 1 | grep -Eo '[0-9]+')
  if ((rc == 0)) && [[ -z $n || $n == 0 ]]; then echo no-tests; return; fi
  ((rc == 0)) && echo survived || echo caught
}

# MARK: - Lines

# Splits a list line at its TABs into file, original, replacement, tests (read would merge an empty field).
split_line() {
  local rest=$1
  file=${rest%%$'\t'*}; rest=${rest#*$'\t'}
  original=${rest%%$'\t'*}; rest=${rest#*$'\t'}
  replacement=${rest%%$'\t'*}; tests=${rest#*$'\t'}
  [[ $1 == *$'\t'*$'\t'*$'\t'* ]] || tests=""
}

mapfile -t lines < <(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$list")
if [[ -n $only ]]; then
  mapfile -t lines < <(printf '%s\n' "${lines[@]}" | grep -F -e "$only")
fi

# Every line must name a file, tests, and an original that occurs exactly once, before anything is built: a line that
# matches nothing tests nothing, and must fail the script rather than drop silently out of the count.
bad=0
i=0
for line in "${lines[@]}"; do
  i=$((i + 1))
  split_line "$line"
  if [[ -z ${tests:-} || ! -f $file ]]; then
    echo "mutate.sh: line $i: no tests or no file $file" >&2; bad=$((bad + 1)); continue
  fi
  count=$(ORIG="$original" perl -0777 -ne 'my $o = $ENV{ORIG}; my $c = () = /\Q$o\E/g; print $c' "$file")
  if [[ $count != 1 ]]; then
    echo "mutate.sh: line $i: '$original' found $count times in $file (must be exactly once)" >&2; bad=$((bad + 1))
  fi
done
if ((bad)); then echo "mutate.sh: $bad bad line(s) in $list: re-aim them at the code (nothing was run)" >&2; exit 2; fi

echo "mutate.sh: baseline build"
if ! build; then tail -n 30 "$log/build"; echo "mutate.sh: the unmutated copy does not build" >&2; exit 2; fi
bin=$(swift build --show-bin-path)/VerityPackageTests.xctest
[[ -x $bin ]] || { echo "mutate.sh: no test binary at $bin" >&2; exit 2; }

# Baseline: every selector set must pass on the unmutated copy, or its mutations would count as caught for nothing.
declare -A baseline=()
for line in "${lines[@]}"; do
  split_line "$line"
  [[ -n ${tests:-} && -z ${baseline[$tests]:-} ]] || continue
  baseline[$tests]=$(run_tests "$tests")
  if [[ ${baseline[$tests]} != survived ]]; then
    tail -n 20 "$log/test"
    echo "mutate.sh: baseline $tests: ${baseline[$tests]} (must pass unmutated)" >&2; exit 2
  fi
done

caught=0 survived=0 hung=0 bad=0
printf '%-4s %-9s %6s  %s\n' "#" "result" "tests" "mutation"
i=0
for line in "${lines[@]}"; do
  i=$((i + 1))
  split_line "$line"
  label="$file: '${original}' -> '${replacement}' [$tests]"
  if [[ -z ${tests:-} || ! -f $file ]]; then
    printf '%-4s %-9s %6s  %s\n' "$i" "BAD-LINE" "-" "$label"; bad=$((bad + 1)); continue
  fi
  cp "$file" "$log/orig"
  count=$(ORIG="$original" perl -0777 -ne 'my $o = $ENV{ORIG}; my $c = () = /\Q$o\E/g; print $c' "$file")
  if [[ $count != 1 ]]; then
    printf '%-4s %-9s %6s  %s (original found %s times)\n' "$i" "BAD-LINE" "-" "$label" "$count"; bad=$((bad + 1)); continue
  fi
  ORIG="$original" REPL="$replacement" perl -0777 -i -pe '
    my ($o, $r) = ($ENV{ORIG}, $ENV{REPL});
    s/\Q$o\E/$r/;' "$file"
  took="-"
  if ! build; then
    result="BUILD-ERR"; bad=$((bad + 1))
    grep -m 3 "error:" "$log/build" | sed 's/^/       /'
  else
    t0=$SECONDS
    result=$(run_tests "$tests")
    took="$((SECONDS - t0))s"
    case $result in
      caught) caught=$((caught + 1)) ;;
      survived) survived=$((survived + 1)) ;;
      hung) hung=$((hung + 1)) ;;
      *) bad=$((bad + 1)) ;;
    esac
  fi
  cp "$log/orig" "$file"
  printf '%-4s %-9s %6s  %s\n' "$i" "$result" "$took" "$label"
done

# Leave the scratch copy built unmutated, so that the next run starts incremental.
build || true
((bad)) && echo "mutate.sh: $bad mutation(s) did not build or ran no test (not counted below)"
echo "caught $caught, survived $survived, hung $hung"
((bad)) && exit 2
((survived + hung)) && exit 1
exit 0
