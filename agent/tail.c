#include "config.h"

#include <string.h>

#include "agent.h"

#define TAIL_LIMIT 2047 /* "less than 2048 characters" */

void tail_reset(struct tail *t)
{
	t->len = 0;
	t->dropped = false;
}

static void tail_append(struct tail *t, const char *s, size_t n)
{
	if (n >= sizeof(t->buf)) {
		s += n - sizeof(t->buf);
		n = sizeof(t->buf);
	}
	if (t->len + n > sizeof(t->buf)) {
		size_t drop = t->len + n - sizeof(t->buf);
		memmove(t->buf, t->buf + drop, t->len - drop);
		t->len -= drop;
		t->dropped = true;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
}

void tail_add_line(struct tail *t, const char *prefix, const char *line, size_t len)
{
	tail_append(t, prefix, strlen(prefix));
	tail_append(t, line, len);
	tail_append(t, "\n", 1);
}

void tail_render(const struct tail *t, char *out, size_t outlen)
{
	size_t n = t->len < TAIL_LIMIT ? t->len : TAIL_LIMIT;
	const char *s = t->buf + t->len - n;
	bool at_boundary = (n == t->len && !t->dropped) || s[-1] == '\n';

	if (!at_boundary) {
		const char *nl = memchr(s, '\n', n);
		if (nl && nl + 1 < t->buf + t->len) {
			n -= (size_t)(nl + 1 - s);
			s = nl + 1;
		}
		/* else: one line longer than the limit: keep its last characters */
	}
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}
