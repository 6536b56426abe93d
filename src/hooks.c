/*-------------------------------------------------------------------------
 *
 * hooks.c
 *		Every statement becomes a span: planner, executor and ProcessUtility
 *		hooks open and close statement spans, emit_log_hook closes them on
 *		errors (and creates one for statements that fail before any other
 *		hook sees them, e.g. syntax errors or failures in Bind).
 *
 * A top-level statement gives one SERVER span, with the planning and the
 * execution as INTERNAL children.  With otel_aliyun.track = all, statements
 * run by functions (SPI) are children of the statement that called them.
 *
 * Statements are kept in a small per-backend array.  Executor statements
 * are found again by their QueryDesc, so portals fetched in pieces and
 * interleaved portals of the extended protocol each keep their own span
 * until ExecutorEnd.  A statement planned at some nesting level waits as
 * "pending" until the ExecutorStart of the same query id adopts it.
 *
 * The sampling decision is made once per statement, when it opens; an
 * unsampled statement keeps only its slot (so that the planner's decision
 * carries to the executor), switches no instrumentation on and copies
 * nothing.  Per-query-id facts (normalised text, summary, operation,
 * collection) are computed once and cached in backend memory, and so are
 * the span attributes of the session and of each query id, already encoded
 * as protobuf by encode_otlp.h's pure capture-side writers (the only things
 * used from it), so that the worker copies them instead of encoding them.
 *
 * In a UTF8 database a statement's finished spans (planning, execution and
 * its own, in one reservation; the planning span waits in the slot until
 * then) are written in OTLP form straight into reserved slots of the traces
 * ring (buffer.h, record.h OTEL_REC_SPAN_OTLP).  Otherwise, or when a span
 * cannot take that form, they are built as records in static scratch areas
 * and copied in.  Nothing on that path allocates, takes a lock across the
 * writing or makes a system call.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "optimizer/planner.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "postmaster/postmaster.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/queryjumble.h"
#include "utils/timestamp.h"

#include "buffer.h"
#include "encode_otlp.h"
#include "guc.h"
#include "hooks.h"
#include "metrics_builtin.h"
#include "query_id.h"
#include "query_text.h"
#include "record.h"
#include "stats.h"
#include "trace_context.h"

#define MAX_STMTS			64	/* open statements per backend */
#define MAX_QUERY_CACHE		2000	/* cached query ids before a reset */
#define SCRATCH_SIZE		(2 * 65536 + 16384)

/* A statement being traced (or deliberately not traced). */
typedef struct OtelStmt
{
	bool		in_use;
	bool		sampled;
	bool		has_ctx;		/* trace id known (sampled or not) */
	bool		is_utility;
	bool		has_plan;		/* it was planned (plan_ms is set) */
	bool		plan_pending;	/* planning child kept for stmt_close */
	bool		has_exec;		/* an execution child is running */
	bool		failed;			/* an error passed through its hooks */
	uint64		rows;			/* es_processed summed over ExecutorRun calls */
	int			level;			/* nesting level it was opened at */
	QueryDesc  *qd;				/* NULL until ExecutorStart adopts it */
	uint64		query_id;
	uint8		trace_id[16];
	uint8		span_id[8];
	uint8		parent_id[8];
	uint8		flags;
	uint8		exec_span_id[8];
	uint8		plan_span_id[8];
	int64		plan_start_ns;
	int64		plan_end_ns;
	int			tracestate_len;
	int64		start_ns;
	int64		metric_start_ns;	/* top level, query metric on: start */
	int64		exec_start_ns;
	double		plan_ms;
	const char *operation;		/* static or cache memory */
	struct QueryInfo *qi;		/* cached texts, may be NULL */
	/* sampled statements only: cleared by stmt_open then */
	BufferUsage bufusage;		/* accumulated: planning + utility */
	WalUsage	walusage;
	BufferUsage buf_start;		/* snapshot for utility statements */
	WalUsage	wal_start;
	/* last: not cleared when a slot is reused (tracestate_len says) */
	char		tracestate[OTEL_TRACESTATE_MAX + 1];
} OtelStmt;

/* Facts computed once per query id. */
typedef struct QueryInfo
{
	uint64		query_id;		/* hash key */
	char	   *text;			/* normalised, comment removed, cut */
	int			text_len;
	char	   *summary;
	char	   *operation;
	char	   *collection;		/* NULL: not looked up yet; "": none */
	/* attributes of this query id as protobuf, a SPAN_PB entry (query_attrs) */
	char	   *attrs;
	uint32		attrs_len;
	int			attrs_semconv;
	const char *attrs_op;
	bool		transient;		/* raw text: rebuilt per statement, not cached */
} QueryInfo;

static planner_hook_type prev_planner_hook = NULL;
static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;

static int	nesting_level = 0;
static OtelStmt stmts[MAX_STMTS];
static int	stmts_hi = 0;		/* 1 + highest slot in use */
static int	running[MAX_STMTS];	/* level -> index of the running stmt or -1 */
static int	running_top = 0;	/* running[l] is -1 for every l >= this */
static bool in_emit_log = false;

static HTAB *query_cache = NULL;
/* the entry found last: a statement looks its query id up more than once */
static QueryInfo *query_cache_last = NULL;
static MemoryContext query_cache_cxt = NULL;

static char scratch[SCRATCH_SIZE];
/* a statement's planning and execution spans, put with it */
static char child_scratch[2][1024 + OTEL_TRACESTATE_MAX];

/* per-backend facts, computed on first use */
static bool conn_info_done = false;
static char server_addr[NI_MAXHOST];
static char client_addr[NI_MAXHOST];
static int	client_port = 0;
static bool is_unix_socket = false;
static char *db_name = NULL;
static char *ns_search_path = NULL;	/* search_path the schema was found for */
static Oid	ns_user = InvalidOid;
static char *ns_schema = NULL;
static Oid	user_cached = InvalidOid;
static char *user_name = NULL;

/*
 * The attributes that stay the same for the whole session (database,
 * schema, addresses, role, application_name, pid), encoded once as protobuf
 * (sess_pb, a SPAN_PB entry of record.h) and copied into every statement
 * span in one piece; rebuilt when one of them changes.  sess_attrs is the
 * record-format list they are encoded from.
 */
static char sess_attrs[2048];
static char sess_pb[4096];
static Size sess_pb_len = 0;
static bool sess_attrs_valid = false;
static int	sess_attrs_semconv = 0;
static char sess_appname[NAMEDATALEN];

/* otel_aliyun.traceparent parse cache, keyed by the settings' text */
static char guc_ctx_src[OTEL_TRACEPARENT_LEN + 2];
static char guc_ts_src[OTEL_TRACESTATE_MAX + 2];
static OtelCtxResult guc_ctx_result = OTEL_CTX_NONE;
static OtelTraceContext guc_ctx;

/* ---------------------------------------------------------------- */

static inline bool
tracing_active(void)
{
	return otel_enabled && otel_track != OTEL_TRACK_NONE &&
		MyBackendType == B_BACKEND && !IsParallelWorker();
}

static inline bool
level_tracked(int level)
{
	return level == 0 || (otel_track == OTEL_TRACK_ALL && level < MAX_STMTS);
}

static int64
timestamptz_to_unix_ns(TimestampTz ts)
{
	return (ts + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC) * 1000;
}

/* ---------------- per-query-id cache ---------------- */

