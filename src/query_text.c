/*-------------------------------------------------------------------------
 *
 * query_text.c
 *		What the spans say about a statement's text: the normalised
 *		db.query.text, db.query.summary and db.operation.name.
 *
 * otel_query_statement() and otel_query_normalise() follow the algorithm of
 * pg_stat_statements (CleanQuerytext, fill_in_constant_lengths and
 * generate_normalized_query, PostgreSQL 15): the constants the jumble
 * recorded are measured with the core scanner and replaced by $n.
 *
 * Everything else runs on a small hand-written lexer that accepts any byte
 * string, never raises and never reads past len: unterminated strings,
 * quoted identifiers and comments simply run to the end of the text.  It
 * knows PostgreSQL's literal forms ('..', E'..', B'..', X'..', N'..',
 * U&'..', $tag$..$tag$, numbers including hex/octal/binary) and the quoting
 * of other dialects that the OpenTelemetry SQL test vectors use.
 *
 * The summary follows the OpenTelemetry database conventions ("Generating a
 * summary of the query"): operations and the collections they act on, in
 * the order written, as written, separated by single spaces, at most 255
 * bytes and never cut inside a part.
 *
 * Portions Copyright (c) 1996-2022, PostgreSQL Global Development Group
 *
 * IDENTIFICATION
 *	  src/query_text.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/keywords.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "parser/scanner.h"
#include "parser/scansup.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "query_text.h"

/* ----------------------------------------------------------------
 * Statement text and JumbleState normalisation
 * ----------------------------------------------------------------
 */

const char *
otel_query_statement(const char *query, int location, int len, int *out_len)
{
	int			total;

	if (query == NULL)
	{
		*out_len = 0;
		return "";
	}
	total = (int) strlen(query);

	/* An unknown (or impossible) location means the whole string. */
	if (location < 0 || location > total)
	{
		location = 0;
		len = total;
	}
	else if (len <= 0 || len > total - location)
		len = total - location;
	query += location;

	while (len > 0 && scanner_isspace(query[0]))
		query++, len--;
	while (len > 0 && (scanner_isspace(query[len - 1]) || query[len - 1] == ';'))
		len--;

	*out_len = len;
	return query;
}

static int
comp_location(const void *a, const void *b)
{
	int			l = ((const LocationLen *) a)->location;
	int			r = ((const LocationLen *) b)->location;

	return (l > r) - (l < r);
}

/*
 * Measure each constant of jstate with the core scanner, as
 * pg_stat_statements' fill_in_constant_lengths() does: sort the locations,
 * lex up to each one, take the token's length (a leading '-' and the number
 * after it count as one constant), mark duplicates with -1.  The text was
 * parsed already, so the scanner should not complain; if it does anyway, the
 * error is swallowed, every length is reset to -1 and false is returned.
 */
static bool
fill_constant_lengths(JumbleState *jstate, const char *query, int len,
					  int query_loc)
{
	LocationLen *locs = jstate->clocations;
	int			n = jstate->clocations_count;
	MemoryContext oldcxt = CurrentMemoryContext;
	MemoryContext lexcxt;
	volatile bool ok = true;
	int			i;

	/* Done already for this JumbleState? */
	for (i = 0; i < n; i++)
		if (locs[i].length >= 0)
			return true;

	if (n > 1)
		qsort(locs, n, sizeof(LocationLen), comp_location);

	lexcxt = AllocSetContextCreate(CurrentMemoryContext, "otel_aliyun lexer",
								   ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(lexcxt);
	PG_TRY();
	{
		core_yyscan_t yyscanner;
		core_yy_extra_type yyextra;
		core_YYSTYPE yylval;
		YYLTYPE		yylloc;
		char	   *text = pnstrdup(query, len);
		int			last_loc = -1;
		int			j;

		yyscanner = scanner_init(text, &yyextra, &ScanKeywords,
								 ScanKeywordTokens);
		yyextra.escape_string_warning = false;

		for (j = 0; j < n; j++)
		{
			int			loc = locs[j].location - query_loc;
			int			tok = 1;

			if (loc < 0 || loc >= len || loc <= last_loc)
				continue;		/* not in this statement, or a duplicate */

			for (;;)
			{
				tok = core_yylex(&yylval, &yylloc, yyscanner);
				if (tok == 0)
					break;
				if (yylloc >= loc)
				{
					/* a negative number is '-' and the number after it */
					if (text[loc] == '-')
					{
						tok = core_yylex(&yylval, &yylloc, yyscanner);
						if (tok == 0)
							break;
					}
					/* flex has put a NUL after the current token */
					locs[j].length = (int) strlen(yyextra.scanbuf + loc);
					break;
				}
			}
			if (tok == 0)
				break;			/* end of text: the rest stay -1 */
			last_loc = loc;
		}
		scanner_finish(yyscanner);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(lexcxt);
		FlushErrorState();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(lexcxt);

	if (!ok)
		for (i = 0; i < n; i++)
			locs[i].length = -1;
	return ok;
}

char *
otel_query_normalise(const char *query, int len, int query_loc,
					 JumbleState *jstate, int *out_len)
{
	char	   *out;
	int			olen = 0;
	int			copied = 0;		/* bytes of query consumed so far */
	int			i;

	if (query == NULL || len < 0)
		len = 0;
	if (jstate == NULL || jstate->clocations_count <= 0)
	{
		*out_len = len;
		return pnstrdup(query ? query : "", len);
	}
	if (!fill_constant_lengths(jstate, query, len, query_loc))
		return otel_query_sanitise(query, len, '$', out_len);

	/* "$n" is at most 11 bytes and replaces at least one byte */
	out = palloc((Size) len + (Size) jstate->clocations_count * 10 + 1);

	for (i = 0; i < jstate->clocations_count; i++)
	{
		int			off = jstate->clocations[i].location - query_loc;
		int			tok_len = jstate->clocations[i].length;

		if (tok_len < 0 || off < copied || off > len)
			continue;			/* duplicate, unmeasured or out of range */
		if (tok_len > len - off)
			tok_len = len - off;

		memcpy(out + olen, query + copied, off - copied);
		olen += off - copied;
		olen += sprintf(out + olen, "$%d",
						i + 1 + jstate->highest_extern_param_id);
		copied = off + tok_len;
	}
	memcpy(out + olen, query + copied, len - copied);
	olen += len - copied;
	out[olen] = '\0';

	*out_len = olen;
	return out;
}

/* ----------------------------------------------------------------
 * The lexer
 * ----------------------------------------------------------------
 */

typedef enum QTokType
{
	QT_EOF,
	QT_SPACE,
	QT_COMMENT,
	QT_WORD,					/* identifier or keyword */
	QT_QIDENT,					/* "quoted", U&"quoted" or `quoted` */
	QT_STRING,					/* any string literal, dollar quotes too */
	QT_NUMBER,
	QT_PARAM,					/* $n */
	QT_LPAREN,
	QT_RPAREN,
	QT_COMMA,
	QT_DOT,
	QT_SEMI,
	QT_OP						/* any other single byte */
} QTokType;

typedef struct QLexer
{
	const char *s;
	int			len;
	int			pos;
} QLexer;

typedef struct QToken
{
	QTokType	type;
	int			start;
	int			len;
} QToken;

static inline bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool
is_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		c >= 0x80;
}

static inline bool
is_ident_cont(unsigned char c)
{
	return is_ident_start(c) || is_digit(c) || c == '$';
}

static inline bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
		c == '\v';
}

