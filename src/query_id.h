/*-------------------------------------------------------------------------
 * query_id.h
 *		Query ids (pg_stat_statements' queryid, JumbleQuery's) for the
 *		statements that become spans, when no other module had the core
 *		compute them.
 *
 *		query_id.c owns a per-backend cache from a statement's shape
 *		(otel_query_shape(): its text with the constants' values taken out)
 *		plus what name resolution depends on (database, role, search_path and
 *		the parser settings that change trees) to the query id that the first
 *		statement of that shape got, so that the next ones of the shape skip
 *		JumbleQuery's walk over the tree.  An entry is trusted only while no
 *		catalog invalidation has arrived since it was made
 *		(SharedInvalidMessageCounter) and never in a transaction that has
 *		written anything (it may have changed the catalogs itself).  It
 *		touches nothing outside this cache and the Query it is given.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_QUERY_ID_H
#define OTEL_QUERY_ID_H

#include "nodes/parsenodes.h"
#include "utils/queryjumble.h"

/*
 * Set query->queryId (left 0 when compute_query_id = off).  by_shape allows
 * the shape cache: only for a statement analysed from its text alone, with
 * no parameters (a plain simple-protocol statement).  Returns the
 * JumbleState when JumbleQuery ran, NULL when the id came from the cache
 * (*from_shape then true) or there is none.
 */
extern JumbleState *otel_query_id_compute(Query *query, const char *source,
										  bool by_shape, bool *from_shape);

#endif							/* OTEL_QUERY_ID_H */
