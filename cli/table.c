#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

struct table {
	size_t ncols, nrows, cap;
	char **cells; /* nrows * ncols, row 0 is the header */
};

struct table *table_new(size_t ncols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	if (table_add_row(t, headers) < 0)
		return table_free(t);
	/* "accessKeyId" -> "ACCESS KEY ID" */
	for (size_t i = 0; i < ncols; i++) {
		const char *h = t->cells[i];
		char *u = malloc(strlen(h) * 2 + 1), *q = u;
		if (!u)
			return table_free(t);
		for (const char *p = h; *p; p++) {
			if (p > h && isupper((unsigned char)*p) && islower((unsigned char)p[-1]))
				*q++ = ' ';
			*q++ = (char)toupper((unsigned char)*p);
		}
		*q = '\0';
		free(t->cells[i]);
		t->cells[i] = u;
	}
	return t;
}

struct table *table_free(struct table *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
	return NULL;
}

int table_add_row(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 8;
		char **nc = realloc(t->cells, ncap * t->ncols * sizeof(char *));
		if (!nc)
			return -ENOMEM;
		t->cells = nc;
		t->cap = ncap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		const char *v = cells[i] && *cells[i] ? cells[i] : "-";
		char *copy = strdup(v);
		if (!copy)
			return -ENOMEM;
		/* Keep one cell on one line. */
		for (char *p = copy; *p; p++)
			if (*p == '\n' || *p == '\t' || *p == '\r')
				*p = ' ';
		t->cells[t->nrows * t->ncols + i] = copy;
	}
	t->nrows++;
	return 0;
}

int table_add_rowv(struct table *t, ...)
{
	const char *cells[32];
	va_list ap;

	if (t->ncols > 32)
		return -EINVAL;
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++)
		cells[i] = va_arg(ap, const char *);
	va_end(ap);
	return table_add_row(t, cells);
}

size_t table_rows(const struct table *t)
{
	return t->nrows ? t->nrows - 1 : 0;
}

/* Display width of UTF-8 text: count code points, not bytes. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

void table_print(const struct table *t, FILE *f)
{
	size_t *width = calloc(t->ncols, sizeof(size_t));

	if (!width)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = text_width(t->cells[r * t->ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				fprintf(f, "%s", cell);
			else
				fprintf(f, "%s%*s", cell, (int)(width[c] - text_width(cell) + 2), "");
		}
		fputc('\n', f);
	}
	free(width);
}

void cli_print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
}

const char *cli_fmt_time(json_t *ts, char *buf, size_t len)
{
	double v = rd_json_number(ts);
	time_t t = (time_t)v;
	struct tm tm;

	if (v <= 0 || !gmtime_r(&t, &tm)) {
		snprintf(buf, len, "-");
		return buf;
	}
	strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm);
	return buf;
}

const char *cli_fmt_elapsed(double seconds, char *buf, size_t len)
{
	long s = seconds < 0 ? 0 : (long)(seconds + 0.5);

	if (s < 60)
		snprintf(buf, len, "%lds", s);
	else if (s < 3600)
		snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(buf, len, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
	return buf;
}