/* Past the end of a quote-delimited literal opened at s[q]. */
static int
scan_string(const char *s, int n, int q, bool backslash)
{
	int			p = q + 1;

	while (p < n)
	{
		if (s[p] == '\\' && backslash)
			p += 2;
		else if (s[p] == '\'')
		{
			if (p + 1 < n && s[p + 1] == '\'')
				p += 2;
			else
				return p + 1;
		}
		else
			p++;
	}
	return n;					/* unterminated: to the end */
}

/* Past the end of an identifier quoted with s[q], or -1 if unterminated. */
static int
scan_quoted(const char *s, int n, int q)
{
	char		quote = s[q];
	int			p = q + 1;

	while (p < n)
	{
		if (s[p] == quote)
		{
			if (p + 1 < n && s[p + 1] == quote)
				p += 2;
			else
				return p + 1;
		}
		else
			p++;
	}
	return -1;
}

static inline bool
in_alphabet(char c, const char *alphabet)
{
	return c != '\0' && strchr(alphabet, c) != NULL;
}

/* Digits of the alphabet, with single '_' between digits (PG 16 style). */
static int
scan_digits(const char *s, int n, int p, const char *alphabet)
{
	while (p < n &&
		   (in_alphabet(s[p], alphabet) ||
			(s[p] == '_' && p + 1 < n && in_alphabet(s[p + 1], alphabet))))
		p++;
	return p;
}

static int
scan_number(const char *s, int n, int p)
{
	static const char dec[] = "0123456789";

	if (s[p] == '0' && p + 2 < n)
	{
		const char *alphabet = NULL;

		switch (s[p + 1])
		{
			case 'x':
			case 'X':
				alphabet = "0123456789abcdefABCDEF";
				break;
			case 'o':
			case 'O':
				alphabet = "01234567";
				break;
			case 'b':
			case 'B':
				alphabet = "01";
				break;
		}
		if (alphabet && in_alphabet(s[p + 2], alphabet))
			return scan_digits(s, n, p + 2, alphabet);
	}
	p = scan_digits(s, n, p, dec);
	if (p < n && s[p] == '.' && !(p + 1 < n && s[p + 1] == '.'))
		p = scan_digits(s, n, p + 1, dec);
	if (p < n && (s[p] == 'e' || s[p] == 'E'))
	{
		int			q = p + 1;

		if (q < n && (s[q] == '+' || s[q] == '-'))
			q++;
		if (q < n && is_digit(s[q]))
			p = scan_digits(s, n, q, dec);
	}
	return p;
}

/* A dollar quote opened at s[p] ("$tag$"): past its end, or -1 if none. */
static int
scan_dollar(const char *s, int n, int p)
{
	int			q = p + 1;
	int			taglen;

	if (q < n && is_ident_start(s[q]))
		while (q < n && is_ident_cont(s[q]) && s[q] != '$')
			q++;
	if (q >= n || s[q] != '$')
		return -1;
	taglen = q - p + 1;
	for (q = q + 1; q + taglen <= n; q++)
		if (s[q] == '$' && memcmp(s + q, s + p, taglen) == 0)
			return q + taglen;
	return n;					/* unterminated: to the end */
}

static void
lex_init(QLexer *lx, const char *s, int len)
{
	lx->s = s;
	lx->len = len;
	lx->pos = 0;
}

static void
lex_next(QLexer *lx, QToken *t)
{
	const char *s = lx->s;
	int			n = lx->len;
	int			p = lx->pos;
	unsigned char c;
	unsigned char c1;
	QTokType	type;

	t->start = p;
	if (p >= n)
	{
		t->type = QT_EOF;
		t->len = 0;
		return;
	}
	c = s[p];
	c1 = p + 1 < n ? s[p + 1] : '\0';

	if (is_space(c))
	{
		while (p < n && is_space(s[p]))
			p++;
		type = QT_SPACE;
	}
	else if (c == '-' && c1 == '-')
	{
		while (p < n && s[p] != '\n' && s[p] != '\r')
			p++;
		type = QT_COMMENT;
	}
	else if (c == '/' && c1 == '*')
	{
		int			depth = 1;

		p += 2;
		while (p < n && depth > 0)
		{
			if (s[p] == '/' && p + 1 < n && s[p + 1] == '*')
				depth++, p += 2;
			else if (s[p] == '*' && p + 1 < n && s[p + 1] == '/')
				depth--, p += 2;
			else
				p++;
		}
		type = QT_COMMENT;
	}
	else if (c == '\'')
	{
		p = scan_string(s, n, p, false);
		type = QT_STRING;
	}
	else if ((c == 'e' || c == 'E') && c1 == '\'')
	{
		p = scan_string(s, n, p + 1, true);
		type = QT_STRING;
	}
	else if ((c == 'b' || c == 'B' || c == 'x' || c == 'X' ||
			  c == 'n' || c == 'N') && c1 == '\'')
	{
		p = scan_string(s, n, p + 1, false);
		type = QT_STRING;
	}
	else if ((c == 'u' || c == 'U') && c1 == '&' && p + 2 < n &&
			 s[p + 2] == '\'')
	{
		p = scan_string(s, n, p + 2, false);
		type = QT_STRING;
	}
	else if ((c == 'u' || c == 'U') && c1 == '&' && p + 2 < n &&
			 s[p + 2] == '"' && scan_quoted(s, n, p + 2) > 0)
	{
		p = scan_quoted(s, n, p + 2);
		type = QT_QIDENT;
	}
	else if ((c == '"' || c == '`') && scan_quoted(s, n, p) > 0)
	{
		p = scan_quoted(s, n, p);
		type = QT_QIDENT;
	}
	else if (c == '$' && is_digit(c1))
	{
		p++;
		while (p < n && is_digit(s[p]))
			p++;
		type = QT_PARAM;
	}
	else if (c == '$' && scan_dollar(s, n, p) > 0)
	{
		p = scan_dollar(s, n, p);
		type = QT_STRING;
	}
	else if (is_digit(c) || (c == '.' && is_digit(c1)))
	{
		p = scan_number(s, n, p);
		type = QT_NUMBER;
	}
	else if (is_ident_start(c))
	{
		while (p < n && is_ident_cont(s[p]))
			p++;
		type = QT_WORD;
	}
	else
	{
		p++;
		switch (c)
		{
			case '(':
				type = QT_LPAREN;
				break;
			case ')':
				type = QT_RPAREN;
				break;
			case ',':
				type = QT_COMMA;
				break;
			case '.':
				type = QT_DOT;
				break;
			case ';':
				type = QT_SEMI;
				break;
			default:
				type = QT_OP;
				break;
		}
	}
	t->type = type;
	t->len = p - t->start;
	lx->pos = p;
}

