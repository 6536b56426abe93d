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
 * Cut the statement at [location, location+len) out of the NUL-terminated
 * source text (len <= 0 means to the end; location < 0 or past the end means
 * the whole text), trim whitespace as pg_stat_statements' CleanQuerytext
 * does, and also trailing ';'s.  Returns a pointer into query and sets
 * *out_len.  Does not allocate.
 */
extern const char *otel_query_statement(const char *query, int location, int len,
										int *out_len);

/*
 * Text with every constant in jstate replaced by $n (n continuing after the
 * highest parameter number already used), exactly as pg_stat_statements
 * (PG 15) would show it.  query/len as from otel_query_statement();
 * query_loc is query's offset in the source text, which jstate's locations
 * are relative to.  Measures the constants with the core scanner once per
 * JumbleState (sorting jstate->clocations and filling in their lengths).
 * Should the scanner fail anyway, the error is swallowed (FlushErrorState)
 * and the lexer's otel_query_sanitise(..., '$') result returned instead: do
 * not call this while an error is being handled (e.g. from emit_log_hook).
 */
extern char *otel_query_normalise(const char *query, int len, int query_loc,
								  JumbleState *jstate, int *out_len);

/*
 * Lexer-based sanitising, for text without a JumbleState: string literals
 * (also E'', B'', X'', N'', U&''), dollar-quoted strings, numbers (also
 * hex/octal/binary) and TRUE/FALSE become $n, numbered after the highest $n
 * in the text (or '?' when placeholder == '?'); a sign directly before a
 * number goes with it where it is unary (and, with '?', also after another
 * literal, so "99+100" gives "??" as the OpenTelemetry test vectors want);
 * comments are removed; everything else, blanks included, is kept as is.
 * Unterminated strings and comments run to the end.  Works on any bytes,
 * never raises.
 */
extern char *otel_query_sanitise(const char *query, int len, char placeholder,
								 int *out_len);

/*
 * The statement's shape: its text with every constant's value taken out and
 * its kind left (a byte below: integers by the type PostgreSQL 15 gives
 * them, other numbers, strings with their E/B/X/N/U& prefix, dollar-quoted
 * strings), comments turned into one blank, everything else as it is.  Two
 * texts of one shape parse to the same tree but for constant values, so
 * they get the same query id: query_id.c caches ids by shape.
 *
 * Returns the length written to out, or -1 when the text has no usable shape:
 * longer than cap, something the parser would have rejected, or an integer
 * right after BY, ',' or '(' in a statement with ORDER, GROUP or DISTINCT,
 * which may be a column position (ORDER BY 1) rather than a constant.
 * backslash_quotes: standard_conforming_strings is off.  Never raises.
 */
#define OTEL_SHAPE_INT4			'\x01'
#define OTEL_SHAPE_INT8			'\x02'
#define OTEL_SHAPE_INT8_EDGE	'\x03'	/* 9223372036854775808 */
#define OTEL_SHAPE_NUMERIC		'\x04'
#define OTEL_SHAPE_STRING		'\x05'
#define OTEL_SHAPE_DOLLAR		'\x06'

extern int	otel_query_shape(const char *query, int len, bool backslash_quotes,
							 char *out, int cap);

/*
 * db.query.summary per the conventions: operation keywords and the
 * collection names they act on, as written (case kept, qualified and quoted
 * names whole), e.g. "SELECT orders", "INSERT shipping_details SELECT
 * orders", "CREATE TABLE t", "EXPLAIN SELECT t"; at most 255 bytes, cut only
 * between parts.  Returns "" when nothing useful can be said.  Never raises.
 */
extern char *otel_query_summary(const char *query, int len);

/*
 * The first keyword(s) naming the operation, upper case: SELECT, INSERT,
 * UPDATE, DELETE, MERGE, CREATE TABLE, ALTER TABLE, BEGIN, COMMIT, ...
 * For WITH, the operation of the statement after the WITH list.  Only known
 * statements are named: returns a palloc'd "" otherwise.  Never raises.
 */
extern char *otel_query_operation(const char *query, int len);

#endif							/* OTEL_QUERY_TEXT_H */
