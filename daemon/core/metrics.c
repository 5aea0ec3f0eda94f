/* The metrics registry (core/metrics.h). Families live in one list guarded
 * by reg_lock (taken to register and to render); each family's series in an
 * open-addressing hash table guarded by the family's own mutex, so updates
 * of different families never contend. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/metrics.h"

enum metric_type { MT_COUNTER, MT_GAUGE, MT_HISTOGRAM };

struct series {
	char *key; /* label values joined by \x1f; NULL = empty slot */
	char *values[METRIC_MAX_LABELS];
	double v;	  /* counter / gauge */
	uint64_t *counts; /* histogram: per bucket (not cumulative), n_buckets + 1 */
	double sum;	  /* histogram */
	uint64_t count;	  /* histogram */
	bool live;	  /* gauge cleared: slot kept, series not rendered */
};

struct metric {
	struct metric *next;
	enum metric_type type;
	char *name, *help;
	char *labels[METRIC_MAX_LABELS];
	int n_labels;
	double *buckets;
	size_t n_buckets;
	pthread_mutex_t lock;
	struct series *tab;
	size_t cap, used;
};

struct collector {
	metric_collect_fn fn;
	void *ud;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metric *families, **families_tail = &families;
static struct collector *collectors;
static size_t n_collectors;
static struct metric *dropped;

const double metric_seconds_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,	 2.5,
					 5,	10,   30,    60,   120, 300,  600, 1800, 3600};
const size_t metric_seconds_n_buckets = sizeof(metric_seconds_buckets) / sizeof(metric_seconds_buckets[0]);
const double metric_rows_buckets[] = {1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000};
const size_t metric_rows_n_buckets = sizeof(metric_rows_buckets) / sizeof(metric_rows_buckets[0]);

static bool valid_name(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == ':'))
			return false;
	return true;
}

static void family_free(struct metric *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		free(m->tab[i].key);
		for (int k = 0; k < m->n_labels; k++)
			free(m->tab[i].values[k]);
		free(m->tab[i].counts);
	}
	free(m->tab);
	for (int k = 0; k < m->n_labels; k++)
		free(m->labels[k]);
	free(m->buckets);
	free(m->name);
	free(m->help);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static struct metric *family(enum metric_type type, const char *name, const char *help, const char *const *labels,
			     const double *buckets, size_t n_buckets)
{
	struct metric *m;
	int nl = 0;

	while (labels && labels[nl])
		nl++;
	if (!valid_name(name) || nl > METRIC_MAX_LABELS)
		return NULL;
	pthread_mutex_lock(&reg_lock);
	for (m = families; m; m = m->next)
		if (strcmp(m->name, name) == 0) {
			/* first updated, then declared (the store migrates before
			 * metrics_declare): the declaration brings the help */
			char *h = help && *help && !*m->help ? strdup(help) : NULL;
			if (h) {
				free(m->help);
				m->help = h;
			}
			pthread_mutex_unlock(&reg_lock);
			return m->type == type && m->n_labels == nl ? m : NULL;
		}
	m = calloc(1, sizeof(*m));
	if (!m)
		goto out;
	pthread_mutex_init(&m->lock, NULL);
	m->type = type;
	m->name = strdup(name);
	m->help = strdup(help ? help : "");
	m->n_labels = nl;
	for (int k = 0; k < nl; k++)
		if (!(m->labels[k] = strdup(labels[k])) || !valid_name(labels[k])) {
			m->n_labels = k + 1;
			goto fail;
		}
	if (type == MT_HISTOGRAM) {
		m->buckets = calloc(n_buckets ? n_buckets : 1, sizeof(double));
		if (!m->buckets)
			goto fail;
		memcpy(m->buckets, buckets, n_buckets * sizeof(double));
		m->n_buckets = n_buckets;
	}
	if (!m->name || !m->help)
		goto fail;
	*families_tail = m;
	families_tail = &m->next;
out:
	pthread_mutex_unlock(&reg_lock);
	return m;
fail:
	family_free(m);
	m = NULL;
	goto out;
}

struct metric *metric_counter(const char *name, const char *help, const char *const *labels)
{
	return family(MT_COUNTER, name, help, labels, NULL, 0);
}