/* Next token that is neither blank nor a comment. */
static void
lex_sig(QLexer *lx, QToken *t)
{
	do
		lex_next(lx, t);
	while (t->type == QT_SPACE || t->type == QT_COMMENT);
}

static void
peek_sig(const QLexer *lx, QToken *t)
{
	QLexer		copy = *lx;

	lex_sig(&copy, t);
}

static bool
tok_is(const QLexer *lx, const QToken *t, const char *word)
{
	return t->type == QT_WORD && t->len == (int) strlen(word) &&
		pg_strncasecmp(lx->s + t->start, word, t->len) == 0;
}

static bool
tok_in(const QLexer *lx, const QToken *t, const char *const *words)
{
	if (t->type != QT_WORD)
		return false;
	for (; *words; words++)
		if (tok_is(lx, t, *words))
			return true;
	return false;
}

/* Consume the next significant token if it is one of words. */
static bool
accept_any(QLexer *lx, const char *const *words)
{
	QLexer		copy = *lx;
	QToken		t;

	lex_sig(&copy, &t);
	if (!tok_in(lx, &t, words))
		return false;
	*lx = copy;
	return true;
}

/* Consume the next significant token if it is word. */
static bool
accept_word(QLexer *lx, const char *word)
{
	const char *const words[] = {word, NULL};

	return accept_any(lx, words);
}

/* After an opening parenthesis: consume up to its matching one. */
static void
skip_parens(QLexer *lx)
{
	int			depth = 1;
	QToken		t;

	while (depth > 0)
	{
		lex_sig(lx, &t);
		if (t.type == QT_EOF)
			return;
		if (t.type == QT_LPAREN)
			depth++;
		else if (t.type == QT_RPAREN)
			depth--;
	}
}

/* If a parenthesised group comes next, consume it. */
static void
skip_paren_group(QLexer *lx)
{
	QToken		t;

	peek_sig(lx, &t);
	if (t.type == QT_LPAREN)
	{
		lex_sig(lx, &t);
		skip_parens(lx);
	}
}

/* ----------------------------------------------------------------
 * Sanitising
 * ----------------------------------------------------------------
 */

/*
 * Words after which a sign is unary, e.g. "SELECT -1", "WHERE -x < 3",
 * "DEFAULT -1".  After any other word (a column, a function) it is binary.
 */
static const char *const unary_after[] = {
	"all", "and", "any", "as", "between", "by", "case", "default", "distinct",
	"else", "from", "having", "ilike", "in", "increment", "is", "like",
	"limit", "maxvalue", "minvalue", "not", "offset", "on", "or", "return",
	"returning", "select", "set", "similar", "some", "start", "then", "to",
	"values", "when", "where", "with", NULL
};

static const char *const boolean_words[] = {"true", "false", NULL};

/*
 * Is a '+' or '-' after prev the sign of the number that follows it?  With
 * '?' placeholders a sign after another literal is taken as well, which
 * turns "99+100" into "??" as the OpenTelemetry test vectors expect; with
 * $n it stays an operator ("$1+$2"), as in pg_stat_statements.
 */
static bool
sign_is_unary(const QLexer *lx, const QToken *prev, bool numbered)
{
	switch (prev->type)
	{
		case QT_NUMBER:
		case QT_STRING:
			return !numbered;
		case QT_WORD:
			if (tok_in(lx, prev, boolean_words))
				return !numbered;
			return tok_in(lx, prev, unary_after);
		case QT_QIDENT:
		case QT_PARAM:
		case QT_RPAREN:
			return false;
		case QT_OP:
			return lx->s[prev->start] != ']';
		default:
			return true;
	}
}

/* ----------------------------------------------------------------
 * Statement shapes
 * ----------------------------------------------------------------
 */

/*
 * Magnitude class of an unsigned decimal integer literal, the way
 * PostgreSQL 15 types it: int4 if it fits, else int8, else numeric; and
 * 9223372036854775808 on its own, which is numeric but int8 once negated.
 */
static char
integer_kind(const char *d, int n)
{
	while (n > 1 && d[0] == '0')
		d++, n--;
	if (n < 10 || (n == 10 && memcmp(d, "2147483647", 10) <= 0))
		return OTEL_SHAPE_INT4;
	if (n < 19 || (n == 19 && memcmp(d, "9223372036854775807", 19) <= 0))
		return OTEL_SHAPE_INT8;
	if (n == 19 && memcmp(d, "9223372036854775808", 19) == 0)
		return OTEL_SHAPE_INT8_EDGE;
	return OTEL_SHAPE_NUMERIC;
}

/* Past a B'..' or X'..' body opened at s[q]: these know no escapes. */
static int
scan_bits(const char *s, int n, int q)
{
	const char *e = memchr(s + q + 1, '\'', n - q - 1);

	return e ? (int) (e - s) + 1 : -1;
}

/*
 * Keywords around column positions: sets *by for BY, true for the others.
 * The first letter decides before any comparison: most words are none.
 */
static inline bool
position_keyword(const char *w, int n, bool *by)
{
	char		c = w[0] | 0x20;	/* ASCII lower case */

	switch (n)
	{
		case 2:
			*by = c == 'b' && (w[1] | 0x20) == 'y';
			return false;
		case 5:
			return (c == 'o' && pg_strncasecmp(w, "order", 5) == 0) ||
				(c == 'g' && pg_strncasecmp(w, "group", 5) == 0);
		case 8:
			return c == 'd' && pg_strncasecmp(w, "distinct", 8) == 0;
	}
	return false;
}

/* byte classes for the shape's scan */
#define SC_WORD		0x01		/* continues a word: letters, digits, _, $, >= 0x80 */
#define SC_START	0x02		/* starts a word */
#define SC_SPACE	0x04
static uint8 shape_class[256];

static void
shape_class_init(void)
{
	for (int c = 0; c < 256; c++)
		shape_class[c] = (is_ident_start(c) ? SC_START | SC_WORD : 0) |
			(is_ident_cont(c) ? SC_WORD : 0) |
			(is_space(c) ? SC_SPACE : 0);
}

/*
 * One pass; bytes that stay as they are (words, blanks, operators) are
 * copied in runs, when a constant or a comment ends the run.
 */
