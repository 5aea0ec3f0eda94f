/* Small helpers for the foundation unit tests: temporary directories and
 * files, removed at the end. */
#pragma once

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline char *tu_mkdtemp(void)
{
	char tmpl[] = "/tmp/rollout-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	return d ? strdup(d) : NULL;
}

static inline void tu_write(const char *dir, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void tu_write(const char *dir, const char *name, const char *fmt, ...)
{
	char path[4096];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		abort();
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static inline void tu_rm_rf(char *dir)
{
	char cmd[4200];

	if (!dir)
		return;
	if (strncmp(dir, "/tmp/rollout-test-", 18) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	free(dir);
}