struct metric *metric_gauge(const char *name, const char *help, const char *const *labels)
{
	return family(MT_GAUGE, name, help, labels, NULL, 0);
}

struct metric *metric_histogram(const char *name, const char *help, const char *const *labels, const double *buckets,
				size_t n_buckets)
{
	return family(MT_HISTOGRAM, name, help, labels, buckets, n_buckets);
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int grow(struct metric *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct series *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->tab[i].key)
			continue;
		size_t j = hash(m->tab[i].key) & (cap - 1);
		while (tab[j].key)
			j = (j + 1) & (cap - 1);
		tab[j] = m->tab[i];
	}
	free(m->tab);
	m->tab = tab;
	m->cap = cap;
	return 0;
}

/* The series of the label values in ap, created when new; NULL when the
 * family is full or out of memory. Called with m->lock held. */
static struct series *lookup(struct metric *m, va_list ap)
{
	const char *vals[METRIC_MAX_LABELS];
	char key[1024];
	size_t len = 0, j;

	key[0] = '\0';
	for (int k = 0; k < m->n_labels; k++) {
		const char *v = va_arg(ap, const char *);
		vals[k] = v ? v : "";
		int n = snprintf(key + len, sizeof(key) - len, "%s\x1f", vals[k]);
		if (n > 0)
			len = len + (size_t)n >= sizeof(key) ? sizeof(key) - 1 : len + (size_t)n;
	}
	if (m->cap) {
		for (j = hash(key) & (m->cap - 1); m->tab[j].key; j = (j + 1) & (m->cap - 1))
			if (strcmp(m->tab[j].key, key) == 0)
				return &m->tab[j];
	}
	if (m->used >= METRIC_MAX_SERIES) {
		if (m != dropped)
			metric_add(dropped, 1.0, m->name);
		return NULL;
	}
	if ((m->used + 1) * 2 > m->cap && grow(m) < 0)
		return NULL;
	for (j = hash(key) & (m->cap - 1); m->tab[j].key; j = (j + 1) & (m->cap - 1))
		;
	struct series *s = &m->tab[j];
	memset(s, 0, sizeof(*s));
	s->key = strdup(key);
	if (!s->key)
		return NULL;
	for (int k = 0; k < m->n_labels; k++)
		if (!(s->values[k] = strdup(vals[k])))
			goto fail;
	if (m->type == MT_HISTOGRAM && !(s->counts = calloc(m->n_buckets + 1, sizeof(uint64_t))))
		goto fail;
	m->used++;
	return s;
fail:
	for (int k = 0; k < m->n_labels; k++)
		free(s->values[k]);
	free(s->key);
	memset(s, 0, sizeof(*s));
	return NULL;
}

void metric_add(struct metric *m, double v, ...)
{
	va_list ap;
	struct series *s;

	if (!m || m->type == MT_HISTOGRAM || (m->type == MT_COUNTER && !(v >= 0)))
		return;
	va_start(ap, v);
	pthread_mutex_lock(&m->lock);
	if ((s = lookup(m, ap))) {
		s->v += v;
		s->live = true;
	}
	pthread_mutex_unlock(&m->lock);
	va_end(ap);
}

void metric_set(struct metric *m, double v, ...)
{
	va_list ap;
	struct series *s;

	if (!m || m->type != MT_GAUGE)
		return;
	va_start(ap, v);
	pthread_mutex_lock(&m->lock);
	if ((s = lookup(m, ap))) {
		s->v = v;
		s->live = true;
	}
	pthread_mutex_unlock(&m->lock);
	va_end(ap);
}

void metric_observe(struct metric *m, double v, ...)
{
	va_list ap;
	struct series *s;

	if (!m || m->type != MT_HISTOGRAM || isnan(v))
		return;
	va_start(ap, v);
	pthread_mutex_lock(&m->lock);
	if ((s = lookup(m, ap))) {
		size_t b = 0;
		while (b < m->n_buckets && v > m->buckets[b])
			b++;
		s->counts[b]++;
		s->sum += v;
		s->count++;
		s->live = true;
	}
	pthread_mutex_unlock(&m->lock);
	va_end(ap);
}

void metric_clear(struct metric *m)
{
	if (!m || m->type != MT_GAUGE)
		return;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->cap; i++)
		if (m->tab[i].key) {
			m->tab[i].live = false;
			m->tab[i].v = 0;
		}
	pthread_mutex_unlock(&m->lock);
}

