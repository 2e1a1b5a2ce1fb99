#!/usr/bin/env bash
# Installs what is needed, builds pasidd, and runs the whole test suite: the normal build
# with warnings as errors, the same suite under ASan+UBSan, and under valgrind memcheck.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps
jobs=$(nproc)

echo "== build (-Werror)"
cmake -S . -B build -DPASIDD_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
(cd build && ctest -j"$jobs" --output-on-failure --timeout 900)

echo "== build with ASan+UBSan"
cmake -S . -B build-asan -DPASIDD_WERROR=ON -DPASIDD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under ASan+UBSan"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest -j"$jobs" --output-on-failure --timeout 900)

echo "== tests under valgrind memcheck"
vgdir=$(mktemp -d /tmp/pasidd-vg.XXXXXX)
vg="valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --track-fds=no"
# The daemon under valgrind in every integration suite; the unit suites run in-process.
(cd build && PASIDD_WRAPPER="$vg --log-file=$vgdir/pasidd.%p.log" \
	ctest -j"$jobs" --output-on-failure --timeout 1800 -R '^integration/')
for t in build/tests/test_*; do
	case "$(basename "$t")" in
	test_idmap | test_namespace | test_codec | test_config | test_journal | test_libpasid | test_quota | test_fsguard)
		CK_FORK=no $vg --error-exitcode=99 --log-file="$vgdir/$(basename "$t").log" "$t" >/dev/null ||
			{ echo "valgrind: $t failed"; cat "$vgdir/$(basename "$t").log"; exit 1; } ;;
	esac
done
bad=0
for f in "$vgdir"/*.log; do
	if grep -qE "ERROR SUMMARY: [1-9]|definitely lost: [1-9]" "$f"; then
		echo "valgrind found errors in $f:"; cat "$f"; bad=1
	fi
done
((bad == 0)) || exit 1
echo "valgrind: $(ls "$vgdir" | wc -l) logs, 0 errors, 0 definite leaks"
rm -rf "$vgdir"

# Fuzzing: the libFuzzer targets of tests/fuzz in their own clang build, each run for a bounded
# time from its seed corpus; any crash, leak or oracle failure fails the run (reproducer kept
# under /tmp/pasidd-fuzz.*). FUZZ_SECONDS=0 skips the stage.
fuzz_secs=${FUZZ_SECONDS:-60}
if ((fuzz_secs > 0)); then
	echo "== fuzzing (${fuzz_secs} s per target)"
	bash tests/fuzz/run.sh "$fuzz_secs"
fi
echo "== all test stages passed"
# ctest (plain, ASan+UBSan, valgrind) and the fuzzers; set -e ends the run at the first failure.
echo "stages: $((3 + (fuzz_secs > 0))) passed, 0 failed"
