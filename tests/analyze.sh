#!/bin/sh
# Static analysis of src/ with clang's analyzer (what scan-build runs), as
# ./run-tests does: tests/analyze.sh BUILD-DIR.  Every finding fails the run
# unless tests/analyzer.supp explains it (one line: file, checker, and a piece
# of the source line it points at, then "# why it is safe").
# Prints one line per unexplained finding and exits non-zero when any.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: tests/analyze.sh BUILD-DIR}" && pwd)
supp=$top/tests/analyzer.supp
out=$(mktemp)

if ! command -v clang >/dev/null 2>&1; then
	echo "analyze: clang is not installed" >&2
	exit 1
fi
# One clang per source file, as many at once as there are cores; a file that
# does not compile is a failure of its own (its errors are no "warning:").
work=$(mktemp -d)
trap 'rm -f "$out"; rm -rf "$work"' EXIT
ANALYZE_CFLAGS="-I$build -I$top/src $(pkg-config --cflags gnutls inih libsecret-1)"
export ANALYZE_CFLAGS work
# shellcheck disable=SC2016
printf '%s\n' "$top"/src/*.c | xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} sh -c '
	f=$1; base=${f##*/}
	# shellcheck disable=SC2086
	clang --analyze -Xanalyzer -analyzer-output=text -o /dev/null $ANALYZE_CFLAGS \
		-DLOCALEDIR="\"\"" -DSYSCONFDIR="\"\"" "$f" >"$work/$base.out" 2>&1 ||
		echo "$f: clang could not analyze it" >"$work/$base.failed"' sh {}
cat "$work"/*.out | grep -E '^[^ ]+:[0-9]+:[0-9]+: warning: ' >>"$out"
failed_files=$(cat "$work"/*.failed 2>/dev/null)

found=0 explained=0
while IFS= read -r line; do
	file=${line%%:*}
	rest=${line#*:}
	lineno=${rest%%:*}
	checker=$(printf '%s\n' "$line" | sed -n 's/.*\[\([A-Za-z.]*\)\]$/\1/p')
	code=$(sed -n "${lineno}p" "$file")
	rel=src/${file##*/}
	ok=0
	while IFS= read -r s; do
		case "$s" in ''|'#'*) continue ;; esac
		sfile=$(printf '%s\n' "$s" | awk '{print $1}')
		schecker=$(printf '%s\n' "$s" | awk '{print $2}')
		scode=$(printf '%s\n' "$s" | sed 's/^[^ ]* [^ ]* //; s/ *#.*$//')
		if [ "$sfile" = "$rel" ] && [ "$schecker" = "$checker" ] &&
		   printf '%s\n' "$code" | grep -qF -- "$scode"; then
			ok=1; break
		fi
	done <"$supp"
	if [ $ok -eq 1 ]; then
		explained=$((explained + 1))
	else
		found=$((found + 1))
		echo "analyze: $rel:$lineno: ${line#*: warning: }"
		echo "analyze:     $(printf '%s' "$code" | sed 's/^[[:space:]]*//')"
	fi
done <"$out"
if [ -n "$failed_files" ]; then
	printf 'analyze: %s\n' "$failed_files"
	found=$((found + $(printf '%s\n' "$failed_files" | wc -l)))
fi
echo "analyze: $found unexplained finding(s), $explained explained in tests/analyzer.supp"
[ "$found" -eq 0 ]
