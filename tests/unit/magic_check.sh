#!/bin/sh
# Every magic number guarding a handle (STYLE.md §11) must be unique, so a
# pointer of one type can never pass another type's check. Scans every
# "#define NAME_MAGIC 0x..." in the sources and fails naming both holders of
# a duplicate value.
top=${srcdir:-$(dirname "$0")/../..}
out=$(grep -rHoE '#define[[:space:]]+[A-Z0-9_]+_MAGIC[[:space:]]+0x[0-9a-fA-F]+' \
	--include='*.c' --include='*.h' "$top/daemon" "$top/lib" "$top/agent" "$top/cli" "$top/plugins" "$top/sdk" 2>/dev/null |
	awk '{ split($0, a, ":"); v = tolower($NF); n = $(NF-1);
	       if (v in seen) { printf "magic %s used by both %s (%s) and %s (%s)\n", v, seen[v], where[v], n, a[1]; bad = 1 }
	       seen[v] = n; where[v] = a[1]; count++ }
	     END { if (!bad) printf "%d magic numbers, all unique\n", count; exit bad }')
rc=$?
echo "$out"
if [ "$rc" -eq 0 ] && echo "$out" | grep -q '^0 magic'; then
	echo "found no magic numbers at all under $top: wrong srcdir?" >&2
	exit 1
fi
exit $rc
