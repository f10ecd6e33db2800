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
trap 'rm -f "$out"' EXIT

if ! command -v clang >/dev/null 2>&1; then
	echo "analyze: clang is not installed" >&2
	exit 1
fi
# shellcheck disable=SC2046
for f in "$top"/src/*.c; do
	clang --analyze -Xanalyzer -analyzer-output=text -o /dev/null \
		-I"$build" -I"$top/src" $(pkg-config --cflags gnutls inih libsecret-1) \
		-DLOCALEDIR='""' -DSYSCONFDIR='""' "$f" 2>&1 |
		grep -E '^[^ ]+:[0-9]+:[0-9]+: warning: ' >>"$out"
done

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
echo "analyze: $found unexplained finding(s), $explained explained in tests/analyzer.supp"
[ "$found" -eq 0 ]
