/*-------------------------------------------------------------------------
 *
 * resource.c
 *		The OTLP Resource of this server, built once per process and cached
 *		until otel_resource_invalidate() (called after a configuration
 *		reload).
 *
 * Defaults come first, in a fixed order: service.name, service.version,
 * service.instance.id, host.name, process.pid, deployment.environment.name,
 * cloud.provider, cloud.region, db.system.name.  The entries of
 * otel_aliyun.resource_attributes follow; a key that is already present
 * replaces that entry's value in place (so the user wins and no key is ever
 * sent twice), a new key is appended.  User values are strings.
 *
 * cloud.platform is not set: nothing tells us whether we run on ECS, in a
 * container service or elsewhere, so the user may add it through
 * otel_aliyun.resource_attributes (e.g. cloud.platform=alibaba_cloud_ecs).
 *
 * IDENTIFICATION
 *		src/resource.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/memutils.h"

#include "guc.h"
#include "kvlist.h"
#include "record.h"
#include "resource.h"

typedef struct ResEntry
{
	char	   *key;
	char	   *value;			/* always set: the text form */
	bool		is_int;
	int64		ival;
} ResEntry;

typedef struct ResBuild
{
	ResEntry   *entries;
	int			n;
	int			cap;
} ResBuild;

static MemoryContext res_cxt = NULL;
static bool res_valid = false;
static ResEntry *res_entries = NULL;
static int	res_n = 0;
static char *res_attrs = NULL;
static uint32 res_len = 0;

static ResEntry *
res_find(ResBuild *rb, const char *key)
{
	for (int i = 0; i < rb->n; i++)
	{
		if (strcmp(rb->entries[i].key, key) == 0)
			return &rb->entries[i];
	}
	return NULL;
}

/* Add or replace key (in res_cxt, which is current while building). */
static void
res_set(ResBuild *rb, const char *key, const char *value, bool is_int, int64 ival)
{
	ResEntry   *e;

	/* the record format cannot hold longer keys; such a key is unusable */
	if (strlen(key) > PG_UINT16_MAX)
		return;

	e = res_find(rb, key);
	if (e == NULL)
	{
		if (rb->n == rb->cap)
		{
			rb->cap *= 2;
			rb->entries = repalloc(rb->entries, sizeof(ResEntry) * rb->cap);
		}
		e = &rb->entries[rb->n++];
		e->key = pstrdup(key);
	}
	e->value = pstrdup(value);
	e->is_int = is_int;
	e->ival = ival;
}

static void
res_set_str(ResBuild *rb, const char *key, const char *value)
{
	res_set(rb, key, value, false, 0);
}

static void
res_user_cb(const char *key, const char *value, void *arg)
{
	res_set_str((ResBuild *) arg, key, value);
}

static inline bool
guc_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static void
res_build(void)
{
	MemoryContext old;
	ResBuild	rb;
	char		host[256];
	char		buf[64];
	char	   *instance;
	Size		cap;
	OtelRecBuf	b;

	if (res_cxt == NULL)
		res_cxt = AllocSetContextCreate(TopMemoryContext,
										"otel_aliyun resource",
										ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(res_cxt);
	res_valid = false;
	res_entries = NULL;
	res_n = 0;
	res_attrs = NULL;
	res_len = 0;

	old = MemoryContextSwitchTo(res_cxt);

	rb.cap = 16;
	rb.n = 0;
	rb.entries = palloc(sizeof(ResEntry) * rb.cap);

	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';

	res_set_str(&rb, "service.name",
				guc_set(otel_service_name) ? otel_service_name : "postgresql");
	/* the server version as "15.4", without the packager's decoration */
	if (guc_set(otel_service_version))
		res_set_str(&rb, "service.version", otel_service_version);
	else
	{
		snprintf(buf, sizeof(buf), "%d.%d",
				 PG_VERSION_NUM / 10000, PG_VERSION_NUM % 100);
		res_set_str(&rb, "service.version", buf);
	}
	instance = psprintf("%s:%d", host, PostPortNumber);
	res_set_str(&rb, "service.instance.id", instance);
	res_set_str(&rb, "host.name", host);
	snprintf(buf, sizeof(buf), "%d", (int) PostmasterPid);
	res_set(&rb, "process.pid", buf, true, (int64) PostmasterPid);
	if (guc_set(otel_deployment_environment))
		res_set_str(&rb, "deployment.environment.name", otel_deployment_environment);
	res_set_str(&rb, "cloud.provider", "alibaba_cloud");
	if (guc_set(otel_cloud_region))
		res_set_str(&rb, "cloud.region", otel_cloud_region);
	res_set_str(&rb, "db.system.name", "postgresql");

	/* the check hook validated the list; a failure here just means no extras */
	if (guc_set(otel_resource_attributes))
	{
		const char *err;

		(void) otel_kvlist_parse(otel_resource_attributes, res_user_cb, &rb, &err);
	}

	/* encode as a record.h attribute list */
	cap = 0;
	for (int i = 0; i < rb.n; i++)
		cap += 8 + strlen(rb.entries[i].key) +
			(rb.entries[i].is_int ? sizeof(int64) : strlen(rb.entries[i].value));
	otel_rec_init(&b, palloc(Max(cap, 1)), cap);
	for (int i = 0; i < rb.n; i++)
	{
		if (rb.entries[i].is_int)
			otel_attr_int(&b, rb.entries[i].key, rb.entries[i].ival);
		else
			otel_attr_str(&b, rb.entries[i].key, rb.entries[i].value, -1);
	}
	if (b.overflow)
		elog(ERROR, "resource attribute list overflowed its computed size");

	MemoryContextSwitchTo(old);

	res_entries = rb.entries;
	res_n = rb.n;
	res_attrs = b.data;
	res_len = (uint32) b.len;
	res_valid = true;
}

const char *
otel_resource_attrs(uint32 *len)
{
	if (!res_valid)
		res_build();
	*len = res_len;
	return res_attrs;
}

void
otel_resource_invalidate(void)
{
	res_valid = false;
	res_entries = NULL;
	res_n = 0;
	res_attrs = NULL;
	res_len = 0;
	if (res_cxt != NULL)
		MemoryContextReset(res_cxt);
}

const char *
otel_resource_get(const char *key)
{
	if (!res_valid)
		res_build();
	for (int i = 0; i < res_n; i++)
	{
		if (strcmp(res_entries[i].key, key) == 0)
			return res_entries[i].value;
	}
	return NULL;
}
