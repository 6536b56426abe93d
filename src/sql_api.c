/*-------------------------------------------------------------------------
 *
 * sql_api.c
 *		The SQL face of the extension: otel_aliyun.stats(), stats_reset(),
 *		flush() and current_traceparent().  Reads through the owners' APIs
 *		(stats.h, buffer.h, worker.h, hooks.h, exporter.h); owns no state.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "buffer.h"
#include "exporter.h"
#include "hooks.h"
#include "otel_aliyun.h"
#include "stats.h"
#include "worker.h"

PG_FUNCTION_INFO_V1(otel_aliyun_stats);
PG_FUNCTION_INFO_V1(otel_aliyun_stats_reset);
PG_FUNCTION_INFO_V1(otel_aliyun_flush);
PG_FUNCTION_INFO_V1(otel_aliyun_current_traceparent);

#define STATS_COLS 18

static void
require_preload(void)
{
	if (!otel_is_preloaded())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("otel_aliyun must be loaded via shared_preload_libraries"),
				 errhint("Add otel_aliyun to shared_preload_libraries in postgresql.conf and restart the server.")));
}

Datum
otel_aliyun_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	require_preload();
	InitMaterializedSRF(fcinfo, 0);

	for (int s = 0; s < OTEL_NUM_SIGNALS; s++)
	{
		Datum		values[STATS_COLS];
		bool		nulls[STATS_COLS];
		uint64		c[OTEL_NUM_COUNTERS];
		TimestampTz last_success,
					last_error_time;
		char		err[256];
		uint64		used,
					cap;
		int			i = 0;

		memset(nulls, 0, sizeof(nulls));
		otel_stats_read(s, c, &last_success, &last_error_time, err, sizeof(err));
		otel_buffer_usage(s, &used, &cap);

		values[i++] = CStringGetTextDatum(otel_signal_names[s]);
		values[i++] = Int64GetDatum((int64) c[OTEL_STAT_PRODUCED]);
		values[i++] = Int64GetDatum((int64) c[OTEL_STAT_SAMPLED_OUT]);
		values[i++] = Int64GetDatum((int64) c[OTEL_STAT_DROPPED]);
		values[i++] = Int64GetDatum((int64) c[OTEL_STAT_EXPORTED]);
		values[i++] = Int64GetDatum((int64) c[OTEL_STAT_FAILED]);
		values[i++] = Int64GetDatum((int64) c[OTEL_STAT_RETRIES]);
		values[i++] = Int64GetDatum((int64) c[OTEL_STAT_REQUESTS]);
		values[i++] = Int64GetDatum((int64) c[OTEL_STAT_BYTES_SENT]);
		values[i++] = Int64GetDatum((int64) c[OTEL_STAT_PARTIAL]);
		values[i++] = Int64GetDatum((int64) c[OTEL_STAT_INVALID_CONTEXT]);
		values[i++] = Int64GetDatum((int64) c[OTEL_STAT_TRUNCATED]);
		values[i++] = Int64GetDatum((int64) used);
		values[i++] = Int64GetDatum((int64) cap);
		if (err[0])
			values[i++] = CStringGetTextDatum(err);
		else
			nulls[i++] = true;
		if (last_error_time != 0)
			values[i++] = TimestampTzGetDatum(last_error_time);
		else
			nulls[i++] = true;
		if (last_success != 0)
			values[i++] = TimestampTzGetDatum(last_success);
		else
			nulls[i++] = true;
		values[i++] = CStringGetTextDatum(otel_dest_name(otel_exporter_dest(s)));
		Assert(i == STATS_COLS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

Datum
otel_aliyun_stats_reset(PG_FUNCTION_ARGS)
{
	require_preload();
	otel_stats_reset();
	PG_RETURN_VOID();
}

Datum
otel_aliyun_flush(PG_FUNCTION_ARGS)
{
	int32		timeout_ms = PG_GETARG_INT32(0);

	require_preload();
	if (timeout_ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout_ms must not be negative"),
				 errhint("Pass the longest time to wait, in milliseconds, e.g. 10000.")));
	if (otel_worker_pid() == 0)
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the otel_aliyun exporter is not running"),
				 errhint("It is started by the postmaster; check the server log for why it stopped.")));
	PG_RETURN_BOOL(otel_worker_flush(timeout_ms));
}

Datum
otel_aliyun_current_traceparent(PG_FUNCTION_ARGS)
{
	char		buf[64];

	require_preload();
	if (!otel_hooks_current_traceparent(buf))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(buf));
}
