/* rollout-agent-extract BUNDLE DEST: unpacks a bundle with lib/bundle.c's
 * checks in a short-lived process of its own. rollout-agent runs it for
 * every DownloadBundle, so that libarchive (and its libxml2/ICU/C++
 * dependencies) is never loaded into the long-running agent, and a fault in
 * an archive decoder cannot take the agent down.
 *
 * Protocol with the agent: a 0x01 byte on stdout about once a second while it
 * works (progress); on failure the error message on stdout and exit 1;
 * exit 0 on success; exit 2 for wrong usage. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bundle.h"

static int tick(void *ud)
{
	(void)ud;
	return write(STDOUT_FILENO, "\1", 1) == 1 ? 0 : -1; /* the agent went away: stop */
}

int main(int argc, char **argv)
{
	char err[2048] = "";

	if (argc != 3) {
		fprintf(stderr, "usage: rollout-agent-extract BUNDLE DEST (run by rollout-agent)\n");
		return 2;
	}
	if (bundle_extract_progress(argv[1], argv[2], NULL, tick, NULL, err, sizeof(err)) < 0) {
		printf("%s\n", err[0] ? err : "extraction failed");
		return 1;
	}
	return 0;
}
