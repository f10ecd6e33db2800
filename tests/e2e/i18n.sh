#!/bin/bash
# The German catalog: po/de.po is compiled here into $T/locale and relaymail
# finds it through RELAYMAIL_LOCALEDIR (the compiled-in LOCALEDIR is where
# "make install" puts catalogs, not the build tree).
#
# Which locale: glibc ignores LANGUAGE only when LC_MESSAGES is "C" or
# "POSIX"; C.UTF-8 (shipped by libc-bin, always there) is not "C" for that
# rule, so LANGUAGE=de LC_ALL=C.UTF-8 selects the catalog without any
# generated locale.  The LANG=de_DE.UTF-8 checks use that locale where it is
# generated, else build it under $T with localedef (package locales), else
# skip; everything else needs only gettext's msgfmt.
. "$(dirname "$0")/lib.sh"

PO=$top_srcdir/po/de.po
if ! command -v msgfmt >/dev/null 2>&1; then
	echo "1..0 # SKIP msgfmt (gettext) is not installed"
	exit 0
fi

export RELAYMAIL_LOCALEDIR=$T/locale
mkdir -p "$T/locale/de/LC_MESSAGES"

# ---- the catalog itself ------------------------------------------------------

msgfmt -c -o "$T/locale/de/LC_MESSAGES/relaymail.mo" "$PO" 2>"$T/msgfmt.err"
ok $? "msgfmt -c accepts po/de.po (format strings, plural forms, header)" "$(cat "$T/msgfmt.err")"
if [ ! -s "$T/locale/de/LC_MESSAGES/relaymail.mo" ]; then
	echo "Bail out! po/de.po did not compile"
	exit 1
fi
stats=$(LC_ALL=C msgfmt --statistics -o /dev/null "$PO" 2>&1)
like "$stats" '^[0-9]+ translated messages\.$' "po/de.po: every message translated, none fuzzy"

# de: German (LANGUAGE picks the catalog, C.UTF-8 keeps UTF-8 output);
# en: the same run in the C locale.
de() { LANGUAGE=de LC_ALL=C.UTF-8 run_rm "$@"; }
en() { LANGUAGE=de LC_ALL=C run_rm "$@"; }

# ---- --help ------------------------------------------------------------------

de /dev/null --help
is "$RC" 0 "German --help: exit 0"
like "$OUT" '^Aufruf: relaymail \[OPTION\]\.\.\. \[--\] EMPFÄNGER\.\.\.$' "German --help: usage line"
case $OUT in
*Aufruf*) ;;
*) diag "no German at all: does this relaymail honour RELAYMAIL_LOCALEDIR?" ;;
esac
like "$OUT" '^Liest eine Nachricht von der Standardeingabe' "German --help: description"
like "$OUT" '^      --help         diese Hilfe anzeigen und beenden$' "German --help: coreutils wording for --help"
de_help=$OUT
en /dev/null --help
en_help=$OUT
like "$en_help" '^Usage: relaymail ' "LANGUAGE=de LC_ALL=C: --help stays English"

# The option column is the same in both; descriptions start in column 22
# and every line fits in 80 columns (counted in characters, not bytes).
optcol() { printf '%s\n' "$1" | grep -E '^ +-' | cut -c1-21; }
is "$(optcol "$de_help")" "$(optcol "$en_help")" "German --help: option column unchanged"
long=$(printf '%s\n' "$de_help" | perl -CS -ne 'chomp; print "$.: $_\n" if length > 79')
is "$long" "" "German --help: no line longer than 79 characters"
bad=$(printf '%s\n' "$de_help" | grep -E '^ +-' | cut -c22- | grep -E '^ ' || true)
is "$bad" "" "German --help: descriptions aligned in column 22"

# ---- errors --------------------------------------------------------------------

en /dev/null --bogus-option
en_rc=$RC
de /dev/null --bogus-option
is "$RC" "$en_rc" "unknown option: same exit status in German ($RC)"
like "$ERR" '^relaymail: unbekannte Option$' "unknown option: German error"
like "$ERR" '^„relaymail --help“ liefert weitere Informationen\.$' "unknown option: German hint"

en /dev/null --config /nonexistent x@example.org
en_rc=$RC
de /dev/null --config /nonexistent x@example.org
is "$RC" "$en_rc" "--config /nonexistent: same exit status in German ($RC)"
# The strerror text after it is libc's and may or may not be German.
like "$ERR" '^relaymail: /nonexistent: kann nicht geöffnet werden: ' "--config /nonexistent: German \"cannot open\""

