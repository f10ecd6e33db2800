#!/bin/sh
# Configure and build in a separate build directory: tests/build.sh DIR [configure args].
# Regenerates the autotools files when configure is missing or older than its inputs.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
	autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
fi
mkdir -p "$dir"
cd "$dir"
stamp="configure-args"
if [ ! -f Makefile ] || [ "$(cat "$stamp" 2>/dev/null)" != "$*" ] || [ "$top/configure" -nt Makefile ]; then
	"$top/configure" --quiet "$@"
	printf '%s' "$*" > "$stamp"
fi
make -j"$(nproc)" >/dev/null