static void
query_cache_init(void)
{
	HASHCTL		ctl;

	if (query_cache_cxt == NULL)
		query_cache_cxt = AllocSetContextCreate(TopMemoryContext,
												"otel_aliyun query texts",
												ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(QueryInfo);
	ctl.hcxt = query_cache_cxt;
	query_cache = hash_create("otel_aliyun query texts", 256, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static QueryInfo *
query_cache_find(uint64 query_id)
{
	QueryInfo  *qi;

	if (query_cache == NULL || query_id == 0)
		return NULL;
	if (query_cache_last && query_cache_last->query_id == query_id)
		return query_cache_last;
	qi = (QueryInfo *) hash_search(query_cache, &query_id, HASH_FIND, NULL);
	if (qi)
		query_cache_last = qi;
	return qi;
}

/*
 * Cut the sqlcommenter comment out of a (normalised) text and bound its
 * length; result in query_cache_cxt.
 */
static char *
clean_text(const char *text, int len, int *out_len)
{
	OtelTraceContext ctx;
	int			cstart = -1,
				clen = 0;
	StringInfoData buf;

	(void) otel_ctx_from_query(text, len, &ctx, &cstart, &clen);
	initStringInfo(&buf);
	if (cstart >= 0 && clen > 0)
	{
		appendBinaryStringInfo(&buf, text, cstart);
		appendBinaryStringInfo(&buf, text + cstart + clen, len - cstart - clen);
	}
	else
		appendBinaryStringInfo(&buf, text, len);

	/* trim what the comment left behind */
	while (buf.len > 0 && isspace((unsigned char) buf.data[buf.len - 1]))
		buf.data[--buf.len] = '\0';
	{
		int			lead = 0;

		while (lead < buf.len && isspace((unsigned char) buf.data[lead]))
			lead++;
		if (lead > 0)
		{
			memmove(buf.data, buf.data + lead, buf.len - lead + 1);
			buf.len -= lead;
		}
	}
	if (buf.len > otel_max_query_text_length)
	{
		int			cut = pg_mbcliplen(buf.data, buf.len, otel_max_query_text_length);

		buf.data[cut] = '\0';
		buf.len = cut;
	}
	*out_len = buf.len;
	return buf.data;
}

/*
 * Make the cache entry for query_id from a statement text; with jstate the
 * constants are replaced as pg_stat_statements does, without it (utility
 * statements, plans whose analysis we did not see) the lexer does it.
 */
static QueryInfo *
query_cache_add(uint64 query_id, const char *source, int location, int len,
				JumbleState *jstate)
{
	QueryInfo  *qi;
	bool		found;
	MemoryContext old;
	const char *stmt;
	int			stmt_len;
	char	   *norm;
	int			norm_len;

	if (query_cache == NULL)
		query_cache_init();
	if (hash_get_num_entries(query_cache) >= MAX_QUERY_CACHE)
	{
		hash_destroy(query_cache);
		query_cache_last = NULL;
		MemoryContextReset(query_cache_cxt);
		query_cache_init();
	}

	old = MemoryContextSwitchTo(query_cache_cxt);
	stmt = otel_query_statement(source, location, len, &stmt_len);
	if (jstate && jstate->clocations_count > 0)
		norm = otel_query_normalise(stmt, stmt_len, (int) (stmt - source), jstate, &norm_len);
	else if (jstate)
	{
		norm = (char *) stmt;
		norm_len = stmt_len;
	}
	else
		norm = otel_query_sanitise(stmt, stmt_len, '$', &norm_len);

	qi = (QueryInfo *) hash_search(query_cache, &query_id, HASH_ENTER, &found);
	qi->text = clean_text(norm, norm_len, &qi->text_len);
	qi->summary = otel_query_summary(qi->text, qi->text_len);
	qi->operation = otel_query_operation(qi->text, qi->text_len);
	qi->collection = NULL;
	qi->attrs = NULL;
	qi->attrs_len = 0;
	qi->attrs_op = NULL;
	qi->transient = false;
	MemoryContextSwitchTo(old);
	return qi;
}

/* ---------------- connection facts ---------------- */

static void
conn_info_init(void)
{
	Port	   *port = MyProcPort;

	conn_info_done = true;
	sess_attrs_valid = false;
	if (port == NULL)
		return;
	if (port->laddr.addr.ss_family == AF_UNIX)
	{
		is_unix_socket = true;
		return;
	}
	if (getnameinfo((struct sockaddr *) &port->laddr.addr, port->laddr.salen,
					server_addr, sizeof(server_addr), NULL, 0, NI_NUMERICHOST) != 0)
		server_addr[0] = '\0';
	if (port->remote_host)
		strlcpy(client_addr, port->remote_host, sizeof(client_addr));
	if (port->remote_port)
		client_port = atoi(port->remote_port);
}

/*
 * Database, schema and role names, looked up again when they may have
 * changed; catalog access, so inside a transaction.  The check is inline,
 * the look-up out of line: it runs once per session, search_path or role.
 */
static pg_noinline pg_attribute_cold void
names_lookup(void)
{
	MemoryContext old;

	if (!IsTransactionState())
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	if (db_name == NULL)
	{
		db_name = get_database_name(MyDatabaseId);
		sess_attrs_valid = false;
	}
	if (ns_search_path == NULL || ns_user != GetUserId() ||
		strcmp(ns_search_path, namespace_search_path) != 0)
	{
		List	   *path = fetch_search_path(false);
		char	   *schema = path != NIL ? get_namespace_name(linitial_oid(path)) : NULL;

		if (ns_search_path)
			pfree(ns_search_path);
		if (ns_schema)
			pfree(ns_schema);
		ns_search_path = pstrdup(namespace_search_path);
		ns_schema = schema;
		ns_user = GetUserId();
		list_free(path);
		sess_attrs_valid = false;
	}
	if (user_cached != GetUserId())
	{
		char	   *u = GetUserNameFromId(GetUserId(), true);

		if (user_name)
			pfree(user_name);
		user_name = u;
		user_cached = GetUserId();
		sess_attrs_valid = false;
	}
	MemoryContextSwitchTo(old);
}

static inline void
names_refresh(void)
{
	Oid			user = GetUserId();

	if (unlikely(db_name == NULL || ns_search_path == NULL ||
				 ns_user != user || user_cached != user ||
				 strcmp(ns_search_path, namespace_search_path) != 0))
		names_lookup();
}

/* ---------------- trace context and sampling ---------------- */

static bool
context_from_guc(OtelTraceContext *ctx)
{
	if (otel_traceparent == NULL || otel_traceparent[0] == '\0')
		return false;
	if (strncmp(guc_ctx_src, otel_traceparent, sizeof(guc_ctx_src)) != 0 ||
		strncmp(guc_ts_src, otel_tracestate ? otel_tracestate : "", sizeof(guc_ts_src)) != 0)
	{
		/* a value too long to keep is invalid anyway and is parsed each time */
		strlcpy(guc_ctx_src, otel_traceparent, sizeof(guc_ctx_src));
		strlcpy(guc_ts_src, otel_tracestate ? otel_tracestate : "", sizeof(guc_ts_src));
		memset(&guc_ctx, 0, sizeof(guc_ctx));
		guc_ctx_result = otel_traceparent_parse(otel_traceparent, strlen(otel_traceparent),
												&guc_ctx) ? OTEL_CTX_VALID : OTEL_CTX_INVALID;
		if (guc_ctx_result == OTEL_CTX_VALID && otel_tracestate && otel_tracestate[0])
			(void) otel_tracestate_set(&guc_ctx, otel_tracestate, strlen(otel_tracestate));
	}
	if (guc_ctx_result == OTEL_CTX_INVALID)
	{
		otel_stats_add_local(OTEL_SIGNAL_TRACES, OTEL_STAT_INVALID_CONTEXT, 1);
		return false;
	}
	*ctx = guc_ctx;
	return true;
}

/* index of the stmt running at the level above, or -1 */
static int
enclosing_stmt(int level)
{
	for (int l = Min(level, MAX_STMTS) - 1; l >= 0; l--)
		if (running[l] >= 0)
			return running[l];
	return -1;
}

/* The trace context of a statement with no enclosing statement. */
typedef struct RootDecision
{
	bool		has_ctx;
	bool		sampled;
	bool		own_ctx;		/* from the text or otel_aliyun.traceparent */
	uint8		trace_id[16];
	uint8		parent_id[8];
	uint8		flags;
	int			tracestate_len;
	char		tracestate[OTEL_TRACESTATE_MAX + 1];
} RootDecision;

/*
 * The decision for the top-level statement just analysed, made in
 * post_parse_analyze so that only sampled statements pay for their query
 * id (JumbleQuery); the planner (key: the Query) or ProcessUtility (key: its
 * utility statement) takes it over.  Discarded at transaction abort and by
 * any top-level statement that does not match it.
 */
static RootDecision pre_decision;
static const void *pre_key = NULL;
static bool pre_valid = false;

#define PRE_ANY		((const void *) 1)	/* key that takes any pending decision */

/*
 * A plain top-level statement decided unsampled, with no trace context of
 * its own, gets no slot when nothing else would read one (track = top, no
 * query metric): the cost of an unsampled statement is then its hooks'
 * calls.  skip_plan is the plan made for it until ExecutorStart takes it,
 * skip_qd its QueryDesc until ExecutorEnd; while skip_active, an error in it
 * makes no span (it was decided) and current_traceparent() gives its
 * unsampled context, with a span id made on demand.  Reset by the next
 * top-level statement and by any abort.
 */
static bool skip_active = false;
static PlannedStmt *skip_plan = NULL;
static QueryDesc *skip_qd = NULL;
static bool skip_span_made = false;
static uint8 skip_trace_id[16];
static uint8 skip_span_id[8];

static inline void
skip_reset(void)
{
	skip_active = false;
	skip_plan = NULL;
	skip_qd = NULL;
	skip_span_made = false;
}

/* May the top-level statement planned from parse go without a slot? */
static inline bool
skip_possible(const Query *parse)
{
	return pre_valid && pre_key == (const void *) parse &&
		!pre_decision.sampled && !pre_decision.own_ctx &&
		otel_track == OTEL_TRACK_TOP && !otel_metrics_query_enabled();
}

/*
 * A traceparent in the text, else the session's otel_aliyun.traceparent,
 * else a new root by TraceIdRatioBased.
 */
static void
decide_root(const char *text, RootDecision *d)
{
	OtelTraceContext ctx;
	OtelCtxResult r = OTEL_CTX_NONE;

	d->has_ctx = false;
	d->sampled = false;
	d->own_ctx = false;
	d->flags = 0;
	d->tracestate_len = 0;
	memset(d->trace_id, 0, sizeof(d->trace_id));
	memset(d->parent_id, 0, sizeof(d->parent_id));

	if (text)
		r = otel_ctx_from_query(text, strlen(text), &ctx, NULL, NULL);
	if (r == OTEL_CTX_INVALID)
		otel_stats_add_local(OTEL_SIGNAL_TRACES, OTEL_STAT_INVALID_CONTEXT, 1);
	if (r != OTEL_CTX_VALID && context_from_guc(&ctx))
		r = OTEL_CTX_VALID;

	if (r == OTEL_CTX_VALID)
	{
		d->has_ctx = true;
		d->own_ctx = true;
		memcpy(d->trace_id, ctx.trace_id, 16);
		memcpy(d->parent_id, ctx.span_id, 8);
		d->flags = ctx.flags;
		d->sampled = (ctx.flags & 0x01) != 0;
		if (ctx.tracestate_len > 0)
		{
			memcpy(d->tracestate, ctx.tracestate, ctx.tracestate_len);
			d->tracestate_len = ctx.tracestate_len;
		}
	}
	else if (otel_sample_rate > 0)
	{
		otel_random_trace_id(d->trace_id);
		d->has_ctx = true;
		d->sampled = otel_sample_trace_id(d->trace_id, otel_sample_rate);
		d->flags = d->sampled ? 0x01 : 0x00;
	}
}

static inline void
stmt_set_context(OtelStmt *st, bool has_ctx, bool sampled, const uint8 *trace_id,
				 const uint8 *parent_id, uint8 flags, const char *tracestate,
				 int tracestate_len)
{
	st->has_ctx = has_ctx;
	st->sampled = sampled;
	memcpy(st->trace_id, trace_id, 16);
	memcpy(st->parent_id, parent_id, 8);
	st->flags = flags;
	st->tracestate_len = tracestate_len;
	if (tracestate_len > 0)
		memcpy(st->tracestate, tracestate, tracestate_len);
}

/*
 * Decide the trace context of a new statement: the enclosing statement's
 * for nested ones, else the pending top-level decision made for key, else
 * decide_root().
 */
static void
stmt_decide(OtelStmt *st, const char *text, const void *key)
{
	int			parent = st->level > 0 ? enclosing_stmt(st->level) : -1;

	if (parent >= 0)
	{
		OtelStmt   *p = &stmts[parent];

		stmt_set_context(st, p->has_ctx, p->sampled, p->trace_id, p->span_id,
						 p->flags, p->tracestate, p->tracestate_len);
	}
	else
	{
		RootDecision fresh;
		const RootDecision *d;

		if (pre_valid && key != NULL && (key == pre_key || key == PRE_ANY))
			d = &pre_decision;
		else
		{
			decide_root(text, &fresh);
			d = &fresh;
		}
		if (st->level == 0)
			pre_valid = false;	/* taken, or not this statement's */

		stmt_set_context(st, d->has_ctx, d->sampled, d->trace_id, d->parent_id,
						 d->flags, d->tracestate, d->tracestate_len);
	}

	if (st->has_ctx)
		otel_random_span_id(st->span_id);
	if (!st->sampled && st->level == 0)
		otel_stats_add_local(OTEL_SIGNAL_TRACES, OTEL_STAT_SAMPLED_OUT, 1);
}

/* ---------------- statement slots ---------------- */

static OtelStmt *
stmt_open(int level, const char *text, const void *key)
{
	for (int i = 0; i < MAX_STMTS; i++)
	{
		OtelStmt   *st = &stmts[i];

		if (st->in_use)
			continue;
		/* what only a sampled statement uses is cleared below */
		memset(st, 0, offsetof(OtelStmt, bufusage));
		st->in_use = true;
		if (i >= stmts_hi)
			stmts_hi = i + 1;
		st->level = level;
		stmt_decide(st, text, key);
		if (st->sampled)
		{
			memset(&st->bufusage, 0, sizeof(st->bufusage));
			memset(&st->walusage, 0, sizeof(st->walusage));
			st->start_ns = otel_now_ns();
			names_refresh();
			if (!conn_info_done)
				conn_info_init();
		}
		/* the query duration metric counts every top-level statement */
		if (level == 0 && otel_metrics_query_enabled())
			st->metric_start_ns = st->sampled ? st->start_ns : otel_now_ns();
		return st;
	}
	return NULL;
}

static OtelStmt *
stmt_by_qd(QueryDesc *qd)
{
	for (int i = 0; i < stmts_hi; i++)
		if (stmts[i].in_use && stmts[i].qd == qd)
			return &stmts[i];
	return NULL;
}

static OtelStmt *
stmt_pending(int level)
{
	for (int i = 0; i < stmts_hi; i++)
		if (stmts[i].in_use && stmts[i].level == level && stmts[i].qd == NULL &&
			!stmts[i].is_utility)
			return &stmts[i];
	return NULL;
}

/*
 * Mark st as running at level (a hook is about to call down), returning what
 * to give running_pop() once the call returns or fails.  A portal can run at
 * any depth (a FETCH deep inside functions): levels past the array are not
 * recorded.
 */
static inline int
running_push(int level, OtelStmt *st)
{
	int			saved;

	if (level < 0 || level >= MAX_STMTS)
		return -1;
	saved = running[level];
	running[level] = st - stmts;
	if (level >= running_top)
		running_top = level + 1;
	return saved;
}

static inline void
running_pop(int level, int saved)
{
	if (level >= 0 && level < MAX_STMTS)
		running[level] = saved;
}

/*
 * Record a top-level statement's duration in the built-in query metric
 * (metrics_builtin.h), once, whether it was sampled or not.  end_ns is the
 * statement's end if the caller has read the clock already, else 0.
 */
static void
stmt_metric(OtelStmt *st, const ErrorData *edata, bool aborted, int64 end_ns)
{
	const char *op;

	if (st->metric_start_ns == 0)
		return;
	op = st->operation;
	if ((op == NULL || op[0] == '\0') && st->qi)
		op = st->qi->operation;
	otel_metrics_query_done(op, edata ? edata->sqlerrcode : (aborted ? -1 : 0),
							st->metric_start_ns, end_ns != 0 ? end_ns : otel_now_ns());
	st->metric_start_ns = 0;
}

static void
stmt_free(OtelStmt *st)
{
	int			idx = st - stmts;

	/* a statement ending without stmt_close() ended well */
	stmt_metric(st, NULL, false, 0);

	for (int l = 0; l < running_top; l++)
		if (running[l] == idx)
			running[l] = -1;
	st->in_use = false;
	while (stmts_hi > 0 && !stmts[stmts_hi - 1].in_use)
		stmts_hi--;
}

/* ---------------- span building ---------------- */

/*
 * Add what this backend's buffer and WAL counters did since the snapshot to
 * the statement (like an Instrumentation node, without its clock: the spans
 * have their own timings).  Only the counters the spans report: the I/O
 * timings of BufferUsageAccumDiff() stay zero.  Not inline: the callers'
 * snapshots are taken only for sampled statements, which the compiler cannot
 * follow through their PG_TRY blocks.
 */
static pg_noinline void
usage_since(OtelStmt *st, const BufferUsage *bu0, const WalUsage *wu0)
{
	BufferUsage *d = &st->bufusage;
	const BufferUsage *b = &pgBufferUsage;

#define USAGE_ADD(f) (d->f += b->f - bu0->f)
	USAGE_ADD(shared_blks_hit);
	USAGE_ADD(shared_blks_read);
	USAGE_ADD(shared_blks_dirtied);
	USAGE_ADD(shared_blks_written);
	USAGE_ADD(local_blks_hit);
	USAGE_ADD(local_blks_read);
	USAGE_ADD(local_blks_dirtied);
	USAGE_ADD(local_blks_written);
	USAGE_ADD(temp_blks_read);
	USAGE_ADD(temp_blks_written);
#undef USAGE_ADD
	st->walusage.wal_records += pgWalUsage.wal_records - wu0->wal_records;
	st->walusage.wal_fpi += pgWalUsage.wal_fpi - wu0->wal_fpi;
	st->walusage.wal_bytes += pgWalUsage.wal_bytes - wu0->wal_bytes;
}

static inline bool
want_stable(void)
{
	return (otel_semconv & OTEL_SEMCONV_STABLE) != 0;
}

static inline bool
want_old(void)
{
	return (otel_semconv & OTEL_SEMCONV_OLD) != 0;
}

/*
 * The statement's own measurements (nesting level, rows, error, timings,
 * buffer and WAL usage), written as protobuf Span.attributes fields into pb,
 * which has room for STMT_PB_MAX bytes; returns the end.  Pre-encoded like
 * the session's and the query's attributes, so the worker only copies them.
 */
#define STMT_PB_FIELDS	19		/* nesting, rows, 2 error, 2 times, 13 counters */
#define STMT_PB_MAX		(STMT_PB_FIELDS * OTEL_PB_SPAN_KV_MAX)

#define PB_INT(p, key, v) \
	((p) = otel_pb_put_span_kv_int((p), "" key, sizeof(key) - 1, (v)))
#define PB_DOUBLE(p, key, v) \
	((p) = otel_pb_put_span_kv_double((p), "" key, sizeof(key) - 1, (v)))
#define PB_ASCII(p, key, v, n) \
	((p) = otel_pb_put_span_kv_ascii((p), "" key, sizeof(key) - 1, (v), (n)))

static char *
stmt_measures_pb(char *p, const OtelStmt *st, int64 rows, bool rows_returned,
				 const char *sqlstate, bool aborted, int64 end_ns)
{
	const BufferUsage *bu = &st->bufusage;
	const WalUsage *wu = &st->walusage;

	if (st->level > 0)
		PB_INT(p, "postgresql.nesting_level", st->level);
	if (rows >= 0)
	{
		/* rows returned to the client, or rows affected (DML, COPY, ...) */
		if (rows_returned)
			PB_INT(p, "db.response.returned_rows", rows);
		else
			PB_INT(p, "postgresql.rows", rows);
	}
	if (sqlstate[0])
	{
		PB_ASCII(p, "error.type", sqlstate, 5);
		PB_ASCII(p, "db.response.status_code", sqlstate, 5);
	}
	else if (aborted)
		PB_ASCII(p, "error.type", "aborted", 7);
	if (st->has_plan)
		PB_DOUBLE(p, "postgresql.planning_time_ms", st->plan_ms);
	if (st->has_exec)
		PB_DOUBLE(p, "postgresql.execution_time_ms",
				  (end_ns - st->exec_start_ns) / 1000000.0);

	/* counters are sent when not zero: a missing one means 0 */
#define NZ(key, v) do { if ((v) != 0) PB_INT(p, key, (v)); } while (0)
	NZ("postgresql.shared_blks_hit", bu->shared_blks_hit);
	NZ("postgresql.shared_blks_read", bu->shared_blks_read);
	NZ("postgresql.shared_blks_dirtied", bu->shared_blks_dirtied);
	NZ("postgresql.shared_blks_written", bu->shared_blks_written);
	NZ("postgresql.local_blks_hit", bu->local_blks_hit);
	NZ("postgresql.local_blks_read", bu->local_blks_read);
	NZ("postgresql.local_blks_dirtied", bu->local_blks_dirtied);
	NZ("postgresql.local_blks_written", bu->local_blks_written);
	NZ("postgresql.temp_blks_read", bu->temp_blks_read);
	NZ("postgresql.temp_blks_written", bu->temp_blks_written);
	NZ("postgresql.wal_records", wu->wal_records);
	NZ("postgresql.wal_fpi", wu->wal_fpi);
	NZ("postgresql.wal_bytes", (int64) wu->wal_bytes);
#undef NZ
	return p;
}

/* attributes of the session: see sess_attrs */
static void
session_attrs_write(OtelRecBuf *b)
{
	bool		stable = want_stable(),
				old = want_old();

	if (stable)
		otel_attr_str(b, "db.system.name", "postgresql", 10);
	if (old)
		otel_attr_str(b, "db.system", "postgresql", 10);
	if (db_name)
	{
		if (stable)
		{
			char		ns[2 * NAMEDATALEN + 2];

			if (ns_schema)
				snprintf(ns, sizeof(ns), "%s|%s", db_name, ns_schema);
			else
				strlcpy(ns, db_name, sizeof(ns));
			otel_attr_str(b, "db.namespace", ns, -1);
		}
		if (old)
			otel_attr_str(b, "db.name", db_name, -1);
	}
	if (is_unix_socket)
		otel_attr_str(b, "network.transport", "unix", 4);
	else
	{
		if (server_addr[0])
			otel_attr_str(b, "server.address", server_addr, -1);
		otel_attr_int(b, "server.port", PostPortNumber);
		if (client_addr[0])
			otel_attr_str(b, "client.address", client_addr, -1);
		if (client_port)
			otel_attr_int(b, "client.port", client_port);
	}
	if (user_name)
	{
		if (stable)
			otel_attr_str(b, "user.name", user_name, -1);
		if (old)
			otel_attr_str(b, "db.user", user_name, -1);
	}
	if (application_name && application_name[0])
		otel_attr_str(b, "postgresql.application_name", application_name, -1);
	otel_attr_int(b, "postgresql.backend_pid", MyProcPid);
}

/*
 * The session's attributes as protobuf (sess_pb), rebuilt when one of them
 * changed; false when they are too long to keep (very long names): they are
 * then written each time (session_attrs_write).
 */
static bool
session_pb(OtelPbPart *part)
{
	const char *app = application_name ? application_name : "";

	if (!sess_attrs_valid || sess_attrs_semconv != otel_semconv ||
		strncmp(sess_appname, app, sizeof(sess_appname)) != 0)
	{
		OtelRecBuf	tmp;

		otel_rec_init(&tmp, sess_attrs, sizeof(sess_attrs));
		session_attrs_write(&tmp);
		if (tmp.overflow ||
			otel_pb_span_attrs_size(tmp.data, tmp.len) > sizeof(sess_pb))
		{
			sess_attrs_valid = false;
			return false;
		}
		sess_pb_len = otel_pb_put_span_attrs(sess_pb, tmp.data, tmp.len) - sess_pb;
		sess_attrs_semconv = otel_semconv;
		strlcpy(sess_appname, app, sizeof(sess_appname));
		sess_attrs_valid = true;
	}
	part->data = sess_pb;
	part->len = sess_pb_len;
	return true;
}

static void
session_attrs(OtelRecBuf *b)
{
	OtelPbPart	part;

	if (session_pb(&part))
		otel_attr_span_pb(b, part.data, part.len);
	else
		session_attrs_write(b);
}

/* attributes of the query id: operation, table, text, summary, query id */
static void
query_attrs_write(OtelRecBuf *b, QueryInfo *qi, const char *op, uint64 query_id)
{
	bool		stable = want_stable(),
				old = want_old();

	if (op && op[0])
	{
		if (stable)
			otel_attr_str(b, "db.operation.name", op, -1);
		if (old)
			otel_attr_str(b, "db.operation", op, -1);
	}
	if (qi && qi->collection && qi->collection[0])
	{
		if (stable)
			otel_attr_str(b, "db.collection.name", qi->collection, -1);
		if (old)
			otel_attr_str(b, "db.sql.table", qi->collection, -1);
	}
	if (qi)
	{
		if (stable)
			otel_attr_str(b, "db.query.text", qi->text, qi->text_len);
		if (old)
			otel_attr_str(b, "db.statement", qi->text, qi->text_len);
		if (stable && qi->summary && qi->summary[0])
			otel_attr_str(b, "db.query.summary", qi->summary, -1);
	}
	if (query_id != 0)
		otel_attr_int(b, "postgresql.query_id", (int64) query_id);
}

/*
 * The query-id attributes are encoded once and kept with the cached query
 * facts, as protobuf: false when this statement's cannot be (no cached
 * facts, raw text, no query id) or not now (may_alloc is false on error
 * paths, which must not allocate): query_attrs_write then.  The encoding,
 * once per query id, is kept out of line: the per-statement path stays short.
 */
static pg_noinline pg_attribute_cold bool
query_pb_build(QueryInfo *qi, const char *op, uint64 query_id)
{
	OtelRecBuf	tmp;
	Size		pb_len;
	char	   *pb;

	/* the span record is written in scratch later */
	otel_rec_init(&tmp, scratch, sizeof(scratch));
	query_attrs_write(&tmp, qi, op, query_id);
	if (tmp.overflow)
		return false;
	pb_len = otel_pb_span_attrs_size(tmp.data, tmp.len);
	pb = MemoryContextAlloc(query_cache_cxt, Max(pb_len, 1));
	if (otel_pb_put_span_attrs(pb, tmp.data, tmp.len) - pb != pb_len)
		elog(ERROR, "query attributes encoded to an unexpected size");
	if (qi->attrs)
		pfree(qi->attrs);
	qi->attrs = pb;
	qi->attrs_len = (uint32) pb_len;
	qi->attrs_semconv = otel_semconv;
	qi->attrs_op = op;
	return true;
}

static inline bool
query_pb(OtelStmt *st, const char *op, bool may_alloc, OtelPbPart *part)
{
	QueryInfo  *qi = st->qi;

	if (qi == NULL || qi->transient || qi->query_id != st->query_id ||
		st->query_id == 0 || qi->collection == NULL || query_cache_cxt == NULL)
		return false;
	if (unlikely(qi->attrs == NULL || qi->attrs_semconv != otel_semconv ||
				 qi->attrs_op != op))
	{
		if (!may_alloc || !query_pb_build(qi, op, st->query_id))
			return false;
	}
	part->data = qi->attrs;
	part->len = qi->attrs_len;
	return true;
}

/*
 * Add a built record of len bytes to recs; 0 means it did not fit: counted
 * as truncated and left out.  The caller puts recs into the ring in one
 * reservation.
 */
static void
rec_ready(const char *data, Size len, OtelRecordRef *recs, int *n)
{
	if (len > 0)
	{
		recs[*n].data = data;
		recs[*n].len = (uint32) len;
		(*n)++;
	}
	else
	{
		otel_stats_add(OTEL_SIGNAL_TRACES, OTEL_STAT_TRUNCATED, 1);
		otel_stats_add(OTEL_SIGNAL_TRACES, OTEL_STAT_DROPPED, 1);
	}
}

static void
put_spans(const OtelRecordRef *recs, int n)
{
	if (n > 0)
		(void) otel_buffer_put_many(OTEL_SIGNAL_TRACES, recs, n);
}

static void
fill_header(OtelSpanHeader *h, OtelStmt *st, const uint8 *span_id, const uint8 *parent,
			int64 start, int64 end, uint8 kind)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->trace_id, st->trace_id, 16);
	memcpy(h->span_id, span_id, 8);
	if (parent)
		memcpy(h->parent_span_id, parent, 8);
	h->start_ns = start;
	h->end_ns = Max(end, start);
	h->kind = kind;
	h->flags = st->flags;
}

/*
 * A span to put: its header, name, trace state and status message, and its
 * attributes already encoded (parts), or none.
 */
typedef struct SpanOut
{
	OtelSpanHeader h;
	const char *name;
	int			name_len;
	const char *tracestate;
	int			tracestate_len;
	const char *msg;
	int			msg_len;
	const OtelPbPart *parts;
	int			nparts;
	OtelSpanOtlpPlan plan;
} SpanOut;

/* a child INTERNAL span of st, planning or execution */
static void
child_out(SpanOut *so, OtelStmt *st, const char *name, int name_len,
		  const uint8 *span_id, int64 start, int64 end, const ErrorData *edata)
{
	fill_header(&so->h, st, span_id, st->span_id, start, end, OTEL_SPAN_KIND_INTERNAL);
	if (edata)
		so->h.status = OTEL_STATUS_ERROR;
	so->name = name;
	so->name_len = name_len;
	so->tracestate = st->tracestate;
	so->tracestate_len = st->tracestate_len;
	so->msg = NULL;
	so->msg_len = 0;
	so->parts = NULL;
	so->nparts = 0;
}

/*
 * The OTEL_REC_SPAN record of span so into b over buf: its header and
 * strings; attributes follow, then otel_span_finish().
 */
static void
span_rec_begin(OtelRecBuf *b, char *buf, Size size, const SpanOut *so)
{
	otel_rec_init(b, buf, size);
	otel_span_begin(b, &so->h, so->name, so->name_len,
					so->tracestate, so->tracestate_len, so->msg, so->msg_len);
}

/*
 * The OTEL_REC_SPAN record of span so, its parts as SPAN_PB entries, into
 * buf, when put_direct() could not take it: its length, 0 when it did not
 * fit.
 */
static Size
span_record(char *buf, Size size, const SpanOut *so)
{
	OtelRecBuf	b;

	span_rec_begin(&b, buf, size, so);
	for (int i = 0; i < so->nparts; i++)
	{
		if (so->parts[i].len > 0)
			otel_attr_span_pb(&b, so->parts[i].data, so->parts[i].len);
	}
	return otel_span_finish(&b) ? b.len : 0;
}

/*
 * The usual way: the n spans in OTLP form, written straight into the ring
 * in one reservation.  false (nothing done) outside UTF8 databases or when
 * a span cannot take that form; the caller then builds records and copies
 * them.
 */
static bool
put_direct(SpanOut *so, int n)
{
	uint32		lens[OTEL_BUFFER_PUT_MAX];
	char	   *dst[OTEL_BUFFER_PUT_MAX];
	OtelBufferReservation res;

	Assert(n <= OTEL_BUFFER_PUT_MAX);
	if (GetDatabaseEncoding() != PG_UTF8)
		return false;
	for (int i = 0; i < n; i++)
	{
		lens[i] = (uint32) otel_span_otlp_plan(&so[i].plan, &so[i].h, so[i].name_len,
											   so[i].tracestate_len, so[i].msg_len,
											   so[i].parts, so[i].nparts);
		if (lens[i] == 0)
			return false;
	}
	/* no room: dropped and counted there */
	if (!otel_buffer_reserve(OTEL_SIGNAL_TRACES, lens, n, &res, dst))
		return true;
	/* nothing below can fail: the slots are published right after */
	for (int i = 0; i < n; i++)
		otel_span_otlp_write(dst[i], &so[i].plan, &so[i].h, so[i].name, so[i].name_len,
							 so[i].tracestate, so[i].tracestate_len,
							 so[i].msg, so[i].msg_len, so[i].parts, so[i].nparts);
	otel_buffer_publish(&res);
	return true;
}

/* a child span on its own, at once */
static void
emit_child(OtelStmt *st, const char *name, const uint8 *span_id, int64 start, int64 end,
		   const ErrorData *edata)
{
	SpanOut		so;
	OtelRecordRef rec;
	int			n = 0;

	child_out(&so, st, name, strlen(name), span_id, start, end, edata);
	if (put_direct(&so, 1))
		return;
	rec_ready(child_scratch[0],
			  span_record(child_scratch[0], sizeof(child_scratch[0]), &so),
			  &rec, &n);
	put_spans(&rec, n);
}

static const char *
span_name(OtelStmt *st, const char *op, char *buf, Size buflen)
{
	QueryInfo  *qi = st->qi;

	if (qi && qi->summary && qi->summary[0])
		return qi->summary;
	if (op && op[0])
	{
		if (qi && qi->collection && qi->collection[0])
		{
			snprintf(buf, buflen, "%s %s", op, qi->collection);
			return buf;
		}
		return op;
	}
	return "postgresql";
}

/*
 * The status message of a statement that failed (edata) or did not reach
 * its end (abort_msg), clipped to 1 kB (*msg_len), and the SQLSTATE of a
 * failure into sqlstate.
 */
static pg_noinline pg_attribute_cold const char *
stmt_status_msg(const ErrorData *edata, const char *abort_msg, char *sqlstate,
				int *msg_len)
{
	const char *msg = abort_msg;

	if (edata)
	{
		msg = edata->message;
		strlcpy(sqlstate, unpack_sql_state(edata->sqlerrcode), 6);
	}
	*msg_len = msg ? pg_mbcliplen(msg, strlen(msg), 1024) : 0;
	return msg;
}

/*
 * stmt_close()'s other way, outside UTF8 databases or for attributes that
 * are not all protobuf yet: the nso children of so and the statement's span
 * so[nso] as records, copied into the ring.  measures holds the statement's
 * measures, already encoded.
 */
static pg_noinline pg_attribute_cold void
put_records(OtelStmt *st, const SpanOut *so, int nso, bool pb_attrs,
			const char *op, const OtelPbPart *measures)
{
	OtelRecordRef recs[3];
	int			nrecs = 0;
	const SpanOut *srv = &so[nso];

	for (int i = 0; i < nso; i++)
		rec_ready(child_scratch[i],
				  span_record(child_scratch[i], sizeof(child_scratch[i]), &so[i]),
				  recs, &nrecs);
	if (pb_attrs)
		rec_ready(scratch, span_record(scratch, sizeof(scratch), srv), recs, &nrecs);
	else
	{
		OtelRecBuf	b;

		span_rec_begin(&b, scratch, sizeof(scratch), srv);
		session_attrs(&b);
		query_attrs_write(&b, st->qi, op, st->query_id);
		if (measures->len > 0)
			otel_attr_span_pb(&b, measures->data, measures->len);
		rec_ready(scratch, otel_span_finish(&b) ? b.len : 0, recs, &nrecs);
	}
	put_spans(recs, nrecs);
}

/*
 * Close a statement: emit its execution child (if any) and its own span,
 * then free the slot.  rows < 0 means unknown.  edata != NULL marks an
 * error; errmsg alone marks a statement that ended without reaching its
 * end (aborted).  Never raises and never allocates.
 */
static void
stmt_close(OtelStmt *st, int64 rows, bool rows_returned,
		   const ErrorData *edata, const char *abort_msg)
{
	static char measures[STMT_PB_MAX];
	int64		now;
	SpanOut		so[3];
	int			nso = 0;
	SpanOut    *srv;
	char		namebuf[NAMEDATALEN * 2 + 64];
	const char *op;
	const char *name;
	const char *msg = NULL;
	int			msg_len = 0;
	char		sqlstate[6] = {0};
	bool		may_alloc;
	bool		pb_attrs;
	OtelPbPart	parts[3];

	if (!st->sampled)
	{
		/* no span: the clock is read only if the query metric wants it */
		stmt_metric(st, edata, edata == NULL && abort_msg != NULL, 0);
		stmt_free(st);
		return;
	}
	now = otel_now_ns();
	stmt_metric(st, edata, edata == NULL && abort_msg != NULL, now);

	if (unlikely(edata != NULL || abort_msg != NULL))
		msg = stmt_status_msg(edata, abort_msg, sqlstate, &msg_len);

	/* the planning and execution children, then the statement's own span */
	if (st->plan_pending)
	{
		child_out(&so[nso++], st, "planning", 8, st->plan_span_id,
				  st->plan_start_ns, st->plan_end_ns, NULL);
		st->plan_pending = false;
	}
	if (st->has_exec)
		child_out(&so[nso++], st, "execution", 9, st->exec_span_id,
				  st->exec_start_ns, now, edata);

	op = st->operation;
	if ((op == NULL || op[0] == '\0') && st->qi)
		op = st->qi->operation;

	srv = &so[nso];
	fill_header(&srv->h, st, st->span_id, st->parent_id, st->start_ns, now,
				st->level == 0 ? OTEL_SPAN_KIND_SERVER : OTEL_SPAN_KIND_INTERNAL);
	srv->h.status = msg ? OTEL_STATUS_ERROR : OTEL_STATUS_UNSET;
	name = span_name(st, op, namebuf, sizeof(namebuf));
	srv->name = name;
	srv->name_len = strlen(name);
	srv->tracestate = st->tracestate;
	srv->tracestate_len = st->tracestate_len;
	srv->msg = msg;
	srv->msg_len = msg_len;
	srv->parts = parts;
	srv->nparts = 3;
	parts[2].data = measures;
	parts[2].len = stmt_measures_pb(measures, st, rows, rows_returned, sqlstate,
									msg != NULL, now) - measures;
	may_alloc = edata == NULL && abort_msg == NULL && !in_emit_log;

	/* the usual case: every attribute is already protobuf */
	pb_attrs = session_pb(&parts[0]) && query_pb(st, op, may_alloc, &parts[1]);
	if (pb_attrs && put_direct(so, nso + 1))
	{
		stmt_free(st);
		return;
	}

	/* else build the records and copy them in */
	put_records(st, so, nso, pb_attrs, op, &parts[2]);
	stmt_free(st);
}

/* close every statement opened deeper than level (orphans of caught errors) */
static void
close_deeper(int level)
{
	for (int i = 0; i < stmts_hi; i++)
		if (stmts[i].in_use && stmts[i].level > level && stmts[i].qd == NULL)
			stmt_close(&stmts[i], -1, false, NULL,
					   "statement did not complete");
}

/* ---------------- helpers for the hooks ---------------- */

static const char *
cmd_operation(CmdType cmd)
{
	switch (cmd)
	{
		case CMD_SELECT:
			return "SELECT";
		case CMD_INSERT:
			return "INSERT";
		case CMD_UPDATE:
			return "UPDATE";
		case CMD_DELETE:
			return "DELETE";
		case CMD_MERGE:
			return "MERGE";
		default:
			return NULL;
	}
}

/* the one table a plan targets, if there is one */
static char *
plan_collection(PlannedStmt *ps)
{
	Oid			relid = InvalidOid;
	ListCell   *lc;

	if (ps->commandType != CMD_SELECT && ps->planTree && IsA(ps->planTree, ModifyTable))
	{
		ModifyTable *mt = (ModifyTable *) ps->planTree;

		if (mt->nominalRelation > 0)
			relid = rt_fetch(mt->nominalRelation, ps->rtable)->relid;
	}
	else
	{
		foreach(lc, ps->rtable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			if (rte->rtekind != RTE_RELATION || !rte->inFromCl)
				continue;
			if (OidIsValid(relid) && relid != rte->relid)
				return pstrdup("");
			relid = rte->relid;
		}
	}
	if (OidIsValid(relid))
	{
		char	   *name = get_rel_name(relid);

		if (name)
			return name;
	}
	return pstrdup("");
}

static QueryInfo *
stmt_query_info(uint64 query_id, const char *source, int location, int len)
{
	QueryInfo  *qi = query_cache_find(query_id);

	if (qi == NULL && source != NULL)
	{
		if (query_id == 0)
			return NULL;
		qi = query_cache_add(query_id, source, location, len, NULL);
	}
	return qi;
}

/*
 * A private, per-statement text entry, rebuilt each time: the raw text
 * (otel_aliyun.raw_query_text, a debugging aid), or the lexer-sanitised
 * text of a statement that has no query id (query ids are computed only
 * while spans can be sampled; see guc.c).
 */
static void
stmt_transient_text(OtelStmt *st, const char *source, int location, int len,
					bool sanitise)
{
	static QueryInfo tq;
	static MemoryContext tq_cxt = NULL;
	MemoryContext old;
	const char *stmt;
	int			stmt_len;
	char	   *text;

	if (tq_cxt == NULL)
		tq_cxt = AllocSetContextCreate(TopMemoryContext, "otel_aliyun statement text",
									   ALLOCSET_SMALL_SIZES);
	MemoryContextReset(tq_cxt);
	old = MemoryContextSwitchTo(tq_cxt);
	stmt = otel_query_statement(source, location, len, &stmt_len);
	text = sanitise ? otel_query_sanitise(stmt, stmt_len, '$', &stmt_len) : (char *) stmt;
	tq.query_id = st->query_id;
	tq.text = clean_text(text, stmt_len, &tq.text_len);
	tq.summary = st->qi ? st->qi->summary : otel_query_summary(tq.text, tq.text_len);
	tq.operation = st->qi ? st->qi->operation : otel_query_operation(tq.text, tq.text_len);
	tq.collection = st->qi ? st->qi->collection : NULL;
	tq.attrs = NULL;
	tq.transient = true;
	MemoryContextSwitchTo(old);
	st->qi = &tq;
}

/* the text facts of a sampled statement */
static void
stmt_text(OtelStmt *st, const char *source, int location, int len)
{
	if (otel_capture_raw_query_text)
	{
		st->qi = stmt_query_info(st->query_id, NULL, 0, 0);
		stmt_transient_text(st, source, location, len, false);
	}
	else
	{
		st->qi = stmt_query_info(st->query_id, source, location, len);
		if (st->qi == NULL && source != NULL)
			stmt_transient_text(st, source, location, len, true);
	}
}

/* ---------------- the hooks ---------------- */

/* Could a statement of this text carry a trace context of its own? */
static bool
context_possible(const char *text)
{
	OtelTraceContext ctx;

	if (otel_traceparent != NULL && otel_traceparent[0] != '\0')
		return true;
	return text != NULL &&
		otel_ctx_from_query(text, strlen(text), &ctx, NULL, NULL) != OTEL_CTX_NONE;
}

/*
 * Query ids (and with them the normalised text) cost about as much as the
 * rest of an unsampled statement's tracing, so only statements that may
 * become spans get one.  A plain top-level statement (simple protocol: no
 * parameter hooks) is planned and run right after its analysis: its
 * sampling decision is made here and carried over, and only a sampled one
 * pays, and only a lookup if a statement of its shape came before
 * (query_id.h).  A prepared one may run many times later, each time decided anew:
 * it gets its query id whenever it could be sampled, and so do statements
 * run by functions.
 */
static void
otel_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	bool		want_id;
	bool		by_shape = false;
	bool		from_shape;

	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);

	if (!tracing_active() || !level_tracked(nesting_level))
		return;

	if (nesting_level == 0)
	{
		bool		plain;

		skip_reset();
		plain = pstate->p_paramref_hook == NULL &&
			pstate->p_pre_columnref_hook == NULL &&
			pstate->p_post_columnref_hook == NULL &&
			pstate->p_coerce_param_hook == NULL;

		if (plain)
		{
			decide_root(pstate->p_sourcetext, &pre_decision);
			pre_key = query->utilityStmt ? (const void *) query->utilityStmt :
				(const void *) query;
			pre_valid = true;
			want_id = pre_decision.sampled;
			by_shape = true;
		}
		else
			want_id = otel_sample_rate > 0 || context_possible(pstate->p_sourcetext);
	}
	else
	{
		int			parent = enclosing_stmt(nesting_level);

		want_id = otel_sample_rate > 0 || (parent >= 0 && stmts[parent].sampled);
	}

	if (!want_id)
		return;
	/*
	 * compute_query_id = off is respected: such spans get the lexer-sanitised
	 * text and no query id.
	 */
	if (query->queryId == 0)
	{
		jstate = otel_query_id_compute(query, pstate->p_sourcetext, by_shape,
									   &from_shape);
		/* a known shape whose text has left the cache: jumble for the text */
		if (from_shape && !otel_capture_raw_query_text &&
			query_cache_find(query->queryId) == NULL)
		{
			query->queryId = 0;
			jstate = otel_query_id_compute(query, pstate->p_sourcetext, false,
										   &from_shape);
		}
	}
	if (query->queryId == 0 || otel_capture_raw_query_text)
		return;
	if (query_cache_find(query->queryId) == NULL)
		(void) query_cache_add(query->queryId, pstate->p_sourcetext,
							   query->stmt_location, query->stmt_len,
							   query->utilityStmt ? NULL : jstate);
}

