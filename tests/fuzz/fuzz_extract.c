/* Bundle extraction (lib/bundle.c, what rollout-agent-extract runs) of
 * arbitrary bytes into a scratch directory, with small limits. Besides
 * crashes, the target checks that nothing lands outside the destination:
 * the destination's parent holds only the destination afterwards, and the
 * working directory (an empty directory of its own) stays empty. Each
 * input also goes through the read-only inspection rolloutd's pre-flight
 * uses (bundle_inspect), with the appspec it finds checked against the
 * bundle. */
#include "config.h"

#include <dirent.h>
#include <sys/stat.h>

#include "appspec.h"
#include "bundle.h"
#include "fuzz.h"

static char bundle_path[4096], outer[4096], dest[4096], cwd[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *root = fuzz_tmpdir();

	(void)argc;
	(void)argv;
	snprintf(bundle_path, sizeof(bundle_path), "%s/bundle", root);
	snprintf(outer, sizeof(outer), "%s/outer", root);
	snprintf(dest, sizeof(dest), "%s/outer/dest", root);
	snprintf(cwd, sizeof(cwd), "%s/cwd", root);
	if (mkdir(outer, 0700) < 0 || mkdir(cwd, 0700) < 0 || chdir(cwd) < 0)
		abort();
	return 0;
}

/* Aborts when dir holds any entry but allowed (NULL: none at all). */
static void expect_only(const char *dir, const char *allowed)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		abort();
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (allowed && !strcmp(de->d_name, allowed))
			continue;
		fprintf(stderr, "extraction wrote %s/%s, outside its destination\n", dir, de->d_name);
		abort();
	}
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_limits lim = {.max_bytes = 8 * 1024 * 1024, .max_entries = 512, .max_ratio = 200};
	struct bundle_info *info = NULL;
	char err[2048];

	if (size > 1024 * 1024)
		return 0;
	fuzz_write(bundle_path, data, size);
	(void)bundle_extract(bundle_path, dest, &lim, err, sizeof(err));
	expect_only(outer, "dest");
	expect_only(cwd, NULL);
	fuzz_rm_rf(dest);

	if (bundle_inspect(bundle_path, NULL, &lim, &info, err, sizeof(err)) == 0) {
		size_t len = 0;
		const char *name = NULL;
		const char *text = bundle_info_appspec(info, &len, &name);
		struct appspec *spec = NULL;
		uint64_t entries, bytes;

		bundle_info_totals(info, &entries, &bytes);
		(void)bundle_info_stat(info, "appspec.yml", NULL);
		if (text && appspec_parse(text, len, name, &spec, err, sizeof(err)) == 0) {
			(void)bundle_check_appspec(info, spec, true, err, sizeof(err));
			appspec_free(spec);
		}
		bundle_info_free(info);
	}
	return 0;
}
