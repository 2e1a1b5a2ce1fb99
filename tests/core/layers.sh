#!/usr/bin/env bash
# The daemon's layers call one way, down (daemon/README.md): core, then host, then state,
# then edge. A file may include the headers of its own layer and of the layers below it,
# never one above; pasidd.c and main.c, the composition root, may include any. A header is
# known by its name, so no two layers may hold headers of the same name.
set -u
daemon=${1:?daemon directory}
layers=(core host state edge)
bad=0
declare -A rank owner
for i in "${!layers[@]}"; do
	rank[${layers[$i]}]=$i
done
for l in "${layers[@]}"; do
	for h in "$daemon/$l"/*.h; do
		name=${h##*/}
		if [[ -n ${owner[$name]:-} ]]; then
			echo "not ok - $name is a header of both ${owner[$name]} and $l"
			bad=1
		fi
		owner[$name]=$l
	done
done
for l in "${layers[@]}"; do
	for f in "$daemon/$l"/*.[ch]; do
		while IFS= read -r inc; do
			to=${owner[${inc##*/}]:-}
			if [[ -n $to && ${rank[$to]} -gt ${rank[$l]} ]]; then
				echo "not ok - ${f#"$daemon"/} ($l) includes $inc ($to, a layer above)"
				bad=1
			fi
		done < <(sed -nE 's/^#include *"([^"]+)".*/\1/p' "$f")
	done
done
((bad)) || echo "ok - every layer includes only its own headers and those of the layers below"
exit $bad