/*
 * The executor and planner hooks are each split in three: the hook itself,
 * which only decides whether the statement has a slot; a "traced" part,
 * not inlined, for statements that have one; and a "down" part that calls
 * the next hook with nesting_level kept (and, for a traced statement, its
 * running mark undone and the statement marked failed on error).  The path
 * runs once per statement between stretches of server code that evict it,
 * so every cache line it touches is a miss: an untraced statement now runs
 * through the hook and the down part only.
 */
/*
 * An error passed through a down part: the nesting level it raised goes
 * back down, and a traced statement loses its running mark and is marked
 * failed (emit_log_hook closes it with the error).
 */
static void
down_failed(OtelStmt *st, int level, int saved)
{
	nesting_level = level;
	if (st)
	{
		running_pop(level, saved);
		st->failed = true;
	}
}

static PlannedStmt *
planner_down(Query *parse, const char *query_string, int cursorOptions,
			 ParamListInfo boundParams, OtelStmt *st, int saved_running)
{
	PlannedStmt *result;
	int			level = nesting_level;

	nesting_level++;
	PG_TRY();
	{
		if (prev_planner_hook)
			result = prev_planner_hook(parse, query_string, cursorOptions, boundParams);
		else
			result = standard_planner(parse, query_string, cursorOptions, boundParams);
	}
	PG_CATCH();
	{
		down_failed(st, level, saved_running);
		PG_RE_THROW();
	}
	PG_END_TRY();
	nesting_level--;
	return result;
}

