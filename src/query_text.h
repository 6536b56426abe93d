/*-------------------------------------------------------------------------
 * query_text.h
 *		What the spans say about a statement's text: the normalised
 *		db.query.text (constants replaced by $n, from the JumbleState the way
 *		pg_stat_statements does it, or by a lexer when no JumbleState exists,
 *		e.g. for statements that failed to parse), db.query.summary,
 *		db.operation.name and db.collection.name, following the OpenTelemetry
 *		database conventions and their SQL test vectors.
 *		query_text.c owns no shared state.  Results are palloc'd in the
 *		current memory context; callers cache them per query id.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_QUERY_TEXT_H
#define OTEL_QUERY_TEXT_H

#include "utils/queryjumble.h"

/*
 * Cut the statement at [location, location+len) out of the source text
 * (len <= 0 means to the end), trim whitespace and a trailing ';', as
 * pg_stat_statements' CleanQuerytext does.  Returns a pointer into query
 * and sets *out_len.  Does not allocate.
 */
extern const char *otel_query_statement(const char *query, int location, int len,
										int *out_len);

/*
 * Text with every constant in jstate replaced by $n (n continuing after the
 * highest parameter number already used).  query/len as from
 * otel_query_statement(); jstate's locations are relative to query_loc.
 */
extern char *otel_query_normalise(const char *query, int len, int query_loc,
								  JumbleState *jstate, int *out_len);

/*
 * Lexer-based sanitising, for text without a JumbleState: string, numeric,
 * hex, bit, dollar-quoted and boolean-free literals become $n (or '?' when
 * placeholder == '?'); comments are removed.  Never raises on bad SQL.
 */
extern char *otel_query_sanitise(const char *query, int len, char placeholder,
								 int *out_len);

/*
 * db.query.summary per the conventions: operation keywords and the
 * collection names they act on, e.g. "SELECT orders", "INSERT orders
 * SELECT customers", at most 255 characters.  Returns "" when nothing
 * useful can be said.
 */
extern char *otel_query_summary(const char *query, int len);

/*
 * The first keyword(s) naming the operation, upper case: SELECT, INSERT,
 * UPDATE, DELETE, MERGE, CREATE TABLE, ALTER TABLE, BEGIN, COMMIT, ...
 * Returns a palloc'd string ("" if none).
 */
extern char *otel_query_operation(const char *query, int len);

#endif							/* OTEL_QUERY_TEXT_H */