de /dev/null -X /tmp/log x@example.org --config /nonexistent
like "$ERR" '^relaymail: warning: Option -X /tmp/log wird ignoriert: ' "warning: -X: German text, \"warning:\" tag kept"

# ---- the queue: a notice, mailq's table and its plural ----------------------

start_relay
write_config "$T/conf" queue=yes
stop_relay
printf 'Subject: i18n\n\nbody\n' > "$T/msg"

de /dev/null --config "$T/conf" -bp
like "$OUT" '^Mail-Warteschlange ist leer$' "mailq: empty queue in German"

de "$T/msg" --config "$T/conf" bob@example.org
is "$RC" 0 "relay down: queued, exit 0"
like "$ERR" '; Nachricht als [0-9]+\.[0-9]+\.[0-9a-f]{8} in die Warteschlange gestellt, relaymail -q versucht es erneut$' \
	"relay down: German queue notice"

de /dev/null --config "$T/conf" -bp
like "$OUT" '^-- 1 Nachricht in der Warteschlange$' "mailq: singular"
like "$OUT" '^-Warteschlangen-ID- .* -Bytes- -Alter- +-Vers\.-  -Absender/Empfänger/Letzter Fehler-$' \
	"mailq: German column headings"
# The headings stay on the columns: the last one starts where the
# recipient lines do (column 59), counted in characters.
cols=$(printf '%s\n' "$OUT" | perl -CS -ne 'print index($_, "-Absender"), " " if /^-Warteschlangen-ID-/;
	print index($_, "<bob\@"), "\n" if /^ +<bob\@/')
is "$cols" "58 58" "mailq: German headings aligned with the rows"

de "$T/msg" --config "$T/conf" carol@example.org
de /dev/null --config "$T/conf" -bp
like "$OUT" '^-- 2 Nachrichten in der Warteschlange$' "mailq: plural (nplurals=2)"

# ---- the C locale stays English ----------------------------------------------

en /dev/null --config /nonexistent x@example.org
like "$ERR" '^relaymail: /nonexistent: cannot open: ' "LANGUAGE=de LC_ALL=C: errors stay English"
LANGUAGE='' LC_ALL=C.UTF-8 run_rm /dev/null --bogus-option
like "$ERR" "^relaymail: unknown option
Try 'relaymail --help' for more information\.$" "LC_ALL=C.UTF-8 without LANGUAGE: English"
LANGUAGE='' LC_ALL=C.UTF-8 run_rm /dev/null --config "$T/conf" -bp
like "$OUT" '^-- 2 messages in the queue$' "LC_ALL=C.UTF-8 without LANGUAGE: mailq in English"

# ---- a real German locale: LANG alone, as on a German desktop ---------------

# A generated de_DE.UTF-8 if there is one; else one compiled into $T with
# localedef from the locales package's sources (LOCPATH: nothing system-wide).
delocale=$(locale -a 2>/dev/null | grep -i -m1 -E '^de_DE\.utf-?8$')
if [ -z "$delocale" ] && [ -f /usr/share/i18n/locales/de_DE ] && command -v localedef >/dev/null 2>&1 &&
   { mkdir -p "$T/loc"; localedef -i de_DE -f UTF-8 "$T/loc/de_DE.UTF-8" >/dev/null 2>&1
     [ -s "$T/loc/de_DE.UTF-8/LC_CTYPE" ]; }; then
	export LOCPATH=$T/loc
	delocale=de_DE.UTF-8
fi
if [ -n "$delocale" ]; then
	LANGUAGE='' LC_ALL='' LANG=$delocale run_rm /dev/null --bogus-option
	like "$ERR" '^relaymail: unbekannte Option$' "LANG=$delocale alone selects German"
	LANGUAGE='' LC_ALL='' LANG=$delocale run_rm /dev/null --help
	like "$OUT" '^Aufruf: relaymail .* EMPFÄNGER\.\.\.$' "LANG=$delocale: --help in German, UTF-8"
else
	skip "LANG=de_DE.UTF-8 alone selects German" "no German locale and no locales package to build one"
	skip "LANG=de_DE.UTF-8: --help in German, UTF-8" "no German locale and no locales package to build one"
fi

done_testing