/* a top-level statement decided unsampled goes without a slot (skip_plan) */
static inline void
skip_begin(void)
{
	pre_valid = false;
	skip_active = true;
	memcpy(skip_trace_id, pre_decision.trace_id, 16);
	otel_stats_add_local(OTEL_SIGNAL_TRACES, OTEL_STAT_SAMPLED_OUT, 1);
}

static pg_noinline PlannedStmt *
planner_traced(Query *parse, const char *query_string, int cursorOptions,
			   ParamListInfo boundParams)
{
	PlannedStmt *result;
	OtelStmt   *st = NULL;
	BufferUsage bu_start;
	WalUsage	wu_start;
	int64		start = 0;
	int			level = nesting_level;
	int			saved_running = -1;
	bool		skipping = false;
	OtelStmt   *old = stmt_pending(level);

	/* planned again before execution (PL/pgSQL does): same statement */
	if (old && old->query_id == parse->queryId && parse->queryId != 0)
		st = old;
	else
	{
		if (old)
			stmt_close(old, -1, false, NULL, NULL);
		if (level == 0 && skip_possible(parse))
		{
			skip_begin();
			skipping = true;
		}
		else
			st = stmt_open(level, query_string, parse);
	}
	if (st && st != old)
	{
		st->query_id = parse->queryId;
		st->operation = cmd_operation(parse->commandType);
		if (st->sampled)
			stmt_text(st, query_string, parse->stmt_location, parse->stmt_len);
	}
	if (st && st->sampled)
	{
		bu_start = pgBufferUsage;
		wu_start = pgWalUsage;
		/* a statement opened just now starts with its planning */
		start = (st != old) ? st->start_ns : otel_now_ns();
	}

	if (st)
		saved_running = running_push(level, st);
	result = planner_down(parse, query_string, cursorOptions, boundParams,
						  st, saved_running);
	if (st)
		running_pop(level, saved_running);
	if (skipping)
		skip_plan = result;

	if (st && st->in_use && st->sampled)
	{
		int64		end = otel_now_ns();

		usage_since(st, &bu_start, &wu_start);
		st->plan_ms = (end - start) / 1000000.0;
		st->has_plan = true;
		/* planned again (PL/pgSQL does): the first planning span leaves now */
		if (st->plan_pending)
			emit_child(st, "planning", st->plan_span_id, st->plan_start_ns,
					   st->plan_end_ns, NULL);
		/* kept, to leave with the statement's other spans in one put */
		otel_random_span_id(st->plan_span_id);
		st->plan_start_ns = start;
		st->plan_end_ns = end;
		st->plan_pending = true;
	}
	return result;
}

