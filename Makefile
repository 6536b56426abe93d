# otel_aliyun: PGXS build.  The .proto files under proto/ are compiled with
# protoc-c into gen/ at build time; nothing generated is committed.

MODULE_big = otel_aliyun
EXTENSION = otel_aliyun
DATA = sql/otel_aliyun--1.0.sql
PGFILEDESC = "otel_aliyun - OpenTelemetry export to Alibaba Cloud ARMS, SLS and Prometheus"

PROTOS := $(shell find proto -name '*.proto' | sort)
PROTO_C := $(patsubst proto/%.proto,gen/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
SRC_C := $(sort $(wildcard src/*.c))
SRC_OBJS := $(SRC_C:.c=.o)
OBJS = $(SRC_OBJS) $(PROTO_C:.c=.o)

PG_CPPFLAGS = -Isrc -Igen
SHLIB_LINK = -lprotobuf-c -lcurl -ldeflate -lz -llz4 -lsnappy -lcrypto

# Calls between our own files bind inside the library (-Bsymbolic-functions:
# no PLT stub, no GOT load, and no server symbol of the same name can step
# in), and calls out go straight through the GOT (-fno-plt; Debian links with
# -z now, so it is filled at load).  On the hooks' path that is some 40 fewer
# instruction cache misses per traced statement (bench/run.sh --callgrind
# --cache-sim): the path is short and runs cold, so the misses are its cost.
PG_CFLAGS = -fno-plt
SHLIB_LINK += -Wl,-Bsymbolic-functions

# pg_regress needs the library preloaded: it runs its own temporary instance.
REGRESS = $(patsubst sql/%.sql,%,$(filter-out sql/otel_aliyun--%,$(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --temp-instance=tmp_check_regress --temp-config=$(srcdir)/test/regress.conf
TAP_TESTS = 1
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))
PROVE_FLAGS = -I $(srcdir)/test

EXTRA_CLEAN = gen bench/sink tmp_check tmp_check_regress results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

gen/%.pb-c.c gen/%.pb-c.h: proto/%.proto
	@mkdir -p gen
	protoc-c --proto_path=proto --c_out=gen $<

# every source may include generated headers and any of ours
$(SRC_OBJS): $(wildcard src/*.h) | $(PROTO_H)
$(PROTO_C:.c=.o): | $(PROTO_H)
$(PROTO_C:.c=.o): CFLAGS += -Wno-missing-prototypes

.PHONY: test
test:
	bash test/run-all.sh

# the benchmarks' local receiver, not part of the extension
bench/sink: bench/sink.c
	$(CC) -O2 -Wall -o $@ $<
