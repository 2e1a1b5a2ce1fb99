#!/usr/bin/env bash
# Installs what is needed, builds pasidd, and runs the whole test suite: the normal build
# with warnings as errors, the same suite under ASan+UBSan, under valgrind memcheck, and the
# fuzzers. Every stage runs even when an earlier one failed (a stage whose build failed is
# not run); the summary at the end says what each stage did, with ctest's counts of failed and
# skipped tests, and the exit status is 1 when any stage failed.
#
# Environment: FUZZ_SECONDS (seconds per fuzz target, default 60; 0 leaves fuzzing out);
# KERNEL_TESTS=0 leaves out the kernel stage (tests/kernel/: pasidd in real 7.3 and 6.12
# kernels under QEMU; the first run on a machine builds both kernels, ~15 min on 2 cores).
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
fuzz_secs=${FUZZ_SECONDS:-60}
kernel_tests=${KERNEL_TESTS:-1}
work=$(mktemp -d /tmp/pasidd-run-all.XXXXXX)
# libbpf's bpf() calls leave members of bpf_attr unset that valgrind reads (the .supp says).
vg="valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --track-fds=no"
vg+=" --suppressions=$PWD/tests/valgrind-libbpf.supp"
declare -A result took # stage -> passed, FAILED, not run; seconds it took
stages=()

# note TEXT: what the running stage says of itself in the summary.
note() { echo "$*" >"$work/$stage.note"; }

# ctest_in DIR [ctest arguments]: runs ctest there, shows its output, and notes its counts.
ctest_in() {
	local dir=$1 log="$work/$stage.ctest" rc=0 total failed skipped names skips
	shift
	(cd "$dir" && ctest -j"$jobs" --output-on-failure --no-tests=error "$@") 2>&1 | tee "$log" ||
		rc=$?
	total=$(sed -En 's/^[0-9]+% tests passed, [0-9]+ tests? failed out of ([0-9]+)$/\1/p' "$log")
	[[ -n $total ]] || total=0
	failed=$(sed -En 's/^[0-9]+% tests passed, ([0-9]+) tests? failed out of [0-9]+$/\1/p' "$log")
	skipped=$(grep -cE '^\s+[0-9]+ - .* \(Skipped\)$' "$log" || true)
	names=$(sed -En '/^The following tests FAILED:/,$ s/^\s+[0-9]+ - (.*) \(.*\)$/\1/p' "$log" |
		tr '\n' ' ')
	skips=$(sed -En 's/^\s+[0-9]+ - (.*) \(Skipped\)$/\1/p' "$log" | tr '\n' ' ')
	# No summary line from ctest (it ended early): unknown unless it passed.
	if [[ -z $failed ]]; then
		failed="?"
		((rc != 0)) || failed=0
	fi
	note "$total tests: $((total - ${failed/\?/0} - skipped)) passed, $failed failed${names:+ (${names% })}," \
		"$skipped skipped${skips:+ (${skips% })}"
	return "$rc"
}

deps() { bash .ci/deps; }

build() {
	cmake -S . -B build -DPASIDD_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j"$jobs"
}

tests() { ctest_in build --timeout 900; }

# The benchmarks at their small sizes: that each still runs and prints its rows (run.sh fails
# only when one cannot run, never on a figure; the figures of a CI machine mean nothing).
benchmarks() {
	local out="$work/benchmarks.out" rows
	bash tests/bench/run.sh --quick --build build --disk "$work" | tee "$out"
	rows=$(grep -c '^| ' "$out" || true)
	note "every benchmark ran (--quick); $((rows - 2)) rows"
}

asan_build() {
	cmake -S . -B build-asan -DPASIDD_WERROR=ON -DPASIDD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
		>/dev/null
	cmake --build build-asan -j"$jobs"
}

asan_tests() {
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest_in build-asan --timeout 900
}