int
otel_query_shape(const char *s, int n, bool backslash_quotes, char *out, int cap)
{
	int			p = 0;
	int			o = 0;
	int			from = 0;		/* s[from, p) is still to be copied */
	bool		clause_kw = false;	/* ORDER, GROUP or DISTINCT seen */
	bool		maybe_position = false; /* integer after BY, ',' or '(' */
	char		prev = 0;		/* last significant token: 'b' BY, ',', '(' */

#define SHAPE_FLUSH() \
	do { \
		if (p - from > cap - o) \
			return -1; \
		memcpy(out + o, s + from, p - from); \
		o += p - from; \
	} while (0)
#define SHAPE_PUT(c) \
	do { if (o >= cap) return -1; out[o++] = (char) (c); } while (0)

	if (shape_class['a'] == 0)
		shape_class_init();

	while (p < n)
	{
		unsigned char c = s[p];
		unsigned char c1;
		char		last = prev;
		int			q;

		if (shape_class[c] & SC_SPACE)
		{
			p++;
			continue;
		}
		c1 = p + 1 < n ? s[p + 1] : '\0';
		if (shape_class[c] & SC_START)
		{
			bool		by = false;

			for (q = p + 1; q < n && (shape_class[(unsigned char) s[q]] & SC_WORD); q++)
				;
			prev = 'x';
			if (q == p + 1 && (c1 == '\'' || c1 == '&'))
			{
				/* maybe a prefixed string: the prefix stays */
				p++;
				SHAPE_FLUSH();
				if (c1 == '\'' && strchr("bBxX", c))
				{
					if ((p = scan_bits(s, n, p)) < 0)
						return -1;
					SHAPE_PUT(OTEL_SHAPE_STRING);
				}
				else if (c1 == '\'' && strchr("eEnN", c))
				{
					p = scan_string(s, n, p,
									c == 'e' || c == 'E' || backslash_quotes);
					SHAPE_PUT(OTEL_SHAPE_STRING);
				}
				else if (c1 == '&' && (c == 'u' || c == 'U') && p + 1 < n &&
						 s[p + 1] == '\'')
				{
					SHAPE_PUT('&');
					p = scan_string(s, n, p + 1, false);
					SHAPE_PUT(OTEL_SHAPE_STRING);
				}
				from = p;		/* U&"..." and anything else: as it is */
				continue;
			}
			if (position_keyword(s + p, q - p, &by))
				clause_kw = true;
			else if (by)
				prev = 'b';
			p = q;
			continue;
		}

		prev = 'x';
		switch (c)
		{
			case '-':
			case '/':
				if ((c == '-' && c1 == '-') || (c == '/' && c1 == '*'))
				{
					prev = last;	/* a comment is a blank */
					SHAPE_FLUSH();
					if (c == '-')
					{
						while (p < n && s[p] != '\n' && s[p] != '\r')
							p++;
					}
					else
					{
						int			depth = 1;

						p += 2;
						while (depth > 0)
						{
							if (p + 1 >= n)
								return -1;	/* unterminated: not parsed */
							if (s[p] == '/' && s[p + 1] == '*')
								depth++, p += 2;
							else if (s[p] == '*' && s[p + 1] == '/')
								depth--, p += 2;
							else
								p++;
						}
					}
					SHAPE_PUT(' ');
					from = p;
				}
				else
					p++;
				break;
			case '\'':
				SHAPE_FLUSH();
				p = scan_string(s, n, p, backslash_quotes);
				SHAPE_PUT(OTEL_SHAPE_STRING);
				from = p;
				break;
			case '"':
				if ((p = scan_quoted(s, n, p)) < 0)
					return -1;
				break;
			case '$':
				if (is_digit(c1))
				{
					for (p++; p < n && is_digit(s[p]); p++)
						;
					break;
				}
				SHAPE_FLUSH();
				if ((p = scan_dollar(s, n, p)) < 0)
					return -1;
				SHAPE_PUT(OTEL_SHAPE_DOLLAR);
				from = p;
				break;
			case ',':
			case '(':
				prev = (char) c;
				p++;
				break;
			default:
				if (is_digit(c) || (c == '.' && is_digit(c1)))
				{
					int			start = p;
					bool		integer = true;

					SHAPE_FLUSH();
					while (p < n && is_digit(s[p]))
						p++;
					if (p < n && s[p] == '.' && !(p + 1 < n && s[p + 1] == '.'))
					{
						integer = false;
						for (p++; p < n && is_digit(s[p]); p++)
							;
					}
					if (p < n && (s[p] == 'e' || s[p] == 'E'))
					{
						q = p + 1;
						if (q < n && (s[q] == '+' || s[q] == '-'))
							q++;
						if (q < n && is_digit(s[q]))
						{
							integer = false;
							for (p = q; p < n && is_digit(s[p]); p++)
								;
						}
					}
					/* junk after a number is an error in PostgreSQL 15 */
					if (p < n && is_ident_start(s[p]))
						return -1;
					if (!integer)
						SHAPE_PUT(OTEL_SHAPE_NUMERIC);
					else
					{
						SHAPE_PUT(integer_kind(s + start, p - start));
						if (last == 'b' || last == ',' || last == '(')
							maybe_position = true;
					}
					from = p;
				}
				else
					p++;
				break;
		}
	}
	SHAPE_FLUSH();
#undef SHAPE_FLUSH
#undef SHAPE_PUT

	/* ORDER BY 1, GROUP BY 1, DISTINCT ON (1): positions, not constants */
	if (clause_kw && maybe_position)
		return -1;
	return o;
}

/* Highest $n already in the text, so that new numbers follow it. */
static int
max_param(const char *query, int len)
{
	QLexer		lx;
	QToken		t;
	int			max = 0;

	lex_init(&lx, query, len);
	for (lex_next(&lx, &t); t.type != QT_EOF; lex_next(&lx, &t))
	{
		int			v = 0;
		int			i;

		if (t.type != QT_PARAM)
			continue;
		for (i = 1; i < t.len && v < PG_INT32_MAX / 10 - 10; i++)
			v = v * 10 + (query[t.start + i] - '0');
		max = Max(max, v);
	}
	return max;
}

char *
otel_query_sanitise(const char *query, int len, char placeholder,
					int *out_len)
{
	bool		numbered = (placeholder != '?');
	int			param = 0;
	QLexer		lx;
	QToken		t;
	QToken		prev;
	StringInfoData buf;

	if (query == NULL || len < 0)
		len = 0;
	if (numbered)
		param = max_param(query, len);

	initStringInfo(&buf);
	enlargeStringInfo(&buf, len + 16);
	lex_init(&lx, query, len);
	prev.type = QT_EOF;
	prev.start = prev.len = 0;

	for (;;)
	{
		bool		literal = false;

		lex_next(&lx, &t);
		if (t.type == QT_EOF)
			break;
		switch (t.type)
		{
			case QT_COMMENT:
				continue;
			case QT_SPACE:
				appendBinaryStringInfo(&buf, query + t.start, t.len);
				continue;
			case QT_STRING:
			case QT_NUMBER:
				literal = true;
				break;
			case QT_WORD:
				literal = tok_in(&lx, &t, boolean_words);
				break;
			case QT_OP:
				if ((query[t.start] == '+' || query[t.start] == '-') &&
					lx.pos < len &&
					(is_digit(query[lx.pos]) ||
					 (query[lx.pos] == '.' && lx.pos + 1 < len &&
					  is_digit(query[lx.pos + 1]))) &&
					sign_is_unary(&lx, &prev, numbered))
				{
					lex_next(&lx, &t);	/* the number: one literal with it */
					literal = true;
				}
				break;
			default:
				break;
		}
		if (!literal)
			appendBinaryStringInfo(&buf, query + t.start, t.len);
		else if (numbered)
			appendStringInfo(&buf, "$%d", param < PG_INT32_MAX ? ++param : param);
		else
			appendStringInfoChar(&buf, placeholder);
		prev = t;
	}

	*out_len = buf.len;
	return buf.data;
}

