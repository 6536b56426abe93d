#!/usr/bin/env bash
# Installs every Debian package that building otel_aliyun, its demo, its tests
# and its benchmark need.  Idempotent: when everything is present it only runs
# dpkg-query and exits.
set -euo pipefail

PKGS=(
	# build
	build-essential pkg-config
	postgresql-15 postgresql-server-dev-15 postgresql-contrib
	libprotobuf-c-dev protobuf-c-compiler
	libcurl4-openssl-dev libssl-dev liblz4-dev libsnappy-dev zlib1g-dev libdeflate-dev libkrb5-dev
	# tests: TAP harness, receivers with decoders that are not ours
	libipc-run-perl libtest-simple-perl libjson-pp-perl
	python3 python3-protobuf protobuf-compiler python3-lz4 python3-snappy
	python3-grpcio prometheus curl
)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PKGS[@]} packages present"
	exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a "main" cluster on install; tests use their own clusters.
echo "install-deps: done"
