#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "awsprofile.h"
#include "util.h"

/* Shared files hold a few profiles; anything bigger is not one. */
#define PROFILE_FILE_MAX (1u << 20)

struct span {
	const char *p;
	size_t len;
};

static struct span trim(const char *p, size_t len)
{
	while (len > 0 && isspace((unsigned char)*p)) {
		p++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)p[len - 1]))
		len--;
	return (struct span){p, len};
}

static bool span_is(struct span s, const char *str)
{
	return s.len == strlen(str) && memcmp(s.p, str, s.len) == 0;
}

/* Walks text; returns whether profile has a section, and sets *ret_value to
 * the last value of key in it (a span into text) when key is non-NULL. */
static bool scan(const char *text, const char *profile, const char *key, struct span *ret_value)
{
	bool in = false, found = false;

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		struct span l = trim(line, nl ? (size_t)(nl - line) : strlen(line));

		line = nl ? nl + 1 : NULL;
		if (l.len == 0 || *l.p == '#' || *l.p == ';')
			continue;
		if (*l.p == '[') {
			const char *end = memchr(l.p, ']', l.len);
			struct span name;
			if (!end)
				continue;
			name = trim(l.p + 1, (size_t)(end - l.p - 1));
			if (name.len > 8 && memcmp(name.p, "profile", 7) == 0 && isspace((unsigned char)name.p[7]))
				name = trim(name.p + 8, name.len - 8);
			in = span_is(name, profile);
			found |= in;
			continue;
		}
		const char *eq = memchr(l.p, '=', l.len);
		if (!in || !key || !eq)
			continue;
		if (span_is(trim(l.p, (size_t)(eq - l.p)), key))
			*ret_value = trim(eq + 1, l.len - (size_t)(eq - l.p) - 1);
	}
	return found;
}

bool aws_profile_exists(const char *text, const char *profile)
{
	return scan(text, profile, NULL, NULL);
}

int aws_profile_value(const char *text, const char *profile, const char *key, char **ret_value)
{
	struct span v = {NULL, 0};
	char *s;

	scan(text, profile, key, &v);
	if (!v.p)
		return -ENOENT;
	s = strndup(v.p, v.len);
	if (!s)
		return -ENOMEM;
	*ret_value = s;
	return 0;
}

int aws_profile_file_value(const char *path, const char *profile, const char *key, char **ret_value)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = rd_read_file(path, PROFILE_FILE_MAX, &buf, &len);
	if (r < 0)
		return r;
	r = aws_profile_value(buf, profile, key, ret_value);
	/* The file may hold secrets of other profiles too. */
	explicit_bzero(buf, len);
	free(buf);
	return r;
}