void metric_each(struct metric *m, void (*fn)(double v, const char *const *labels, void *ud), void *ud)
{
	if (!m || m->type == MT_HISTOGRAM)
		return;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->cap; i++)
		if (m->tab[i].key && m->tab[i].live)
			fn(m->tab[i].v, (const char *const *)m->tab[i].values, ud);
	pthread_mutex_unlock(&m->lock);
}

void metrics_declare(void)
{
	static const char *const source[] = {"source", NULL}, *const plugin_op[] = {"plugin", "op", NULL};

	metric_counter("rolloutd_bundle_cache_hits_total",
		       "Revisions served from the bundle cache without fetching, by source plugin.", source);
	metric_counter("rolloutd_bundle_cache_misses_total",
		       "Revisions a source plugin had to fetch, by source plugin.", source);
	metric_histogram("rolloutd_bundle_fetch_duration_seconds",
			 "Time source plugins took to fetch a revision into the cache, by source plugin.", source,
			 metric_seconds_buckets, metric_seconds_n_buckets);
	metric_counter("rolloutd_alarm_checks_total",
		       "Alarm checks by result: OK, ALARM, INSUFFICIENT_DATA, or ERROR when the plugin failed.",
		       (const char *const[]){"result", NULL});
	metric_histogram("rolloutd_plugin_op_duration_seconds",
			 "Time plugin calls took, by plugin and operation (the op of the plugin ABI: resolve, "
			 "fetch, describe, check, block, allow, set_weight, shift_prepare, ...).",
			 plugin_op, metric_seconds_buckets, metric_seconds_n_buckets);
	metric_counter("rolloutd_plugin_op_errors_total",
		       "Plugin calls that returned an error, by plugin and operation.", plugin_op);
	metric_histogram("rolloutd_store_transaction_duration_seconds",
			 "Time each write transaction of the store was open, from BEGIN until durable (the "
			 "engine's group commits, API writes, retention batches, migrations).",
			 NULL, metric_seconds_buckets, metric_seconds_n_buckets);
	metric_histogram("rolloutd_store_transaction_rows", "Rows each committed store transaction wrote.", NULL,
			 metric_rows_buckets, metric_rows_n_buckets);
}

void metric_store_tx(int64_t t0_ms, int64_t rows)
{
	struct timespec ts;
	int64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	metric_observe(metric_histogram("rolloutd_store_transaction_duration_seconds", NULL, NULL,
					metric_seconds_buckets, metric_seconds_n_buckets),
		       (double)(now - t0_ms) / 1000.0, NULL);
	metric_observe(
	    metric_histogram("rolloutd_store_transaction_rows", NULL, NULL, metric_rows_buckets, metric_rows_n_buckets),
	    (double)rows, NULL);
}

/* Plugin calls are slow (they may go over the network): looking the
 * families up by name each time costs nothing next to them, and survives
 * metrics_reset(). */
void metric_plugin_op(const char *plugin, const char *op, int64_t t0_ms, int r)
{
	struct timespec ts;
	int64_t now;

	if (!plugin)
		plugin = "?";
	if (!op)
		op = "?";
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	metric_observe(metric_histogram("rolloutd_plugin_op_duration_seconds", NULL,
					(const char *const[]){"plugin", "op", NULL}, metric_seconds_buckets,
					metric_seconds_n_buckets),
		       (double)(now - t0_ms) / 1000.0, plugin, op);
	if (r < 0)
		metric_inc(metric_counter("rolloutd_plugin_op_errors_total", NULL,
					  (const char *const[]){"plugin", "op", NULL}),
			   plugin, op);
}

int metrics_add_collector(metric_collect_fn fn, void *userdata)
{
	struct collector *n;

	pthread_mutex_lock(&reg_lock);
	n = realloc(collectors, (n_collectors + 1) * sizeof(*n));
	if (n) {
		collectors = n;
		collectors[n_collectors++] = (struct collector){fn, userdata};
	}
	pthread_mutex_unlock(&reg_lock);
	return n ? 0 : -ENOMEM;
}

