#!/bin/bash
# Fuzz smoke run: build the libFuzzer targets with clang (ASan+UBSan) and run
# each for a few seconds on its seed corpus.  Long runs: see tests/fuzz/README.
. "$(dirname "$0")/../e2e/lib.sh"

src=$top_srcdir/src
fz=$top_srcdir/tests/fuzz
SECONDS_EACH=${FUZZ_SECONDS:-10}
if ! command -v clang >/dev/null 2>&1; then
	skip "fuzz smoke run" "clang not installed (libFuzzer needs it)"
	done_testing; exit 0
fi
declare -A sources=(
	[reply]="smtp_reply result log"
	[address]="rfc5322 result log"
	[message]="message message_read rfc5322 result log"
)
# Further targets: tests/fuzz/fuzz_NAME.c plus a line "sources[NAME]=..." in
# tests/fuzz/sources-NAME (the src/*.c files it links, without .c).
for extra in "$fz"/sources-*; do
	[ -f "$extra" ] || continue
	sources[${extra##*/sources-}]=$(cat "$extra")
done
for t in $(printf '%s\n' "${!sources[@]}" | sort); do
	files=()
	for s in ${sources[$t]}; do files+=("$src/$s.c"); done
	if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-I"$top_builddir" -I"$src" "$fz/fuzz_$t.c" "${files[@]}" -lgnutls -o "$T/fuzz_$t" 2>"$T/cc.err"; then
		if grep -q 'fuzzer' "$T/cc.err"; then
			skip "fuzz_$t" "clang cannot build libFuzzer targets (libclang-rt missing?)"
			continue
		fi
		ok 1 "fuzz_$t builds" "$(head -5 "$T/cc.err")"
		continue
	fi
	ok 0 "fuzz_$t builds"
	mkdir -p "$T/corpus_$t"
	cp "$fz/corpus/$t"/* "$T/corpus_$t"/
	(cd "$T" && "./fuzz_$t" -max_total_time="$SECONDS_EACH" -max_len=4096 "corpus_$t" >"$T/fuzz_$t.log" 2>&1)
	ok $? "fuzz_$t runs ${SECONDS_EACH}s clean" "$(grep -E 'ERROR|SUMMARY|Done' "$T/fuzz_$t.log" | head -5)"
done
done_testing