static PlannedStmt *
otel_planner(Query *parse, const char *query_string, int cursorOptions,
			 ParamListInfo boundParams)
{
	PlannedStmt *result;

	if (!tracing_active() || !level_tracked(nesting_level) || query_string == NULL)
		return planner_down(parse, query_string, cursorOptions, boundParams, NULL, -1);
	/* the usual unsampled statement: nothing pending, no slot */
	if (nesting_level == 0 && stmts_hi == 0 && skip_possible(parse))
	{
		skip_begin();
		result = planner_down(parse, query_string, cursorOptions, boundParams, NULL, -1);
		skip_plan = result;
		return result;
	}
	return planner_traced(parse, query_string, cursorOptions, boundParams);
}

static inline void
start_down(QueryDesc *qd, int eflags)
{
	if (prev_ExecutorStart)
		prev_ExecutorStart(qd, eflags);
	else
		standard_ExecutorStart(qd, eflags);
}

static pg_noinline void
executor_start_traced(QueryDesc *qd, int eflags)
{
	int			level = nesting_level;
	uint64		qid = qd->plannedstmt->queryId;
	OtelStmt   *st = stmt_pending(level);

	if (st && st->query_id != qid)
	{
		stmt_close(st, -1, false, NULL, NULL);
		st = NULL;
	}
	if (st == NULL)
	{
		st = stmt_open(level, qd->sourceText, NULL);
		if (st)
		{
			st->query_id = qid;
			st->operation = cmd_operation(qd->operation);
		}
	}
	if (st)
		st->qd = qd;

	if (st == NULL)
	{
		start_down(qd, eflags);
		return;
	}

	PG_TRY();
	{
		start_down(qd, eflags);
	}
	PG_CATCH();
	{
		st->failed = true;
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (st->sampled)
	{
		PlannedStmt *ps = qd->plannedstmt;

		stmt_text(st, qd->sourceText, ps->stmt_location, ps->stmt_len);
		if (st->qi && st->qi->collection == NULL && st->qi != NULL && query_cache_cxt)
		{
			MemoryContext old = MemoryContextSwitchTo(query_cache_cxt);

			st->qi->collection = plan_collection(ps);
			MemoryContextSwitchTo(old);
		}
		st->exec_start_ns = otel_now_ns();
		if (st->start_ns == 0)
			st->start_ns = st->exec_start_ns;
		otel_random_span_id(st->exec_span_id);
		st->has_exec = true;
	}
}

static void
otel_ExecutorStart(QueryDesc *qd, int eflags)
{
	int			level = nesting_level;

	if (level == 0 && (skip_plan != NULL || skip_qd != NULL))
	{
		/* the plan of a statement that goes without a slot: it runs now */
		if (skip_plan == qd->plannedstmt && skip_qd == NULL &&
			(eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0)
		{
			skip_plan = NULL;
			skip_qd = qd;
			start_down(qd, eflags);
			return;
		}
		skip_reset();
	}

	if (tracing_active() && level_tracked(level) &&
		(eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0)
		executor_start_traced(qd, eflags);
	else
		start_down(qd, eflags);
}

static void
run_down(QueryDesc *qd, ScanDirection direction, uint64 count, bool execute_once,
		 OtelStmt *st, int saved)
{
	int			level = nesting_level;

	nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(qd, direction, count, execute_once);
		else
			standard_ExecutorRun(qd, direction, count, execute_once);
	}
	PG_CATCH();
	{
		down_failed(st, level, saved);
		PG_RE_THROW();
	}
	PG_END_TRY();
	nesting_level--;
}

/*
 * Around the call down of a traced ExecutorRun or ExecutorFinish: the
 * statement marked running at this level, and for a sampled one the buffer
 * and WAL counters, whose growth over the call is added to it at the end.
 */
typedef struct TracedCall
{
	int			level;
	int			saved;
	BufferUsage bu0;
	WalUsage	wu0;
} TracedCall;

static inline void
traced_enter(OtelStmt *st, TracedCall *tc)
{
	tc->level = nesting_level;
	tc->saved = running_push(tc->level, st);
	if (st->sampled)
	{
		tc->bu0 = pgBufferUsage;
		tc->wu0 = pgWalUsage;
	}
}

static inline void
traced_leave(OtelStmt *st, TracedCall *tc)
{
	running_pop(tc->level, tc->saved);
	if (st->sampled)
		usage_since(st, &tc->bu0, &tc->wu0);
}

static pg_noinline void
executor_run_traced(OtelStmt *st, QueryDesc *qd, ScanDirection direction,
					uint64 count, bool execute_once)
{
	TracedCall	tc;

	traced_enter(st, &tc);
	run_down(qd, direction, count, execute_once, st, tc.saved);
	/* PostgreSQL 15 resets es_processed in every ExecutorRun */
	if (qd->estate)
		st->rows += qd->estate->es_processed;
	traced_leave(st, &tc);
}

static void
otel_ExecutorRun(QueryDesc *qd, ScanDirection direction, uint64 count, bool execute_once)
{
	OtelStmt   *st = stmts_hi > 0 ? stmt_by_qd(qd) : NULL;

	if (st)
		executor_run_traced(st, qd, direction, count, execute_once);
	else
		run_down(qd, direction, count, execute_once, NULL, -1);
}

static inline void
finish_next(QueryDesc *qd)
{
	if (prev_ExecutorFinish)
		prev_ExecutorFinish(qd);
	else
		standard_ExecutorFinish(qd);
}

static void
finish_down(QueryDesc *qd, OtelStmt *st, int saved)
{
	int			level = nesting_level;

	nesting_level++;
	PG_TRY();
	{
		finish_next(qd);
	}
	PG_CATCH();
	{
		down_failed(st, level, saved);
		PG_RE_THROW();
	}
	PG_END_TRY();
	nesting_level--;
}

static pg_noinline void
executor_finish_traced(OtelStmt *st, QueryDesc *qd)
{
	TracedCall	tc;

	traced_enter(st, &tc);
	finish_down(qd, st, tc.saved);
	traced_leave(st, &tc);
}

static void
otel_ExecutorFinish(QueryDesc *qd)
{
	OtelStmt   *st;

	/*
	 * A SELECT with no data-modifying WITH runs nothing here: no ModifyTable
	 * is left to finish and it queued no AFTER trigger event of its own
	 * (statements it ran queued theirs at their own depth and fired them in
	 * their own ExecutorFinish).  Nothing to count or to nest, then.
	 */
	if (qd->operation == CMD_SELECT && qd->estate != NULL &&
		qd->estate->es_auxmodifytables == NIL)
	{
		finish_next(qd);
		return;
	}

	st = stmts_hi > 0 ? stmt_by_qd(qd) : NULL;
	if (st)
		executor_finish_traced(st, qd);
	else
		finish_down(qd, NULL, -1);
}

static void
otel_ExecutorEnd(QueryDesc *qd)
{
	OtelStmt   *st = stmt_by_qd(qd);

	if (qd == skip_qd)
		skip_reset();

	if (st)
	{
		close_deeper(st->level);
		if (st->sampled)
		{
			int64		rows = (int64) st->rows;
			bool		returned = qd->operation == CMD_SELECT ||
				(qd->plannedstmt && qd->plannedstmt->hasReturning);

			stmt_close(st, rows, returned, NULL, NULL);
		}
		else
			stmt_free(st);
	}

	if (prev_ExecutorEnd)
		prev_ExecutorEnd(qd);
	else
		standard_ExecutorEnd(qd);
}

static void
otel_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					ProcessUtilityContext context, ParamListInfo params,
					QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	OtelStmt   *st = NULL;
	int			level = nesting_level;
	int			saved = -1;

	if (tracing_active() && level_tracked(level) && queryString)
	{
		OtelStmt   *old = stmt_pending(level);

		if (old)
			stmt_close(old, -1, false, NULL, NULL);
		st = stmt_open(level, queryString, pstmt->utilityStmt);
		if (st)
		{
			st->is_utility = true;
			st->query_id = pstmt->queryId;
			st->operation = CreateCommandName(pstmt->utilityStmt);
			if (st->sampled)
			{
				stmt_text(st, queryString, pstmt->stmt_location, pstmt->stmt_len);
				/* a utility statement names no single collection */
				if (st->qi && st->qi->collection == NULL)
					st->qi->collection = "";
				st->buf_start = pgBufferUsage;
				st->wal_start = pgWalUsage;
			}
			saved = running_push(level, st);
		}
	}

	nesting_level++;
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
									queryEnv, dest, qc);
	}
	PG_CATCH();
	{
		nesting_level--;
		if (st)
		{
			running_pop(level, saved);
			if (st->in_use)
				st->failed = true;
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	nesting_level--;
	if (st)
		running_pop(level, saved);

	/* a COMMIT or ROLLBACK may have closed it already (transaction end) */
	if (st && st->in_use && st->is_utility && st->level == level)
	{
		close_deeper(level);
		if (st->sampled)
		{
			int64		rows = -1;

			usage_since(st, &st->buf_start, &st->wal_start);
			if (qc && qc->commandTag != CMDTAG_UNKNOWN && command_tag_display_rowcount(qc->commandTag))
				rows = (int64) qc->nprocessed;
			stmt_close(st, rows, rows >= 0 && (qc->commandTag == CMDTAG_FETCH ||
											   qc->commandTag == CMDTAG_SELECT),
					   NULL, NULL);
		}
		else
			stmt_free(st);
	}
}

/*
 * A statement span for a statement that failed before any other hook saw
 * it (parse error, failure in Bind, ...), from debug_query_string.
 */
static void
error_span_without_stmt(ErrorData *edata)
{
	OtelStmt   *st;
	const char *src = debug_query_string;
	int			len;
	QueryInfo	qi;

	st = stmt_open(0, src, PRE_ANY);
	if (st == NULL)
		return;
	/* it started with the statement, not now */
	if (st->metric_start_ns != 0)
		st->metric_start_ns = Min(timestamptz_to_unix_ns(GetCurrentStatementStartTimestamp()),
								  otel_now_ns());
	if (!st->sampled)
	{
		stmt_metric(st, edata, false, 0);
		stmt_free(st);
		return;
	}
	st->start_ns = Min(timestamptz_to_unix_ns(GetCurrentStatementStartTimestamp()),
					   otel_now_ns());
	if (!conn_info_done)
		conn_info_init();

	memset(&qi, 0, sizeof(qi));
	/* bounded work in ErrorContext; nothing at all when memory ran out */
	if (edata->sqlerrcode != ERRCODE_OUT_OF_MEMORY)
	{
		const char *s;
		char	   *text;

		len = strnlen(src, (Size) otel_max_query_text_length * 4);
		s = otel_query_statement(src, 0, len, &len);
		text = otel_capture_raw_query_text ? pnstrdup(s, len)
			: otel_query_sanitise(s, len, '$', &len);
		qi.text = clean_text(text, len, &qi.text_len);
		qi.summary = otel_query_summary(qi.text, qi.text_len);
		qi.operation = otel_query_operation(qi.text, qi.text_len);
		st->qi = &qi;
	}
	stmt_close(st, -1, false, edata, NULL);
}

static void
otel_emit_log(ErrorData *edata)
{
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);

	if (in_emit_log || edata->elevel < ERROR || edata->elevel >= PANIC ||
		!tracing_active())
		return;
	in_emit_log = true;

	/*
	 * An error reaching the log in a client backend ends the statements it
	 * went through: close them, innermost first.  If it went through none of
	 * ours, the statement failed before planning (parse, analysis, Bind).
	 */
	{
		bool		any = false;

		for (int lvl = MAX_STMTS - 1; lvl >= 0; lvl--)
			for (int i = 0; i < stmts_hi; i++)
				if (stmts[i].in_use && stmts[i].failed && stmts[i].level == lvl)
				{
					any = true;
					stmt_close(&stmts[i], -1, false, edata, NULL);
				}
		/* a statement that went without a slot was decided: no span */
		if (!any && debug_query_string != NULL && nesting_level == 0 &&
			!skip_active)
			error_span_without_stmt(edata);
	}
	in_emit_log = false;
}

