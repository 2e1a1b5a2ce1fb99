#!/bin/bash
# Runs every benchmark of tests/bench and prints one table:
#   benchmark | figure | baseline | ratio | target | met?
# Each figure is measured beside its baseline in the same run; see tests/bench/README.md.
#
#   tests/bench/run.sh [--quick] [--build DIR] [--disk DIR] [--perf DIR] [--out DIR]
#
#   --quick       small sizes (checks that everything runs, in seconds; figures meaningless)
#   --build DIR   the build directory (default: build-rel if it exists, else build); a
#                 Release build measures what ships: cmake -S . -B build-rel
#                 -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel
#   --disk DIR    a directory on a disk file system for the durable cases (default /var/tmp)
#   --perf DIR    also profile pasidd (perf record -e cpu-clock -g) during the bulk fill, the
#                 16-connection throughput run and the start-ups: DIR/*.data, and the top
#                 symbols of each in DIR/*.txt
#   --out DIR     keep each benchmark's full output there (default: a temporary directory,
#                 removed at the end)
#
# Exits non-zero only when a benchmark could not run, never because of a figure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
quick=0 build='' disk=/var/tmp perf='' out=''
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--build) build=$2; shift ;;
	--disk) disk=$2; shift ;;
	--perf) perf=$2; shift ;;
	--out) out=$2; shift ;;
	-h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$build" ]; then
	build=$top/build-rel
	[ -d "$build/tests" ] || build=$top/build
fi
bin=$build/tests
if [ ! -x "$bin/bench_alloc" ]; then
	echo "run.sh: no benchmarks in $bin: build first (cmake --build $build)" >&2
	exit 2
fi
keep=1
if [ -z "$out" ]; then
	out=$(mktemp -d /tmp/pasidd-bench-run.XXXXXX)
	keep=0
fi
mkdir -p "$out"
export BENCH_QUICK=$quick
if [ -n "$perf" ]; then
	if ! command -v perf >/dev/null; then
		echo "run.sh: --perf needs perf" >&2
		exit 2
	fi
	mkdir -p "$perf"
	BENCH_PERF=$(cd "$perf" && pwd)
	export BENCH_PERF
fi

# name, then its command line. The sizes are each benchmark's own defaults (full scale:
# 1,000,000 mappings), or BENCH_QUICK's.
failed=()
ran=()
run() {
	local name=$1
	shift
	printf '%s ... ' "$name" >&2
	local t0=$SECONDS
	ran+=("$name")
	if "$@" >"$out/$name.out" 2>"$out/$name.err"; then
		echo "done ($((SECONDS - t0)) s)" >&2
	else
		echo "FAILED (exit $?; see $out/$name.err)" >&2
		tail -5 "$out/$name.err" >&2
		failed+=("$name")
	fi
}

run bench_alloc "$bin/bench_alloc"
run bench_memory "$bin/bench_memory"
run bench_bulk "$bin/bench_bulk" "" "$disk"
run bench_startup "$bin/bench_startup" "" "$disk"
run bench_listing "$bin/bench_listing" "" "$disk"
run bench_listing_tmpfs "$bin/bench_listing" "" /dev/shm
run bench_compact "$bin/bench_compact" "" "$disk"
run bench_throughput "$bin/bench_throughput" "" "$disk"
# The earlier benchmarks: their figures in their output files (no table rows).
if [ "$quick" = 1 ]; then
	run bench_daemon "$bin/bench_daemon" 2000 "$disk"
	run bench_journal "$bin/bench_journal" /dev/shm/pasidd-bench-journal 2000
	run bench_replay "$bin/bench_replay" /dev/shm/pasidd-bench-replay 20000
else
	run bench_daemon "$bin/bench_daemon" 20000 "$disk"
	run bench_journal "$bin/bench_journal"
	run bench_replay "$bin/bench_replay" /dev/shm/pasidd-bench-replay 1000000
fi

echo
echo "pasidd benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average" \
	"$(cut -d' ' -f1-3 /proc/loadavg), build $(basename "$build")$([ "$quick" = 1 ] && echo ', --quick: sizes too small for the targets')"
echo
echo "| benchmark | figure | baseline | ratio | target | met? |"
echo "|---|---|---|---|---|---|"
for name in "${ran[@]}"; do
	sed -n 's/^@row|//p' "$out/$name.out"
done | sed 's/|/ | /g; s/^/| /; s/$/ |/'
echo
echo "(ratio: figure / baseline; the full output of each benchmark: $([ $keep = 1 ] && echo "$out" || echo "run with --out DIR"))"

if [ -n "$perf" ]; then
	for f in "$BENCH_PERF"/*.data; do
		[ -e "$f" ] || continue
		perf report -i "$f" --no-children --sort symbol --stdio -g none 2>/dev/null |
			grep -v '^#' | grep -v '^$' | grep '%' | head -40 >"${f%.data}.txt"
		perf report -i "$f" --children --sort symbol --stdio -g none 2>/dev/null |
			grep -v '^#' | grep -v '^$' | grep '%' | head -60 >"${f%.data}.children.txt"
		echo "profile $(basename "$f"): top symbols (self) in ${f%.data}.txt"
		head -8 "${f%.data}.txt"
	done
fi
[ $keep = 1 ] || rm -rf "$out"
if [ ${#failed[@]} -gt 0 ]; then
	echo "could not run: ${failed[*]}" >&2
	exit 1
fi
exit 0