# Whether any valgrind log in the directory reports an error or a definite leak (shown).
vg_errors() {
	local f bad=1
	for f in "$1"/*.log; do
		[[ -e $f ]] || continue
		if grep -qE "ERROR SUMMARY: [1-9]|definitely lost: [1-9]" "$f"; then
			echo "valgrind found errors in $f:"
			cat "$f"
			bad=0
		fi
	done
	return "$bad"
}

# The daemon under valgrind in every integration suite.
valgrind_integration() {
	local vgdir="$work/vg-integration" rc=0 counts logs
	mkdir -p "$vgdir"
	PASIDD_WRAPPER="$vg --log-file=$vgdir/pasidd.%p.log" \
		ctest_in build --timeout 1800 -L '^integration$' || rc=1
	counts=$(cat "$work/$stage.note")
	logs=$(find "$vgdir" -name '*.log' | wc -l)
	if vg_errors "$vgdir"; then
		rc=1
		note "$counts; $logs daemon logs, with valgrind errors (above)"
	else
		note "$counts; $logs daemon logs, 0 errors, 0 definite leaks"
	fi
	return "$rc"
}

# The unit suites in-process (CK_FORK=no), each ctest entry of label unit as ctest would run
# it (its command and environment, from ctest itself), so that none is forgotten.
valgrind_unit() {
	local vgdir="$work/vg-unit" n=0 failed=() skipped=0 skips=() name envq cmdq rc out
	mkdir -p "$vgdir"
	while IFS=$'\t' read -r name envq cmdq; do
		n=$((n + 1))
		out="$vgdir/${name//\//_}"
		rc=0
		eval "env $envq $vg --error-exitcode=99 --log-file=\"$out.log\" $cmdq" >"$out.out" 2>&1 ||
			rc=$?
		if ((rc == 77)); then
			skipped=$((skipped + 1))
			skips+=("$name")
			echo "$name: skipped: $(tail -1 "$out.out")"
		elif ((rc != 0)); then
			failed+=("$name")
			echo "$name: FAILED under valgrind (exit $rc):"
			cat "$out.out" "$out.log"
		else
			echo "$name: passed"
		fi
	done < <(cd build && ctest --show-only=json-v1 -L '^unit$' | python3 -c '
import json, shlex, sys
for t in json.load(sys.stdin)["tests"]:
    env = [p["value"] for p in t.get("properties", []) if p["name"] == "ENVIRONMENT"]
    env = (env[0] if env else []) + ["CK_FORK=no"]
    print(t["name"], " ".join(map(shlex.quote, env)), " ".join(map(shlex.quote, t["command"])),
          sep="\t")
')
	((n > 0)) || {
		echo "no unit tests found in build/"
		note "no unit tests found"
		return 1
	}
	vg_errors "$vgdir" && failed+=("(valgrind errors)")
	note "$n tests: $((n - ${#failed[@]} - skipped)) passed, ${#failed[@]} failed${failed[*]:+ (${failed[*]})}, $skipped skipped${skips[*]:+ (${skips[*]})}"
	((${#failed[@]} == 0))
}

# Fuzzing: the libFuzzer targets of tests/fuzz in their own clang build, each run for a bounded
# time from its seed corpus; any crash, leak or oracle failure fails the run (reproducer kept
# under /tmp/pasidd-fuzz.*).
fuzzing() { bash tests/fuzz/run.sh "$fuzz_secs"; }

# The kernel stage: the build of this tree in 7.3 and 6.12 guests (tests/kernel/run.sh).
kernel() {
	local rc=0 out="$work/kernel.out"
	sh tests/kernel/run.sh build 2>&1 | tee "$out" || rc=$?
	note "$(sed -n 's/^== kernel tests: summary: //p' "$out" | tail -1)"
	[[ -s $work/kernel.note && $(cat "$work/kernel.note") != "" ]] || note "no summary (see above)"
	return "$rc"
}

# run NAME FUNCTION [STAGE THAT MUST HAVE PASSED...]: one stage, in a subshell under set -e.
run() {
	local name=$1 fn=$2 dep
	shift 2
	stages+=("$name")
	for dep in "$@"; do
		if [[ ${result[$dep]} != passed ]]; then
			result[$name]="not run"
			echo "not run: $dep did not pass" >"$work/$name.note"
			echo "== $name: not run ($dep did not pass)"
			return
		fi
	done
	echo "== $name"
	start=$SECONDS
	(
		set -e
		stage=$name
		"$fn"
	)
	if (($? == 0)); then result[$name]=passed; else result[$name]=FAILED; fi
	took[$name]=$((SECONDS - start))
}

run deps deps
run build build
run tests tests build
run benchmarks benchmarks build
run asan-build asan_build
run asan-tests asan_tests asan-build
run valgrind-integration valgrind_integration build
run valgrind-unit valgrind_unit build
if ((kernel_tests)); then
	run kernel kernel build
else
	stages+=(kernel)
	result[kernel]="not run"
	echo "not run: KERNEL_TESTS=0" >"$work/kernel.note"
fi
if ((fuzz_secs > 0)); then
	run fuzzing fuzzing
else
	stages+=(fuzzing)
	result[fuzzing]="not run"
	echo "not run: FUZZ_SECONDS=0" >"$work/fuzzing.note"
fi

echo "== summary"
passed=0 failed=() notrun=0
for s in "${stages[@]}"; do
	printf '%-21s %-8s %5s  %s\n' "$s" "${result[$s]}" "${took[$s]:+${took[$s]} s}" \
		"$(cat "$work/$s.note" 2>/dev/null)"
	case ${result[$s]} in
	passed) passed=$((passed + 1)) ;;
	FAILED) failed+=("$s") ;;
	*) notrun=$((notrun + 1)) ;;
	esac
done
# The tests of every ctest run and valgrind pass, summed from the notes.
sum() { cat "$work"/*.note 2>/dev/null | sed -En "s/.* ([0-9]+) $1.*/\\1/p" | awk '{ n += $1 } END { print n + 0 }'; }
if ((${#failed[@]})); then
	echo "logs kept in $work"
else
	echo "== all test stages passed"
fi
echo "stages: $passed passed, ${#failed[@]} failed${failed[*]:+ (${failed[*]})}, $notrun not run;" \
	"test runs: $(sum passed) passed, $(sum failed) failed, $(sum skipped) skipped"
((${#failed[@]} == 0)) || exit 1
rm -rf "$work"
