/* Extraction safety and pre-flight inspection: a corpus of hostile archives
 * built here with libarchive's writer. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "appspec.h"
#include "bundle.h"
#include "util.h"

enum kind { F, D, L, H, DEV };
struct ent {
	enum kind k;
	const char *path;
	const char *data; /* file content, or link target */
	int mode;
};

static char tmpdir[256];

static void mkbundle(const char *path, int zip, bool gz, const struct ent *ents, size_t n)
{
	struct archive *a = archive_write_new();
	if (zip)
		archive_write_set_format_zip(a);
	else
		archive_write_set_format_pax_restricted(a);
	if (gz)
		archive_write_add_filter_gzip(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, ents[i].path);
		archive_entry_set_perm(e, ents[i].mode ? ents[i].mode : 0644);
		switch (ents[i].k) {
		case F:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, strlen(ents[i].data));
			break;
		case D:
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			break;
		case L:
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, ents[i].data);
			break;
		case H:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, ents[i].data);
			break;
		case DEV:
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_rdev(e, 0x0103);
			break;
		}
		assert_true(archive_write_header(a, e) >= ARCHIVE_WARN);
		if (ents[i].k == F)
			archive_write_data(a, ents[i].data, strlen(ents[i].data));
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
}

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/rollout-bundle-test-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* only bundle.* and out/ may exist in tmpdir after an extraction */
static void assert_nothing_outside(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strncmp(de->d_name, "bundle", 6) == 0 || strcmp(de->d_name, "out") == 0)
			continue;
		fail_msg("extraction wrote %s/%s outside its target", tmpdir, de->d_name);
	}
	closedir(d);
}

static void hostile(const char *name, int zip, const struct ent *ents, size_t n, int want, const char *msg)
{
	char b[300], out[300], cmd[400], err[512] = "";
	struct bundle_info *info = NULL;
	int r;

	snprintf(b, sizeof(b), "%s/bundle-%s", tmpdir, name);
	snprintf(out, sizeof(out), "%s/out", tmpdir);
	mkbundle(b, zip, false, ents, n);
	r = bundle_extract(b, out, NULL, err, sizeof(err));
	if (r != want || !strstr(err, msg))
		fail_msg("%s: extract gave %d '%s', wanted %d '%s'", name, r, err, want, msg);
	assert_nothing_outside();
	err[0] = 0;
	r = bundle_inspect(b, NULL, NULL, &info, err, sizeof(err));
	if (r != want || !strstr(err, msg))
		fail_msg("%s: inspect gave %d '%s', wanted %d '%s'", name, r, err, want, msg);
	assert_null(info);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", out);
	assert_int_equal(system(cmd), 0);
}

static void test_hostile_corpus(void **state)
{
	for (int zip = 0; zip < 2; zip++) {
		const struct ent abs[] = {{F, "ok.txt", "x", 0}, {F, "/tmp/rollout-evil-abs", "evil", 0}};
		hostile("abs", zip, abs, 2, -EINVAL, "has an absolute path");
		const struct ent dotdot[] = {{F, "a/../../evil", "evil", 0}};
		hostile("dotdot", zip, dotdot, 1, -EINVAL, "contains '..'");
		const struct ent dotdot2[] = {{F, "../evil", "evil", 0}};
		hostile("dotdot2", zip, dotdot2, 1, -EINVAL, "contains '..'");
		const struct ent symabs[] = {{L, "link", "/etc", 0}, {F, "link/evil", "evil", 0}};
		hostile("symabs", zip, symabs, 2, -EINVAL, "points outside the bundle");
		const struct ent symrel[] = {{D, "a", NULL, 0}, {L, "a/link", "../../x", 0}};
		hostile("symrel", zip, symrel, 2, -EINVAL, "points outside the bundle");
	}
	const struct ent hlabs[] = {{H, "h", "/etc/passwd", 0}};
	hostile("hlabs", 0, hlabs, 1, -EINVAL, "hardlink to '/etc/passwd'");
	const struct ent hldot[] = {{H, "h", "../../etc/passwd", 0}};
	hostile("hldot", 0, hldot, 1, -EINVAL, "outside the bundle");
	const struct ent dev[] = {{DEV, "tty", NULL, 0}};
	hostile("dev", 0, dev, 1, -EINVAL, "is a device, fifo or socket");

	/* symlink inside the bundle, then a write through it: refused by extraction */
	{
		char b[300], out[300], err[512] = "";
		const struct ent through[] = {{D, "sub", NULL, 0}, {L, "lnk", "sub", 0}, {F, "lnk/f", "x", 0}};
		snprintf(b, sizeof(b), "%s/bundle-through", tmpdir);
		snprintf(out, sizeof(out), "%s/out", tmpdir);
		mkbundle(b, 0, false, through, 3);
		assert_int_equal(bundle_extract(b, out, NULL, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "'lnk/f' passes through the symlink 'lnk'"));
		assert_nothing_outside();
		assert_int_equal(system("rm -rf /tmp/rollout-bundle-test-*/out"), 0);
	}
}