/*
 * At transaction abort, statements the error path did not close (their
 * error never reached emit_log_hook, e.g. log_min_messages above ERROR)
 * are closed as aborted.
 */
static void
otel_xact_callback(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_ABORT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	for (int i = 0; i < stmts_hi; i++)
		if (stmts[i].in_use)
			stmt_close(&stmts[i], -1, false, NULL, "transaction aborted");
	for (int l = 0; l < MAX_STMTS; l++)
		running[l] = -1;
	running_top = 0;
	pre_valid = false;
	skip_reset();
}

/* A failed top-level statement inside a savepoint: forget its skip state. */
static void
otel_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		skip_reset();
}

/* ---------------- exported ---------------- */

static OtelStmt *
innermost_running(void)
{
	int			idx = enclosing_stmt(Min(nesting_level, MAX_STMTS));
	OtelStmt   *failed = NULL;

	if (idx >= 0)
		return &stmts[idx];

	/*
	 * While an error is being reported the executor has unwound, but the
	 * statements it went through are still open, marked failed: the
	 * deepest one is where the error happened.
	 */
	for (int i = 0; i < stmts_hi; i++)
		if (stmts[i].in_use && stmts[i].failed &&
			(failed == NULL || stmts[i].level > failed->level))
			failed = &stmts[i];
	return failed;
}

