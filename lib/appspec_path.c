/* appspec_norm_relpath (appspec.h): the one rule for a path inside a
 * revision, shared by the appspec parser and the bundle unpacker. In a file
 * of its own so that the extraction helper, which links bundle.c, links no
 * YAML or JSON parser with it. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "appspec.h"

int appspec_norm_relpath(const char *in, char **ret)
{
	size_t len = strlen(in);
	char *out = malloc(len + 1);
	size_t o = 0;
	const char *p = in;

	if (!out)
		return -ENOMEM;
	while (*p) {
		const char *e;
		size_t n;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		e = strchr(p, '/');
		n = e ? (size_t)(e - p) : strlen(p);
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			return -EINVAL;
		}
		if (o)
			out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = '\0';
	*ret = out;
	return 0;
}
