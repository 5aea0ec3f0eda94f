/* rollout-agent-extract BUNDLE DEST: unpacks a bundle with lib/bundle.c's
 * checks in a short-lived process of its own. rollout-agent runs it for
 * every DownloadBundle, so that libarchive is never loaded into the
 * long-running agent, and a fault in an archive decoder cannot take the
 * agent down. It links only lib/bundle.c, lib/appspec_path.c and lib/util.c
 * of librollout, and libarchive.a when configure found it (configure.ac).
 *
 * rollout-agent-extract -: the same, with BUNDLE and DEST read from stdin,
 * each ending in a NUL byte. The agent starts it so ahead of need, to have
 * the libraries loaded by the time the bundle is there (agent/extractor.h);
 * EOF before both paths: it was not needed, exit 0 having done nothing.
 *
 * Protocol with the agent: a 0x01 byte on stdout about once a second while it
 * works (progress); on failure the error message on stdout and exit 1;
 * exit 0 on success; exit 2 for wrong usage. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"

static int tick(void *ud)
{
	(void)ud;
	return write(STDOUT_FILENO, "\1", 1) == 1 ? 0 : -1; /* the agent went away: stop */
}

/* Reads the two NUL-terminated paths from stdin. 1: read; 0: EOF before
 * them; -1: an error, said on stdout. */
static int read_paths(char *buf, size_t size, char **bundle, char **dest)
{
	size_t len = 0;

	for (;;) {
		char *nul = memchr(buf, '\0', len);
		if (nul && memchr(nul + 1, '\0', len - (size_t)(nul + 1 - buf))) {
			*bundle = buf;
			*dest = nul + 1;
			return 1;
		}
		if (len == size) {
			printf("the paths given on stdin are longer than %zu bytes\n", size);
			return -1;
		}
		ssize_t n = read(STDIN_FILENO, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			printf("cannot read the paths from stdin: %s\n", strerror(errno));
			return -1;
		}
		if (n == 0) {
			if (len == 0)
				return 0;
			printf("stdin ended before the bundle and destination paths (each ending in a NUL byte)\n");
			return -1;
		}
		len += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	static char paths[2 * PATH_MAX];
	char err[2048] = "", *bundle, *dest;

	if (argc == 2 && strcmp(argv[1], "-") == 0) {
		int r = read_paths(paths, sizeof(paths), &bundle, &dest);
		if (r <= 0)
			return r == 0 ? 0 : 1;
	} else if (argc == 3) {
		bundle = argv[1];
		dest = argv[2];
	} else {
		fprintf(stderr, "usage: rollout-agent-extract BUNDLE DEST | rollout-agent-extract - (run by "
				"rollout-agent)\n");
		return 2;
	}
	if (bundle_extract_progress(bundle, dest, NULL, tick, NULL, err, sizeof(err)) < 0) {
		printf("%s\n", err[0] ? err : "extraction failed");
		return 1;
	}
	return 0;
}
