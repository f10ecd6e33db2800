#!/bin/sh
# Install the Debian packages the build and the test suite need (idempotent:
# apt-get runs only when something is missing).  Used by ./quickstart and
# ./run-tests; extra package names may be given as arguments.
set -eu

PACKAGES="gcc make pkg-config autoconf automake autopoint gettext
  iptables libgnutls28-dev libsecret-1-dev libinih-dev libunbound-dev libcurl4-gnutls-dev libjson-c-dev
  python3-dnslib python3-openssl
  gnutls-bin python3-aiosmtpd ca-certificates
  dbus-daemon dbus-bin gnome-keyring libsecret-tools python3-dbus
  php-cli git git-email libmailtools-perl mailutils
  clang libclang-rt-14-dev locales systemd dpkg-dev debhelper lintian $*"

# shellcheck disable=SC2086
if dpkg-query -W -f='${Status}\n' $PACKAGES 2>/dev/null | grep -qv '^install ok installed$' ||
   ! dpkg-query -W $PACKAGES >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: please install as root: apt-get install $PACKAGES" >&2
		exit 1
	fi
	echo "deps: installing build and test packages..."
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
fi