bool
otel_hooks_current_traceparent(char *buf)
{
	OtelStmt   *st = innermost_running();

	if (st == NULL && skip_active)
	{
		/* unsampled; a new root has a trace id at sample rates above 0 */
		if (otel_sample_rate <= 0)
			return false;
		if (!skip_span_made)
		{
			otel_random_span_id(skip_span_id);
			skip_span_made = true;
		}
		otel_traceparent_format(buf, skip_trace_id, skip_span_id, 0x00);
		return true;
	}
	if (st == NULL || !st->has_ctx)
		return false;
	if (st->sampled)
		otel_traceparent_format(buf, st->trace_id, st->span_id, st->flags);
	else if (st->parent_id[0] || memcmp(st->parent_id, "\0\0\0\0\0\0\0\0", 8) != 0)
		otel_traceparent_format(buf, st->trace_id, st->parent_id, st->flags);
	else
		otel_traceparent_format(buf, st->trace_id, st->span_id, st->flags);
	return true;
}

bool
otel_hooks_current_context(uint8 *trace_id, uint8 *span_id, uint8 *flags)
{
	OtelStmt   *st = innermost_running();

	if (st == NULL || !st->sampled)
		return false;
	memcpy(trace_id, st->trace_id, 16);
	memcpy(span_id, st->span_id, 8);
	*flags = st->flags;
	return true;
}

void
otel_hooks_install(void)
{
	for (int l = 0; l < MAX_STMTS; l++)
		running[l] = -1;

	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = otel_post_parse_analyze;
	prev_planner_hook = planner_hook;
	planner_hook = otel_planner;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = otel_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = otel_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = otel_ExecutorFinish;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = otel_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = otel_ProcessUtility;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = otel_emit_log;
	RegisterXactCallback(otel_xact_callback, NULL);
	RegisterSubXactCallback(otel_subxact_callback, NULL);
}