/* ----------------------------------------------------------------
 * Statement heads: which operation a statement performs
 * ----------------------------------------------------------------
 */

typedef enum HeadKind
{
	HK_NONE,					/* nothing we recognise */
	HK_DML,						/* SELECT, INSERT, ..., WITH, "(": nothing consumed */
	HK_SIMPLE,					/* the operation says it all */
	HK_OBJECT,					/* CREATE/ALTER/DROP/... object-type name */
	HK_NAMES,					/* TRUNCATE, VACUUM, ...: list of relations */
	HK_CALL,					/* CALL procedure */
	HK_COPY,					/* COPY relation | COPY (query) */
	HK_PREFIX					/* EXPLAIN, PREPARE, DECLARE: a statement follows */
} HeadKind;

#define HEAD_MAX_WORDS 4

typedef struct Head
{
	HeadKind	kind;
	int			nwords;
	QToken		words[HEAD_MAX_WORDS];
	bool		query_follows;	/* CREATE TABLE/VIEW: may end in AS query */
	bool		name_list;		/* DROP: several names */
} Head;

static const char *const dml_words[] = {
	"select", "insert", "update", "delete", "merge", "with", "values", "table",
	NULL
};

static const char *const simple_words[] = {
	"abort", "begin", "checkpoint", "close", "comment", "deallocate", "discard",
	"do", "end", "execute", "fetch", "grant", "listen", "load", "move", "notify",
	"release", "reset", "revoke", "savepoint", "set", "show", "unlisten", NULL
};

static const char *const names_words[] = {
	"analyse", "analyze", "cluster", "lock", "truncate", "vacuum", NULL
};

/* Skipped between CREATE and the object type. */
static const char *const create_modifiers[] = {
	"or", "replace", "temp", "temporary", "unlogged", "global", "local",
	"unique", "recursive", "trusted", "procedural", NULL
};

/* Object types, longest first where one is a prefix of another. */
static const char *const object_types[] = {
	"text search configuration", "text search dictionary", "text search parser",
	"text search template", "foreign data wrapper", "foreign table",
	"materialized view", "event trigger", "constraint trigger", "user mapping",
	"access method", "operator class", "operator family", "default privileges",
	"large object", "aggregate", "cast", "collation", "conversion", "database",
	"domain", "extension", "function", "group", "index", "language", "operator",
	"owned", "policy", "procedure", "publication", "role", "routine", "rule",
	"schema", "sequence", "server", "statistics", "subscription", "system",
	"table", "tablespace", "transform", "trigger", "type", "user", "view",
	NULL
};

static const char *const reindex_types[] = {
	"index", "table", "schema", "database", "system", NULL
};

static void
head_add(Head *h, const QToken *t)
{
	if (h->nwords < HEAD_MAX_WORDS)
		h->words[h->nwords++] = *t;
}

/* Consume the next word into h if it is one of words. */
static bool
head_accept(QLexer *lx, Head *h, const char *const *words)
{
	QLexer		copy = *lx;
	QToken		t;

	lex_sig(&copy, &t);
	if (!tok_in(lx, &t, words))
		return false;
	head_add(h, &t);
	*lx = copy;
	return true;
}

/* Consume the next word into h if it is word. */
static bool
head_accept1(QLexer *lx, Head *h, const char *word)
{
	const char *const words[] = {word, NULL};

	return head_accept(lx, h, words);
}

/* The object type after CREATE/ALTER/DROP: up to three words into h. */
static bool
head_object_type(QLexer *lx, Head *h)
{
	const char *const *type;

	for (type = object_types; *type; type++)
	{
		QLexer		copy = *lx;
		QToken		got[3];
		int			ngot = 0;
		const char *w = *type;

		while (*w && ngot < 3)
		{
			const char *end = strchr(w, ' ');
			int			wlen = end ? (int) (end - w) : (int) strlen(w);
			QToken		t;

			lex_sig(&copy, &t);
			if (t.type != QT_WORD || t.len != wlen ||
				pg_strncasecmp(copy.s + t.start, w, wlen) != 0)
				break;
			got[ngot++] = t;
			w += wlen;
			if (*w == ' ')
				w++;
		}
		if (*w == '\0')
		{
			int			i;

			for (i = 0; i < ngot; i++)
				head_add(h, &got[i]);
			*lx = copy;
			return true;
		}
	}
	return false;
}

/*
 * Recognise the statement starting with first (already consumed) and
 * consume its operation words.  For HK_DML nothing more is consumed.
 */
static void
parse_head(QLexer *lx, const QToken *first, Head *h)
{
	memset(h, 0, sizeof(Head));
	h->kind = HK_NONE;

	if (first->type == QT_LPAREN || tok_in(lx, first, dml_words))
	{
		h->kind = HK_DML;
		head_add(h, first);
		return;
	}
	if (first->type != QT_WORD)
		return;
	head_add(h, first);

	if (tok_is(lx, first, "create") || tok_is(lx, first, "alter") ||
		tok_is(lx, first, "drop"))
	{
		if (tok_is(lx, first, "create"))
			while (accept_any(lx, create_modifiers))
				;
		if (!head_object_type(lx, h))
		{
			h->kind = HK_SIMPLE;
			return;
		}
		h->kind = HK_OBJECT;
		if (tok_is(lx, first, "create"))
		{
			const QToken *type = &h->words[1];

			h->query_follows = (tok_is(lx, type, "table") ||
								tok_is(lx, type, "view") ||
								tok_is(lx, type, "materialized"));
		}
		h->name_list = tok_is(lx, first, "drop");
	}
	else if (tok_is(lx, first, "reindex"))
	{
		skip_paren_group(lx);
		h->kind = head_accept(lx, h, reindex_types) ? HK_OBJECT : HK_SIMPLE;
	}
	else if (tok_is(lx, first, "refresh"))
	{
		h->kind = (head_accept1(lx, h, "materialized") &&
				   head_accept1(lx, h, "view")) ? HK_OBJECT : HK_SIMPLE;
	}
	else if (tok_in(lx, first, names_words))
		h->kind = HK_NAMES;
	else if (tok_is(lx, first, "call"))
		h->kind = HK_CALL;
	else if (tok_is(lx, first, "copy"))
		h->kind = HK_COPY;
	else if (tok_is(lx, first, "explain") || tok_is(lx, first, "declare"))
		h->kind = HK_PREFIX;
	else if (tok_is(lx, first, "prepare"))
		h->kind = head_accept1(lx, h, "transaction") ? HK_SIMPLE : HK_PREFIX;
	else if (tok_is(lx, first, "start"))
	{
		head_accept1(lx, h, "transaction");
		h->kind = HK_SIMPLE;
	}
	else if (tok_is(lx, first, "commit") || tok_is(lx, first, "rollback"))
	{
		head_accept1(lx, h, "prepared");
		h->kind = HK_SIMPLE;
	}
	else if (tok_is(lx, first, "security"))
	{
		head_accept1(lx, h, "label");
		h->kind = HK_SIMPLE;
	}
	else if (tok_is(lx, first, "import"))
	{
		if (head_accept1(lx, h, "foreign"))
			head_accept1(lx, h, "schema");
		h->kind = HK_SIMPLE;
	}
	else if (tok_is(lx, first, "reassign"))
	{
		head_accept1(lx, h, "owned");
		h->kind = HK_SIMPLE;
	}
	else if (tok_in(lx, first, simple_words))
		h->kind = HK_SIMPLE;
	else
		h->nwords = 0;
}

