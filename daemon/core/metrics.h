/* The daemon's metrics: counters, gauges and histograms with labels, kept
 * in one process-wide registry and written in the Prometheus text format
 * (version 0.0.4) for GET /metrics.
 *
 * A part declares its families once at start-up (metric_counter(), ...;
 * idempotent: the same name returns the same family) and updates them with
 * one call where the thing happens:
 *
 *     metric_inc(api_requests, op, "ok");            label values in order
 *     metric_observe(api_latency, secs, op);
 *
 * Every function is thread-safe. An update takes the family's mutex for a
 * lookup of the label values and an addition, so it is cheap enough for the
 * I/O thread; it never blocks on anything but that mutex. Label values are
 * copied. A family has at most METRIC_MAX_LABELS labels; a family with
 * more than METRIC_MAX_SERIES label sets ignores new ones (and counts them
 * in rolloutd_metrics_dropped_series_total) rather than grow without bound.
 *
 * Gauges that describe state (deployments by status, agents connected) are
 * filled by collectors, run on the scraping thread just before rendering. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define METRIC_MAX_LABELS 4
#define METRIC_MAX_SERIES 20000

struct metric;

/* name: [a-zA-Z_:][a-zA-Z0-9_:]*; help: one line; labels: NULL-terminated
 * list of label names (may be NULL for none). Returns NULL only for a
 * programmer error (bad name, a name reused with another type) or when out
 * of memory; the update functions accept NULL and do nothing. */
struct metric *metric_counter(const char *name, const char *help, const char *const *labels);
struct metric *metric_gauge(const char *name, const char *help, const char *const *labels);
/* buckets: upper bounds in increasing order (+Inf is added). */
struct metric *metric_histogram(const char *name, const char *help, const char *const *labels, const double *buckets,
				size_t n_buckets);

/* Buckets for durations in seconds: 5 ms to 1 h. */
extern const double metric_seconds_buckets[];
extern const size_t metric_seconds_n_buckets;
/* Buckets for counts of rows: 1 to 50,000. */
extern const double metric_rows_buckets[];
extern const size_t metric_rows_n_buckets;

/* Label values follow, one per label of the family. */
void metric_add(struct metric *m, double v, ...);     /* counter (v >= 0) or gauge */
void metric_set(struct metric *m, double v, ...);     /* gauge */
void metric_observe(struct metric *m, double v, ...); /* histogram */
#define metric_inc(m, ...) metric_add((m), 1.0, __VA_ARGS__)
/* For families without labels. */
#define metric_inc0(m) metric_add((m), 1.0, NULL)

/* Removes every label set of a gauge (a collector's first step). */
void metric_clear(struct metric *m);
/* Calls fn(value, label values, ud) for every label set of a gauge or
 * counter (a collector deriving one family from another). */
void metric_each(struct metric *m, void (*fn)(double v, const char *const *labels, void *ud), void *ud);

/* One plugin call that started at t0_ms (monotonic) and returned r:
 * rolloutd_plugin_op_duration_seconds{plugin,op}, and
 * rolloutd_plugin_op_errors_total{plugin,op} when r < 0. */
void metric_plugin_op(const char *plugin, const char *op, int64_t t0_ms, int r);

/* One committed store transaction: begun at t0_ms (monotonic), rows
 * inserted, updated or deleted: rolloutd_store_transaction_duration_seconds
 * and rolloutd_store_transaction_rows. */
void metric_store_tx(int64_t t0_ms, int64_t rows);

/* Declares the families that parts update without declaring them first
 * (they pass NULL help): the bundle cache, alarm checks, plugin calls, store
 * transactions. So
 * that every family is on /metrics from the start, with its help. */
void metrics_declare(void);

typedef void (*metric_collect_fn)(void *userdata);
/* Collectors run in registration order at every render. */
int metrics_add_collector(metric_collect_fn fn, void *userdata);

/* The whole registry in the text format; *ret is malloc'd. */
int metrics_render(char **ret, size_t *ret_len);

/* Frees every family and collector (at exit, when nothing updates any more). */
void metrics_reset(void);
