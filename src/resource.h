/*-------------------------------------------------------------------------
 * resource.h
 *		The OTLP Resource describing this server: service.name,
 *		service.version, service.instance.id, host.name, process.pid (of the
 *		postmaster), deployment.environment.name, cloud.provider=alibaba_cloud,
 *		cloud.region when set, db.system.name, and the user's
 *		otel_aliyun.resource_attributes (which win over the defaults).
 *		resource.c owns a per-process cache of the encoded attribute list,
 *		rebuilt when otel_resource_invalidate() is called (after SIGHUP).
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_RESOURCE_H
#define OTEL_RESOURCE_H

/*
 * Attribute list (record.h format) of the resource, valid until the next
 * invalidate.  Allocated in TopMemoryContext.
 */
extern const char *otel_resource_attrs(uint32 *len);
extern void otel_resource_invalidate(void);

/* Value of one resource attribute (e.g. "service.name"), or NULL. */
extern const char *otel_resource_get(const char *key);

#endif							/* OTEL_RESOURCE_H */