/* ----------------------------------------------------------------
 * Summary
 * ----------------------------------------------------------------
 */

#define SUMMARY_MAX 255

/* The summary, or one part of it (an operation or a target). */
typedef struct SumBuf
{
	char		data[SUMMARY_MAX + 1];
	int			len;
	bool		full;			/* something did not fit */
} SumBuf;

static void
sumbuf_append(SumBuf *b, const char *sep, const char *s, int n)
{
	int			seplen = b->len > 0 ? (int) strlen(sep) : 0;

	if (b->full || n <= 0)
		return;
	if (b->len + seplen + n > SUMMARY_MAX)
	{
		b->full = true;
		return;
	}
	memcpy(b->data + b->len, sep, seplen);
	memcpy(b->data + b->len + seplen, s, n);
	b->len += seplen + n;
}

/* Add a whole part to the summary, or stop adding once one does not fit. */
static void
sum_add_part(SumBuf *sum, const SumBuf *part)
{
	if (part->full)
		sum->full = true;
	else
		sumbuf_append(sum, " ", part->data, part->len);
}

static void
sum_add_head(SumBuf *sum, const QLexer *lx, const Head *h)
{
	SumBuf		part;
	int			i;

	part.len = 0;
	part.full = false;
	for (i = 0; i < h->nwords; i++)
		sumbuf_append(&part, " ", lx->s + h->words[i].start, h->words[i].len);
	sum_add_part(sum, &part);
}

/* Words that cannot be (the start of) an unquoted table name or alias. */
static const char *const reserved[] = {
	"all", "and", "any", "as", "asc", "between", "by", "case", "conflict",
	"cross", "default", "delete", "desc", "distinct", "do", "else", "end",
	"except", "fetch", "for", "from", "full", "group", "having", "if", "ilike",
	"in", "inner", "insert", "intersect", "into", "is", "join", "lateral",
	"left", "like", "limit", "merge", "natural", "not", "null", "offset", "on",
	"only", "or", "order", "outer", "overriding", "returning", "right",
	"select", "set", "similar", "tablesample", "then", "to", "union",
	"update", "using", "values", "when", "where", "window", "with", "without",
	NULL
};

static const char *const join_modifiers[] = {
	"inner", "left", "right", "full", "outer", "cross", "natural", NULL
};

/* Words that end a join condition (and with it the FROM clause). */
static const char *const from_enders[] = {
	"do", "except", "fetch", "for", "group", "having", "intersect", "limit",
	"offset", "order", "returning", "set", "then", "union", "values", "when",
	"where", "window", NULL
};

/*
 * If t (just consumed from lx) is one component of a name, append it to
 * part and return true: an unquoted non-reserved word, a "quoted" or
 * `quoted` identifier, a [bracketed] one (consumed up to its ']'), or
 * (as in the conventions' examples) a 'quoted' one.
 */
static bool
read_name_part(QLexer *lx, const QToken *t, SumBuf *part)
{
	const char *s = lx->s;

	if ((t->type == QT_WORD && !tok_in(lx, t, reserved)) ||
		t->type == QT_QIDENT ||
		(t->type == QT_STRING && s[t->start] == '\''))
		sumbuf_append(part, ".", s + t->start, t->len);
	else if (t->type == QT_OP && s[t->start] == '[')
	{
		const char *close = memchr(s + lx->pos, ']', lx->len - lx->pos);

		if (close == NULL)
			return false;
		sumbuf_append(part, ".", s + t->start, (int) (close - s) + 1 - t->start);
		lx->pos = (int) (close - s) + 1;
	}
	else
		return false;
	return true;
}

/*
 * If t (just consumed from lx) starts a name, read the whole dotted name
 * into part, consuming its tokens, and return true.
 */
static bool
read_name(QLexer *lx, const QToken *t, SumBuf *part)
{
	part->len = 0;
	part->full = false;

	if (!read_name_part(lx, t, part))
		return false;
	for (;;)
	{
		QLexer		copy = *lx;
		QToken		dot;
		QToken		next;

		lex_sig(&copy, &dot);
		if (dot.type != QT_DOT)
			break;
		lex_sig(&copy, &next);
		if (!read_name_part(&copy, &next, part))
			break;
		*lx = copy;
	}
	return true;
}

/* Where a FROM-like clause is at one parenthesis level. */
typedef enum FromState
{
	FS_NONE,
	FS_TARGET,					/* a single target comes next (INTO, UPDATE) */
	FS_FROM,					/* a relation in a FROM list comes next */
	FS_AFTER,					/* after a relation: alias, ',' or JOIN */
	FS_ALIASED,					/* after its alias: ',' or JOIN */
	FS_JOINCOND					/* in JOIN's ON/USING: ',' or JOIN */
} FromState;

/* What statement a parenthesis level belongs to, for FROM/JOIN/INTO/USING. */
typedef enum LevelKind
{
	LK_NONE,
	LK_SELECT,
	LK_INSERT,
	LK_UPDATE,
	LK_DELETE,
	LK_MERGE,
	LK_FROM						/* parenthesised FROM item */
} LevelKind;

#define SUM_MAX_DEPTH 32

typedef struct SumState
{
	QLexer		lx;
	SumBuf		sum;
	int			depth;
	FromState	fs[SUM_MAX_DEPTH];
	LevelKind	kind[SUM_MAX_DEPTH];
	QToken		prev;
} SumState;

static void
sum_reset(SumState *st)
{
	st->depth = 0;
	st->fs[0] = FS_NONE;
	st->kind[0] = LK_NONE;
	st->prev.type = QT_EOF;
}

/*
 * A DML keyword that is part of another clause: FOR [NO KEY] UPDATE,
 * ON DELETE/UPDATE (foreign keys), ON CONFLICT DO UPDATE, MERGE's
 * THEN UPDATE/DELETE/INSERT.
 */
static bool
dml_word_is_clause(SumState *st)
{
	static const char *const after[] = {
		"for", "key", "on", "do", "then", "or", "before", "after", "instead",
		NULL
	};

	return tok_in(&st->lx, &st->prev, after);
}