static void test_limits(void **state)
{
	char b[300], out[300], err[512] = "";
	struct bundle_limits lim;
	struct ent many[20];
	char names[20][16];

	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "f%d", i);
		many[i] = (struct ent){F, names[i], "x", 0};
	}
	snprintf(b, sizeof(b), "%s/bundle-many", tmpdir);
	snprintf(out, sizeof(out), "%s/out", tmpdir);
	mkbundle(b, 0, false, many, 20);
	bundle_limits_default(&lim);
	lim.max_entries = 10;
	assert_int_equal(bundle_extract(b, out, &lim, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "more than 10 entries"));

	bundle_limits_default(&lim);
	lim.max_bytes = 10;
	assert_int_equal(bundle_extract(b, out, &lim, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "unpacks to more than 10 bytes"));

	/* a gzip bomb: 80 MiB of zeros, ~80 KiB packed */
	{
		struct archive *a = archive_write_new();
		struct archive_entry *e = archive_entry_new();
		static char zeros[1 << 20];
		snprintf(b, sizeof(b), "%s/bundle-bomb", tmpdir);
		archive_write_set_format_pax_restricted(a);
		archive_write_add_filter_gzip(a);
		archive_write_set_filter_option(a, "gzip", "compression-level", "9");
		assert_int_equal(archive_write_open_filename(a, b), ARCHIVE_OK);
		archive_entry_set_pathname(e, "zeros");
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, 80 << 20);
		archive_write_header(a, e);
		for (int i = 0; i < 80; i++)
			archive_write_data(a, zeros, sizeof(zeros));
		archive_entry_free(e);
		archive_write_close(a);
		archive_write_free(a);
		assert_int_equal(system("rm -rf /tmp/rollout-bundle-test-*/out"), 0);
		assert_int_equal(bundle_extract(b, out, NULL, err, sizeof(err)), -EFBIG);
		assert_non_null(strstr(err, "decompression bomb"));
		struct bundle_info *info = NULL;
		assert_int_equal(bundle_inspect(b, NULL, NULL, &info, err, sizeof(err)), -EFBIG);
	}
}

