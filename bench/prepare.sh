# Sourced by the bench/*.sh scripts, from the repository's root: installs
# what is missing, builds and installs the extension (BUILD=0 skips that),
# and builds the local receiver bench/sink.  Sets PG_CONFIG and PGBIN.
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
bash test/install-deps.sh
if [ "${BUILD:-1}" = 1 ]; then
	make -s PG_CONFIG="$PG_CONFIG" -j"$(nproc)"
	if [ "$(id -u)" -ne 0 ] && [ ! -w "$("$PG_CONFIG" --pkglibdir)" ]; then
		sudo make -s PG_CONFIG="$PG_CONFIG" install
	else
		make -s PG_CONFIG="$PG_CONFIG" install
	fi
fi
make -s PG_CONFIG="$PG_CONFIG" bench/sink
PGBIN=$("$PG_CONFIG" --bindir)