static void
sum_word(SumState *st, const QToken *t)
{
	QLexer	   *lx = &st->lx;
	int			d = Min(st->depth, SUM_MAX_DEPTH - 1);
	LevelKind	k = st->kind[d];
	LevelKind	op = LK_NONE;
	SumBuf		part;

	if (tok_is(lx, t, "select"))
		op = LK_SELECT;
	else if (tok_is(lx, t, "insert"))
		op = LK_INSERT;
	else if (tok_is(lx, t, "update"))
		op = LK_UPDATE;
	else if (tok_is(lx, t, "delete"))
		op = LK_DELETE;
	else if (tok_is(lx, t, "merge"))
		op = LK_MERGE;

	if (op != LK_NONE)
	{
		st->fs[d] = FS_NONE;
		if (dml_word_is_clause(st))
			return;
		sumbuf_append(&st->sum, " ", lx->s + t->start, t->len);
		st->kind[d] = op;
		if (op == LK_UPDATE)
			st->fs[d] = FS_TARGET;
		return;
	}

	if (tok_is(lx, t, "from"))
	{
		st->fs[d] = ((k == LK_SELECT || k == LK_UPDATE || k == LK_DELETE) &&
					 !tok_is(lx, &st->prev, "distinct")) ? FS_FROM : FS_NONE;
		return;
	}
	if (tok_is(lx, t, "join"))
	{
		st->fs[d] = (k == LK_SELECT || k == LK_UPDATE || k == LK_DELETE ||
					 k == LK_FROM) ? FS_FROM : FS_NONE;
		return;
	}
	if (tok_is(lx, t, "into"))
	{
		st->fs[d] = (k == LK_INSERT || k == LK_MERGE) ? FS_TARGET : FS_NONE;
		return;
	}
	if (tok_is(lx, t, "using"))
	{
		QToken		next;

		/* DELETE's USING list, MERGE's source, or JOIN ... USING (cols) */
		peek_sig(lx, &next);
		if (next.type == QT_LPAREN && st->fs[d] != FS_NONE && k != LK_MERGE)
			st->fs[d] = FS_JOINCOND;
		else
			st->fs[d] = (k == LK_MERGE || k == LK_DELETE) ? FS_FROM : FS_NONE;
		return;
	}
	if (tok_is(lx, t, "on") &&
		(st->fs[d] == FS_AFTER || st->fs[d] == FS_ALIASED))
	{
		st->fs[d] = FS_JOINCOND;
		return;
	}
	/* TABLE x and VALUES as whole statements */
	if (st->prev.type == QT_EOF &&
		(tok_is(lx, t, "table") || tok_is(lx, t, "values")))
	{
		sumbuf_append(&st->sum, " ", lx->s + t->start, t->len);
		st->fs[d] = tok_is(lx, t, "table") ? FS_TARGET : FS_NONE;
		return;
	}

	switch (st->fs[d])
	{
		case FS_TARGET:
		case FS_FROM:
			if (tok_is(lx, t, "only") || tok_is(lx, t, "lateral"))
				return;
			if (!read_name(lx, t, &part))
				st->fs[d] = FS_NONE;
			else if (st->fs[d] == FS_FROM)
			{
				QToken		next;

				/* a function in FROM is no collection */
				peek_sig(lx, &next);
				if (next.type != QT_LPAREN)
					sum_add_part(&st->sum, &part);
				st->fs[d] = FS_AFTER;
			}
			else
			{
				sum_add_part(&st->sum, &part);
				st->fs[d] = FS_NONE;
			}
			break;
		case FS_AFTER:
			if (tok_is(lx, t, "as") || tok_in(lx, t, join_modifiers))
				break;
			st->fs[d] = tok_in(lx, t, reserved) ? FS_NONE : FS_ALIASED;
			break;
		case FS_ALIASED:
			if (!tok_in(lx, t, join_modifiers))
				st->fs[d] = FS_NONE;
			break;
		case FS_JOINCOND:
			if (tok_in(lx, t, from_enders))
				st->fs[d] = FS_NONE;
			break;
		case FS_NONE:
			break;
	}
}

/* One token of a DML statement (or of what follows CREATE TABLE name). */
static void
sum_dml(SumState *st, const QToken *t)
{
	int			d = Min(st->depth, SUM_MAX_DEPTH - 1);
	SumBuf		part;

	switch (t->type)
	{
		case QT_LPAREN:
			{
				bool		from_item = (st->fs[d] == FS_FROM);
				int			nd;

				if (from_item)
					st->fs[d] = FS_AFTER;	/* alias, ',' or JOIN may follow */
				else if (st->fs[d] == FS_TARGET)
					st->fs[d] = FS_NONE;
				st->depth++;
				nd = Min(st->depth, SUM_MAX_DEPTH - 1);
				/* a subquery (its SELECT resets this) or a joined table */
				st->fs[nd] = from_item ? FS_FROM : FS_NONE;
				st->kind[nd] = from_item ? LK_FROM : LK_NONE;
				break;
			}
		case QT_RPAREN:
			if (st->depth > 0)
				st->depth--;
			break;
		case QT_COMMA:
			if (st->fs[d] == FS_AFTER || st->fs[d] == FS_ALIASED ||
				st->fs[d] == FS_JOINCOND)
				st->fs[d] = FS_FROM;
			break;
		case QT_WORD:
			sum_word(st, t);
			break;
		case QT_QIDENT:
		case QT_STRING:
		case QT_OP:
			if (st->fs[d] == FS_FROM || st->fs[d] == FS_TARGET)
			{
				if (read_name(&st->lx, t, &part))
				{
					sum_add_part(&st->sum, &part);
					st->fs[d] = st->fs[d] == FS_FROM ? FS_AFTER : FS_NONE;
				}
			}
			else if (st->fs[d] == FS_AFTER && t->type == QT_QIDENT)
				st->fs[d] = FS_ALIASED;
			break;
		default:
			break;
	}
	st->prev = *t;
}

/* After an object type: IF [NOT] EXISTS, then the name(s). */
static void
sum_object_names(SumState *st, bool list)
{
	QLexer	   *lx = &st->lx;

	do
	{
		QLexer		copy;
		QToken		t;
		SumBuf		part;

		for (;;)
		{
			if (accept_word(lx, "if"))
			{
				accept_word(lx, "not");
				accept_word(lx, "exists");
			}
			else if (!accept_word(lx, "concurrently") &&
					 !accept_word(lx, "only"))
				break;
		}
		copy = *lx;
		lex_sig(&copy, &t);
		if (!read_name(&copy, &t, &part))
			return;
		*lx = copy;
		sum_add_part(&st->sum, &part);
		if (!list)
			return;
		copy = *lx;
		lex_sig(&copy, &t);
		if (t.type != QT_COMMA)
			return;
		*lx = copy;
	} while (true);
}

/* TRUNCATE, VACUUM, ANALYZE, LOCK, CLUSTER: options, then relations. */
static void
sum_relation_list(SumState *st)
{
	static const char *const options[] = {
		"table", "only", "full", "freeze", "verbose", "analyze", "analyse", NULL
	};
	QLexer	   *lx = &st->lx;

	skip_paren_group(lx);
	for (;;)
	{
		QLexer		copy = *lx;
		QToken		t;
		SumBuf		part;

		lex_sig(&copy, &t);
		if (tok_in(lx, &t, options))
		{
			*lx = copy;
			continue;
		}
		if (!read_name(&copy, &t, &part))
			return;
		*lx = copy;
		sum_add_part(&st->sum, &part);

		/* inheritance star, column list, then maybe another relation */
		copy = *lx;
		lex_sig(&copy, &t);
		if (t.type == QT_OP && lx->s[t.start] == '*')
		{
			*lx = copy;
			lex_sig(&copy, &t);
		}
		if (t.type == QT_LPAREN)
		{
			*lx = copy;
			skip_parens(lx);
			copy = *lx;
			lex_sig(&copy, &t);
		}
		if (t.type != QT_COMMA)
			return;
		*lx = copy;
	}
}

