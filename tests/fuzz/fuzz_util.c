/* Scratch files for the fuzz targets (fuzz.h). */
#include "config.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>

#include "fuzz.h"

static char *dirs[8];
static size_t n_dirs;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	/* a directory the extraction left without search permission */
	if (flag == FTW_DNR) {
		chmod(path, 0700);
		return 0;
	}
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

void fuzz_rm_rf(const char *path)
{
	/* twice: the first pass opens up directories without permissions */
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_dirs(void)
{
	for (size_t i = 0; i < n_dirs; i++) {
		fuzz_rm_rf(dirs[i]);
		free(dirs[i]);
	}
	n_dirs = 0;
}

char *fuzz_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char tmpl[4096];

	snprintf(tmpl, sizeof(tmpl), "%s/rollout-fuzz-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpl) || n_dirs == sizeof(dirs) / sizeof(dirs[0])) {
		fprintf(stderr, "fuzz: cannot make a scratch directory %s: %s\n", tmpl, strerror(errno));
		abort();
	}
	if (n_dirs == 0)
		atexit(remove_dirs);
	dirs[n_dirs] = strdup(tmpl);
	if (!dirs[n_dirs])
		abort();
	return dirs[n_dirs++];
}

void fuzz_write(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	const char *p = data;

	if (fd < 0) {
		fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
		abort();
	}
	while (size > 0) {
		ssize_t n = write(fd, p, size);
		if (n <= 0) {
			fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
			abort();
		}
		p += n;
		size -= (size_t)n;
	}
	close(fd);
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}