/* ---- rendering ---- */

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* Escapes for the text format: help lines \\ and \n; label values also ". */
static void escaped(struct buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			bprintf(b, "\\\\");
		else if (*s == '\n')
			bprintf(b, "\\n");
		else if (quote && *s == '"')
			bprintf(b, "\\\"");
		else
			bprintf(b, "%c", *s);
	}
}

static void value(struct buf *b, double v)
{
	if (isinf(v))
		bprintf(b, v > 0 ? "+Inf" : "-Inf");
	else if (isnan(v))
		bprintf(b, "NaN");
	else if (v == (double)(int64_t)v && fabs(v) < 1e15)
		bprintf(b, "%lld", (long long)v);
	else
		bprintf(b, "%.17g", v);
}

/* {a="x",b="y"[,le="0.5"]} or nothing */
static void labelset(struct buf *b, const struct metric *m, const struct series *s, const char *le)
{
	if (m->n_labels == 0 && !le)
		return;
	bprintf(b, "{");
	for (int k = 0; k < m->n_labels; k++) {
		bprintf(b, "%s%s=\"", k ? "," : "", m->labels[k]);
		escaped(b, s->values[k], true);
		bprintf(b, "\"");
	}
	if (le)
		bprintf(b, "%sle=\"%s\"", m->n_labels ? "," : "", le);
	bprintf(b, "}");
}

static void render_family(struct buf *b, struct metric *m)
{
	static const char *const type_names[] = {"counter", "gauge", "histogram"};

	bprintf(b, "# HELP %s ", m->name);
	escaped(b, m->help, false);
	bprintf(b, "\n# TYPE %s %s\n", m->name, type_names[m->type]);
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->cap; i++) {
		const struct series *s = &m->tab[i];
		if (!s->key || !s->live)
			continue;
		if (m->type != MT_HISTOGRAM) {
			bprintf(b, "%s", m->name);
			labelset(b, m, s, NULL);
			bprintf(b, " ");
			value(b, s->v);
			bprintf(b, "\n");
			continue;
		}
		uint64_t cum = 0;
		for (size_t k = 0; k <= m->n_buckets; k++) {
			char le[64];
			cum += s->counts[k];
			if (k < m->n_buckets)
				snprintf(le, sizeof(le), "%.15g", m->buckets[k]);
			else
				snprintf(le, sizeof(le), "+Inf");
			bprintf(b, "%s_bucket", m->name);
			labelset(b, m, s, le);
			bprintf(b, " %llu\n", (unsigned long long)cum);
		}
		bprintf(b, "%s_sum", m->name);
		labelset(b, m, s, NULL);
		bprintf(b, " ");
		value(b, s->sum);
		bprintf(b, "\n%s_count", m->name);
		labelset(b, m, s, NULL);
		bprintf(b, " %llu\n", (unsigned long long)s->count);
	}
	pthread_mutex_unlock(&m->lock);
}

int metrics_render(char **ret, size_t *ret_len)
{
	struct buf b = {0};
	struct collector *cs = NULL;
	size_t n = 0;

	if (!dropped)
		dropped = metric_counter("rolloutd_metrics_dropped_series_total",
					 "Label sets not recorded because their family reached its series limit.",
					 (const char *const[]){"family", NULL});
	/* collectors run without reg_lock: they register and update families */
	pthread_mutex_lock(&reg_lock);
	if (n_collectors && (cs = malloc(n_collectors * sizeof(*cs)))) {
		memcpy(cs, collectors, n_collectors * sizeof(*cs));
		n = n_collectors;
	}
	pthread_mutex_unlock(&reg_lock);
	for (size_t i = 0; i < n; i++)
		cs[i].fn(cs[i].ud);
	free(cs);

	pthread_mutex_lock(&reg_lock);
	for (struct metric *m = families; m; m = m->next)
		render_family(&b, m);
	pthread_mutex_unlock(&reg_lock);
	if (b.oom || !b.p) {
		free(b.p);
		return -ENOMEM;
	}
	*ret = b.p;
	*ret_len = b.len;
	return 0;
}

void metrics_reset(void)
{
	pthread_mutex_lock(&reg_lock);
	while (families) {
		struct metric *m = families;
		families = m->next;
		family_free(m);
	}
	families_tail = &families;
	free(collectors);
	collectors = NULL;
	n_collectors = 0;
	dropped = NULL;
	pthread_mutex_unlock(&reg_lock);
}