/* Consume up to and including the word at parenthesis level 0. */
static void
skip_to_word(QLexer *lx, const char *word)
{
	QToken		t;

	for (;;)
	{
		QLexer		copy = *lx;

		lex_sig(&copy, &t);
		if (t.type == QT_EOF || t.type == QT_SEMI)
			return;				/* leave ';' to the caller */
		*lx = copy;
		if (t.type == QT_LPAREN)
			skip_parens(lx);
		else if (tok_is(lx, &t, word))
			return;
	}
}

typedef enum SumMode
{
	SM_START,					/* at the start of a statement */
	SM_DML,
	SM_SKIP						/* ignore the rest of the statement */
} SumMode;

/* The head of a statement (first consumed): what to summarise next. */
static SumMode
sum_head(SumState *st, const QToken *first)
{
	QLexer	   *lx = &st->lx;
	Head		h;
	QToken		t;
	SumBuf		part;

	parse_head(lx, first, &h);
	switch (h.kind)
	{
		case HK_NONE:
			return SM_SKIP;
		case HK_DML:
			return SM_DML;		/* the caller replays first */
		case HK_SIMPLE:
			sum_add_head(&st->sum, lx, &h);
			return SM_SKIP;
		case HK_OBJECT:
			sum_add_head(&st->sum, lx, &h);
			sum_object_names(st, h.name_list);
			return h.query_follows ? SM_DML : SM_SKIP;
		case HK_NAMES:
			sum_add_head(&st->sum, lx, &h);
			sum_relation_list(st);
			return SM_SKIP;
		case HK_CALL:
			sum_add_head(&st->sum, lx, &h);
			lex_sig(lx, &t);
			if (read_name(lx, &t, &part))
				sum_add_part(&st->sum, &part);
			return SM_SKIP;
		case HK_COPY:
			sum_add_head(&st->sum, lx, &h);
			peek_sig(lx, &t);
			if (t.type == QT_LPAREN)
				return SM_DML;
			lex_sig(lx, &t);
			if (read_name(lx, &t, &part))
				sum_add_part(&st->sum, &part);
			return SM_SKIP;
		case HK_PREFIX:
			sum_add_head(&st->sum, lx, &h);
			if (tok_is(lx, first, "explain"))
			{
				skip_paren_group(lx);
				while (accept_word(lx, "analyze") || accept_word(lx, "analyse") ||
					   accept_word(lx, "verbose"))
					;
			}
			else if (tok_is(lx, first, "prepare"))
				skip_to_word(lx, "as");
			else
				skip_to_word(lx, "for");
			return SM_START;
	}
	return SM_SKIP;
}

char *
otel_query_summary(const char *query, int len)
{
	SumState	st;
	SumMode		mode = SM_START;
	QToken		t;

	if (query == NULL || len < 0)
		len = 0;
	lex_init(&st.lx, query, len);
	st.sum.len = 0;
	st.sum.full = false;
	sum_reset(&st);

	while (!st.sum.full)
	{
		lex_sig(&st.lx, &t);
		if (t.type == QT_EOF)
			break;
		if (t.type == QT_SEMI)
		{
			mode = SM_START;
			sum_reset(&st);
			continue;
		}
		switch (mode)
		{
			case SM_START:
				mode = sum_head(&st, &t);
				/* a DML statement starts with t; CREATE TABLE x, COPY don't */
				if (mode == SM_DML &&
					(t.type == QT_LPAREN || tok_in(&st.lx, &t, dml_words)))
					sum_dml(&st, &t);
				break;
			case SM_DML:
				sum_dml(&st, &t);
				break;
			case SM_SKIP:
				break;
		}
	}
	st.sum.data[st.sum.len] = '\0';
	return pstrdup(st.sum.data);
}

/* ----------------------------------------------------------------
 * Operation name
 * ----------------------------------------------------------------
 */

char *
otel_query_operation(const char *query, int len)
{
	QLexer		lx;
	QToken		t;
	Head		h;
	char	   *out;
	int			olen = 0;
	int			i;

	if (query == NULL || len < 0)
		len = 0;
	lex_init(&lx, query, len);
	do
		lex_sig(&lx, &t);
	while (t.type == QT_LPAREN);	/* (SELECT ...) UNION ... */

	parse_head(&lx, &t, &h);
	if (h.kind == HK_DML && tok_is(&lx, &t, "with"))
	{
		/* the operation of the statement after the WITH list */
		for (;;)
		{
			lex_sig(&lx, &t);
			if (t.type == QT_EOF || t.type == QT_SEMI)
				break;
			if (t.type == QT_LPAREN)
				skip_parens(&lx);
			else if (tok_in(&lx, &t, dml_words) && !tok_is(&lx, &t, "with"))
			{
				h.words[0] = t;
				break;
			}
		}
	}

	for (i = 0; i < h.nwords; i++)
		olen += h.words[i].len + 1;
	out = palloc(olen + 1);
	olen = 0;
	for (i = 0; i < h.nwords; i++)
	{
		const char *w = query + h.words[i].start;
		int			j;

		if (i > 0)
			out[olen++] = ' ';
		for (j = 0; j < h.words[i].len; j++)
			out[olen++] = pg_ascii_toupper((unsigned char) w[j]);
	}
	out[olen] = '\0';
	return out;
}

/* ----------------------------------------------------------------
 * SQL-callable wrappers, for tests and ad hoc use
 * ----------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(otel_aliyun_query_summary);
PG_FUNCTION_INFO_V1(otel_aliyun_query_sanitise);
PG_FUNCTION_INFO_V1(otel_aliyun_query_operation);

Datum
otel_aliyun_query_summary(PG_FUNCTION_ARGS)
{
	text	   *query = PG_GETARG_TEXT_PP(0);

	PG_RETURN_TEXT_P(cstring_to_text(otel_query_summary(VARDATA_ANY(query),
														VARSIZE_ANY_EXHDR(query))));
}

Datum
otel_aliyun_query_sanitise(PG_FUNCTION_ARGS)
{
	text	   *query = PG_GETARG_TEXT_PP(0);
	char	   *placeholder = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *result;
	int			len;

	if (strcmp(placeholder, "$") != 0 && strcmp(placeholder, "?") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid placeholder \"%s\"", placeholder),
				 errhint("Use '$' for numbered parameters ($1, $2, ...) or '?'.")));

	result = otel_query_sanitise(VARDATA_ANY(query), VARSIZE_ANY_EXHDR(query),
								 placeholder[0], &len);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(result, len));
}

Datum
otel_aliyun_query_operation(PG_FUNCTION_ARGS)
{
	text	   *query = PG_GETARG_TEXT_PP(0);

	PG_RETURN_TEXT_P(cstring_to_text(otel_query_operation(VARDATA_ANY(query),
														  VARSIZE_ANY_EXHDR(query))));
}
