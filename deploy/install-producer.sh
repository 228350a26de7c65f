#!/usr/bin/env bash
# Installs the benchpipe producer on an edge device (Raspberry Pi OS, Debian, Ubuntu, … with systemd):
#   the static binary        → PREFIX/usr/local/bin/producer
#   configuration (kept)     → PREFIX/etc/benchpipe/benchpipe.yaml, producer.env, jobs/
#   systemd units            → PREFIX/etc/systemd/system/ (scheduled jobs, spool flush, the fleet agent)
#   a system user            → benchpipe (owns /var/lib/benchpipe, where the spool lives)
# and enables benchpipe-spool-flush.timer. Running it again upgrades the binary and the units and keeps the
# configuration, so it is also the upgrade path.
#
# Usage: sudo deploy/install-producer.sh [--binary FILE] [--config FILE] [--prefix DIR] [--no-systemctl]
#   --binary FILE    the producer binary for this device's architecture (default: bin/producer, or
#                    bin/producer-linux-ARCH, next to deploy/)
#   --config FILE    benchpipe.yaml to install when none exists yet (default: deploy/systemd/benchpipe.yaml)
#   --prefix DIR     install below DIR instead of / (packaging, tests); implies --no-systemctl and skips
#                    creating the user
#   --no-systemctl   do not create the user, reload systemd or enable the timer
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

prefix=/
binary=""
config="$here/systemd/benchpipe.yaml"
use_systemctl=yes

die() {
	echo "install-producer: $*" >&2
	exit 1
}

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
	case "$1" in
	--binary) binary=${2:?--binary needs a file}; shift 2 ;;
	--config) config=${2:?--config needs a file}; shift 2 ;;
	--prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
	--no-systemctl) use_systemctl=no; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done

if [ "$prefix" != / ]; then
	use_systemctl=no
	mkdir -p "$prefix"
	prefix=$(cd "$prefix" && pwd)
else
	[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0), or use --prefix DIR"
	prefix=""
fi

if [ -z "$binary" ]; then
	case "$(uname -m)" in
	x86_64 | amd64) arch=amd64 ;;
	aarch64 | arm64) arch=arm64 ;;
	armv7l | armv6l) arch=arm ;;
	*) arch=$(uname -m) ;;
	esac
	for candidate in "$repo/bin/producer-linux-$arch" "$repo/bin/producer"; do
		if [ -f "$candidate" ]; then
			binary=$candidate
			break
		fi
	done
	[ -n "$binary" ] || die "no producer binary in $repo/bin: build one (make build, or GOOS=linux GOARCH=$arch go build -o bin/producer ./producer) or pass --binary"
fi
[ -f "$binary" ] || die "binary $binary not found"
[ -f "$config" ] || die "config $config not found"

etc="$prefix/etc/benchpipe"
units="$prefix/etc/systemd/system"

# The user first: the configuration is group-readable by it.
group=root
if [ "$use_systemctl" = yes ]; then
	if ! getent group benchpipe >/dev/null; then
		groupadd --system benchpipe
	fi
	if ! getent passwd benchpipe >/dev/null; then
		useradd --system --gid benchpipe --home-dir /var/lib/benchpipe --no-create-home \
			--shell /usr/sbin/nologin --comment "benchpipe producer" benchpipe
	fi
	group=benchpipe
fi

# Files we own are replaced (install writes a new file, so a running producer keeps its old binary).
install -d -m 0755 "$prefix/usr/local/bin" "$units"
install -m 0755 "$binary" "$prefix/usr/local/bin/producer"
for unit in benchpipe-producer@.service benchpipe-producer@.timer \
	benchpipe-spool-flush.service benchpipe-spool-flush.timer benchpipe-agent.service; do
	install -m 0644 "$here/systemd/$unit" "$units/$unit"
done

# Files the operator owns are created once and never overwritten. Secrets are in producer.env, hence 0640.
install -d -m 0750 "$etc" "$etc/jobs"
if [ "$group" != root ]; then
	chgrp "$group" "$etc" "$etc/jobs"
fi
install_once() { # src dst mode
	if [ -e "$2" ]; then
		echo "kept $2"
		return
	fi
	install -m "$3" "$1" "$2"
	if [ "$group" != root ]; then
		chgrp "$group" "$2"
	fi
	echo "created $2"
}
install_once "$config" "$etc/benchpipe.yaml" 0640
install_once "$here/systemd/producer.env.example" "$etc/producer.env" 0640

if [ "$use_systemctl" = yes ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl enable --now benchpipe-spool-flush.timer
	# Restart timers of existing jobs so that changed schedules in upgraded units take effect.
	systemctl try-restart 'benchpipe-producer@*.timer' || true
	# An agent already running is upgraded: its running job is reported aborted, the new binary starts.
	systemctl try-restart benchpipe-agent.service || true
fi

cat <<EOF
benchpipe producer installed in ${prefix:-/}.
Next:
  1. Set the Kafka brokers and secrets in $etc/producer.env, settings in $etc/benchpipe.yaml.
  2. Add a job: echo 'PRODUCER_ARGS=mqtt …' > $etc/jobs/NAME.env
  3. Schedule it: systemctl enable --now benchpipe-producer@NAME.timer (or run once: systemctl start benchpipe-producer@NAME)
  4. Check: producer --config $etc/benchpipe.yaml spool status; journalctl -u 'benchpipe-*'
Or, instead of 2 and 3, let operators launch jobs on this device (producer launch, the viewer):
  systemctl enable --now benchpipe-agent
EOF
