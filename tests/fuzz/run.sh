#!/usr/bin/env bash
# Builds the libFuzzer targets (a separate clang configuration, -DPASIDD_FUZZ=ON) and runs
# each for a bounded time on a copy of its seed corpus. Fails on any crash, leak, sanitizer
# report or oracle abort; the reproducer is then left in $FUZZ_OUT (printed).
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      (default 60, all targets)
#
# Environment: FUZZ_BUILD (build directory, default build-fuzz), FUZZ_OUT (work directory,
# default a new one under /tmp; new corpus entries and crash files go there, never into
# the repository), FUZZ_JOBS (build parallelism, default nproc).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(fuzz_request fuzz_config fuzz_journal)
build=${FUZZ_BUILD:-build-fuzz}
out=${FUZZ_OUT:-$(mktemp -d /tmp/pasidd-fuzz.XXXXXX)}
jobs=${FUZZ_JOBS:-$(nproc)}

CC=clang cmake -S . -B "$build" -DPASIDD_FUZZ=ON -DPASIDD_WERROR=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

# LeakSanitizer is on; fuzz_request keeps its namespace across inputs and checks for leaks
# itself at each reset (see its header), so libFuzzer's per-input check is off for it only.
# The -dict files hold the tokens the formats are made of.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
bad=0
for t in "${targets[@]}"; do
	work="$out/$t"
	mkdir -p "$work/corpus" "$work/artifacts"
	flags=()
	[[ -f tests/fuzz/$t.dict ]] && flags+=(-dict="tests/fuzz/$t.dict")
	[[ $t == fuzz_request ]] && flags+=(-detect_leaks=0)
	start=$SECONDS
	# New inputs go to the work corpus; the seeds are read from the repository.
	if "$build/tests/fuzz/$t" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 \
		-max_len=16384 -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${flags[@]}" \
		"$work/corpus" "tests/fuzz/corpus/$t" >"$work/log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
		cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1)
		echo "$t: ok, ${execs:-?} execs in $((SECONDS - start)) s, $cov," \
			"corpus $(ls "$work/corpus" | wc -l) new + $(ls "tests/fuzz/corpus/$t" | wc -l) seeds"
	else
		echo "$t: FAILED; log $work/log, reproducer(s):" "$work"/artifacts/*
		grep -E "BUG|ERROR|SUMMARY|runtime error" "$work/log" | head -20 || true
		bad=1
	fi
done
((bad == 0)) || exit 1
[[ -n ${FUZZ_OUT:-} ]] || rm -rf "$out"
