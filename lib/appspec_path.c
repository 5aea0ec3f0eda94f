/* The appspec's path rules (appspec.h): a path inside a revision and an
 * absolute destination, normalised lexically. The first is shared by the
 * appspec parser and the bundle unpacker; in a file of its own so that the
 * extraction helper, which links bundle.c, links no YAML or JSON parser. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "appspec.h"

/* The next component of *p (its length; 0 at the end), skipping slashes
 * before it; *p is left on it. */
static size_t next_component(const char **p)
{
	const char *e;

	while (**p == '/')
		(*p)++;
	e = strchr(*p, '/');
	return e ? (size_t)(e - *p) : strlen(*p);
}

static bool is_dot(const char *p, size_t n)
{
	return n == 1 && p[0] == '.';
}

static bool is_dotdot(const char *p, size_t n)
{
	return n == 2 && p[0] == '.' && p[1] == '.';
}

/* Both rules in one walk: "." is dropped; ".." is refused inside a revision
 * (it would leave it) and pops a component of an absolute path (at "/" it
 * stays there, as the kernel resolves it). An absolute result starts with
 * "/" and is "/" when nothing is left; a relative one may be empty. */
static int normalise(const char *in, bool absolute, char **ret)
{
	char *out = malloc(strlen(in) + 2);
	size_t o = 0, n;
	const char *p = in;

	if (!out)
		return -ENOMEM;
	for (; (n = next_component(&p)) > 0; p += n) {
		if (is_dot(p, n))
			continue;
		if (is_dotdot(p, n)) {
			if (!absolute) {
				free(out);
				return -EINVAL;
			}
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		if (absolute || o > 0)
			out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
	}
	if (absolute && o == 0)
		out[o++] = '/';
	out[o] = '\0';
	*ret = out;
	return 0;
}

int appspec_norm_relpath(const char *in, char **ret)
{
	return normalise(in, false, ret);
}

int appspec_norm_abspath(const char *in, char **ret)
{
	return normalise(in, true, ret);
}