static void test_good_bundle(void **state)
{
	const char *appspec = "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/run.sh\n";
	const struct ent good[] = {
	    {D, "myapp-1.2", NULL, 0},
	    {F, "myapp-1.2/appspec.yml", appspec, 0},
	    {D, "myapp-1.2/scripts", NULL, 0},
	    {F, "myapp-1.2/scripts/run.sh", "#!/bin/sh\necho hi\n", 04755},
	    {F, "myapp-1.2/scripts/plain.sh", "#!/bin/sh\n", 0644},
	    {L, "myapp-1.2/current", "scripts", 0},
	    {H, "myapp-1.2/hard", "myapp-1.2/scripts/plain.sh", 0},
	};
	char b[300], out[300], p[400], err[512] = "";
	struct bundle_info *info = NULL;
	struct appspec *spec = NULL;
	const char *text, *name;
	size_t len;
	mode_t m;
	struct stat st;

	for (int zip = 0; zip < 2; zip++) {
		snprintf(b, sizeof(b), "%s/bundle-good%d", tmpdir, zip);
		snprintf(out, sizeof(out), "%s/out", tmpdir);
		mkbundle(b, zip, !zip, good, zip ? 6 : 7);
		if (bundle_inspect(b, NULL, NULL, &info, err, sizeof(err)) < 0)
			fail_msg("inspect: %s", err);
		text = bundle_info_appspec(info, &len, &name);
		assert_non_null(text);
		assert_string_equal(text, appspec);
		assert_string_equal(name, "appspec.yml");
		assert_int_equal(bundle_info_stat(info, "scripts/run.sh", &m), 0);
		assert_true(S_ISREG(m) && (m & 0111));
		assert_int_equal(bundle_info_stat(info, "/scripts/", &m), 0);
		assert_true(S_ISDIR(m));
		assert_int_equal(bundle_info_stat(info, "nope.sh", &m), -ENOENT);
		assert_int_equal(appspec_parse(text, len, name, &spec, err, sizeof(err)), 0);
		assert_int_equal(bundle_check_appspec(info, spec, true, err, sizeof(err)), 0);
		spec = appspec_free(spec);
		const char *bad = "version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: scripts/plain.sh\n"
				  "  ApplicationStart:\n    - location: missing.sh\n";
		assert_int_equal(appspec_parse(bad, strlen(bad), name, &spec, err, sizeof(err)), 0);
		assert_int_equal(bundle_check_appspec(info, spec, true, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "script 'scripts/plain.sh' is not executable"));
		assert_int_equal(bundle_check_appspec(info, spec, false, err, sizeof(err)), -EINVAL);
		assert_non_null(
		    strstr(err, "hooks.ApplicationStart[0].location: script 'missing.sh' is not in the bundle"));
		spec = appspec_free(spec);
		info = bundle_info_free(info);

		if (bundle_extract(b, out, NULL, err, sizeof(err)) < 0)
			fail_msg("extract: %s", err);
		snprintf(p, sizeof(p), "%s/appspec.yml", out);
		assert_int_equal(stat(p, &st), 0); /* leading directory stripped */
		snprintf(p, sizeof(p), "%s/scripts/run.sh", out);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0755); /* setuid dropped */
		snprintf(p, sizeof(p), "%s/current", out);
		assert_int_equal(lstat(p, &st), 0);
		assert_true(S_ISLNK(st.st_mode));
		assert_nothing_outside();
		assert_int_equal(system("rm -rf /tmp/rollout-bundle-test-*/out"), 0);
	}
	/* AppSpecFilename, then appspec.yaml, then appspec.yml */
	const struct ent two[] = {{F, "appspec.yml", "a", 0}, {F, "appspec.yaml", "b", 0}, {F, "custom.yml", "c", 0}};
	snprintf(b, sizeof(b), "%s/bundle-two", tmpdir);
	mkbundle(b, 0, false, two, 3);
	assert_int_equal(bundle_inspect(b, NULL, NULL, &info, err, sizeof(err)), 0);
	assert_string_equal(bundle_info_appspec(info, NULL, NULL), "a"); /* default AppSpecFilename first */
	info = bundle_info_free(info);
	assert_int_equal(bundle_inspect(b, "other.yml", NULL, &info, err, sizeof(err)), 0);
	assert_string_equal(bundle_info_appspec(info, NULL, NULL), "b"); /* then appspec.yaml */
	info = bundle_info_free(info);
	assert_int_equal(bundle_inspect(b, "custom.yml", NULL, &info, err, sizeof(err)), 0);
	assert_string_equal(bundle_info_appspec(info, NULL, NULL), "c");
	info = bundle_info_free(info);
	/* not an archive */
	snprintf(b, sizeof(b), "%s/bundle-junk", tmpdir);
	FILE *f = fopen(b, "w");
	fputs("this is not an archive at all\n", f);
	fclose(f);
	assert_int_equal(bundle_inspect(b, NULL, NULL, &info, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not a zip, tar or tgz archive"));
}

/* Corrupted zip/tar/tgz bundles: inspection and extraction fail cleanly or
 * succeed, never crash, leak, or write outside the target. */
static void test_corrupt_bundles(void **state)
{
	const struct ent good[] = {
	    {D, "app", NULL, 0},
	    {F, "app/appspec.yml", "version: 0.0\nos: linux\n", 0},
	    {F, "app/a.txt", "hello hello", 0},
	    {L, "app/l", "a.txt", 0},
	    {F, "app/b/c.sh", "#!/bin/sh\n", 0755},
	};
	char b[300], m[300], out[300], err[512];
	unsigned seed = 777;

	snprintf(out, sizeof(out), "%s/out", tmpdir);
	for (int fmt = 0; fmt < 3; fmt++) {
		char *data = NULL;
		size_t len = 0;
		snprintf(b, sizeof(b), "%s/bundle-src%d", tmpdir, fmt);
		mkbundle(b, fmt == 1, fmt == 2, good, 5);
		assert_int_equal(rd_read_file(b, 1 << 20, &data, &len), 0);
		for (int i = 0; i < 100; i++) {
			struct bundle_info *info = NULL;
			char *mut = malloc(len);
			FILE *f;
			int flips = 1 + (int)(rand_r(&seed) % 8);
			size_t mlen = len;
			memcpy(mut, data, len);
			for (int k = 0; k < flips; k++)
				mut[rand_r(&seed) % len] ^= (char)(1 + rand_r(&seed) % 255);
			if (rand_r(&seed) % 4 == 0)
				mlen = rand_r(&seed) % len;
			snprintf(m, sizeof(m), "%s/bundle-mut", tmpdir);
			f = fopen(m, "w");
			fwrite(mut, 1, mlen, f);
			fclose(f);
			free(mut);
			if (bundle_inspect(m, NULL, NULL, &info, err, sizeof(err)) == 0)
				bundle_info_free(info);
			bundle_extract(m, out, NULL, err, sizeof(err));
			assert_nothing_outside();
			if (rmdir(out) < 0 && errno != ENOENT) /* usually empty or absent: fork only when not */
				assert_int_equal(system("rm -rf /tmp/rollout-bundle-test-*/out"), 0);
		}
		free(data);
	}
}

/* pre-flight cost stays linear: 50 000 hardlinks to one file */
static void test_many_hardlinks_fast(void **state)
{
	char b[300], err[512] = "", name[32];
	struct archive *a = archive_write_new();
	struct bundle_info *info = NULL;
	int64_t t0;

	snprintf(b, sizeof(b), "%s/bundle-links", tmpdir);
	archive_write_set_format_ustar(a);
	assert_int_equal(archive_write_open_filename(a, b), ARCHIVE_OK);
	for (int i = 0; i <= 50000; i++) {
		struct archive_entry *e = archive_entry_new();
		snprintf(name, sizeof(name), "d/f%d", i);
		archive_entry_set_pathname(e, name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		if (i)
			archive_entry_set_hardlink(e, "d/f0");
		else
			archive_entry_set_size(e, 1);
		archive_write_header(a, e);
		if (!i)
			archive_write_data(a, "x", 1);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	t0 = rd_mono_ms();
	if (bundle_inspect(b, NULL, NULL, &info, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(bundle_info_stat(info, "d/f49999", NULL), 0);
	bundle_info_free(info);
	print_message("inspect of 50001 entries: %lld ms\n", (long long)(rd_mono_ms() - t0));
	/* quadratic work would take minutes; valgrind alone slows this ~20x */
	if (rd_mono_ms() - t0 > (getenv("VALGRIND") && strcmp(getenv("VALGRIND"), "1") == 0 ? 60000 : 5000))
		fail_msg("inspecting 50000 hardlinks took %lld ms", (long long)(rd_mono_ms() - t0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_hostile_corpus, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_good_bundle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_hardlinks_fast, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_bundles, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
