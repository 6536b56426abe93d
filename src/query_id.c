/*-------------------------------------------------------------------------
 *
 * query_id.c
 *		Query ids for statements that become spans: JumbleQuery, or the
 *		shape cache in front of it (see query_id.h).
 *
 * Why a shape is enough: two statement texts that differ only in the values
 * of their constants lex into the same tokens but for those values, so the
 * parser builds the same tree but for the constants' values, and the jumble
 * leaves values out.  What could still differ is kept in the key: the
 * constants' kinds (an integer literal is int4, int8 or numeric by its
 * size), the database, the role (search_path's "$user"), search_path, and
 * standard_conforming_strings and transform_null_equals.  Integers that may
 * be column positions (ORDER BY 1) make a text shapeless (query_text.h).
 * The catalogs are the rest of what analysis reads: any invalidation
 * message that this backend has received since an entry was made retires
 * it, and a transaction that has an xid (it may have changed the catalogs
 * without anyone being told yet) neither reads nor fills the cache.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "parser/parse_expr.h"
#include "parser/parser.h"
#include "storage/sinval.h"
#include "utils/memutils.h"

#include "query_id.h"
#include "query_text.h"

#define SHAPE_SLOTS		512		/* direct-mapped by hash */
#define SHAPE_MAX		1024	/* longer statements are always jumbled */
#define SHAPE_CONTEXT	(2 * sizeof(Oid) + 2 + NAMEDATALEN * 4)

typedef struct ShapeEntry
{
	uint32		hash;
	int			len;			/* of key; 0: empty slot */
	int			cap;
	uint64		inval_count;	/* SharedInvalidMessageCounter when made */
	uint64		query_id;
	char	   *key;
} ShapeEntry;

static MemoryContext shape_cxt = NULL;
static ShapeEntry *shapes = NULL;
static char shape_key[SHAPE_MAX + SHAPE_CONTEXT];

static JumbleState *
jumble(Query *query, const char *source)
{
	bool		was = query_id_enabled;
	JumbleState *jstate;

	/* JumbleQuery() expects query ids to be enabled: they are, for the call */
	query_id_enabled = true;
	jstate = JumbleQuery(query, source);
	query_id_enabled = was;
	return jstate;
}

/* The cache key of the statement query was analysed from; -1: none. */
static int
make_key(Query *query, const char *source)
{
	const char *stmt;
	int			stmt_len;
	int			n;
	Oid			ids[2];
	const char *path = namespace_search_path ? namespace_search_path : "";
	int			path_len = strlen(path);

	stmt = otel_query_statement(source, query->stmt_location, query->stmt_len,
								&stmt_len);
	if (stmt_len > SHAPE_MAX)
		return -1;
	n = otel_query_shape(stmt, stmt_len, !standard_conforming_strings,
						 shape_key, SHAPE_MAX);
	if (n < 0 || path_len > (int) (sizeof(shape_key) - n - sizeof(ids) - 2))
		return -1;
	ids[0] = MyDatabaseId;
	ids[1] = GetUserId();
	memcpy(shape_key + n, ids, sizeof(ids));
	n += sizeof(ids);
	shape_key[n++] = standard_conforming_strings ? 1 : 0;
	shape_key[n++] = Transform_null_equals ? 1 : 0;
	memcpy(shape_key + n, path, path_len);
	return n + path_len;
}

/*
 * A fast hash of the key, eight bytes at a time (entries are compared in
 * full, so it needs to spread, not to resist anything).
 */
static uint32
key_hash(const char *k, int len)
{
	uint64		h = (uint64) len * UINT64CONST(0x9E3779B97F4A7C15);
	uint64		w;

	for (; len >= 8; k += 8, len -= 8)
	{
		memcpy(&w, k, 8);
		h = (h ^ w) * UINT64CONST(0xFF51AFD7ED558CCD);
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, k, len);
	h = (h ^ w) * UINT64CONST(0xC4CEB9FE1A85EC53);
	return (uint32) (h ^ (h >> 32));
}

static void
remember(ShapeEntry *e, uint32 hash, int len, uint64 query_id)
{
	if (e->cap < len)
	{
		if (e->key)
			pfree(e->key);
		e->key = MemoryContextAlloc(shape_cxt, len);
		e->cap = len;
	}
	memcpy(e->key, shape_key, len);
	e->hash = hash;
	e->len = len;
	e->inval_count = SharedInvalidMessageCounter;
	e->query_id = query_id;
}

JumbleState *
otel_query_id_compute(Query *query, const char *source, bool by_shape,
					  bool *from_shape)
{
	JumbleState *jstate;
	ShapeEntry *e;
	uint32		hash;
	int			len;

	*from_shape = false;
	if (compute_query_id == COMPUTE_QUERY_ID_OFF)
		return NULL;
	if (!by_shape || source == NULL || query->utilityStmt != NULL ||
		TransactionIdIsValid(GetTopTransactionIdIfAny()) ||
		(len = make_key(query, source)) < 0)
		return jumble(query, source);

	hash = key_hash(shape_key, len);
	if (shapes == NULL)
	{
		shape_cxt = AllocSetContextCreate(TopMemoryContext,
										  "otel_aliyun query shapes",
										  ALLOCSET_SMALL_SIZES);
		shapes = MemoryContextAllocZero(shape_cxt,
										sizeof(ShapeEntry) * SHAPE_SLOTS);
	}
	e = &shapes[hash % SHAPE_SLOTS];
	if (e->len == len && e->hash == hash &&
		e->inval_count == SharedInvalidMessageCounter &&
		memcmp(e->key, shape_key, len) == 0)
	{
		query->queryId = e->query_id;
		*from_shape = true;
		return NULL;
	}

	jstate = jumble(query, source);
	if (query->queryId != 0)
		remember(e, hash, len, query->queryId);
	return jstate;
}
