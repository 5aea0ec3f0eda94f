/* daemon/store/store_backup.c: a backup restores into a fresh data_dir with
 * the store's rows and the signing key; restore refuses a data_dir that
 * holds a store and a file that is not a backup. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "tmpdir.h"
#include "auth/auth_secret.h"
#include "store/store.h"
#include "util.h"

/* the error of the store call that failed (store_open, backup, restore) */
static struct rd_error rerr;

/* A fixed key-encryption key: the store seals access-key secrets with it. */
static const struct auth_kek *test_kek(void)
{
	static struct auth_kek *k;
	static const unsigned char raw[AUTH_KEK_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

	if (!k)
		assert_int_equal(auth_kek_from_bytes(raw, &k), 0);
	return k;
}

static void test_backup_restore(void **state)
{
	char *dir = tu_mkdtemp(), src[4200], out[4200], dst[4200], path[4300], err[512] = "";
	struct store *st = NULL;
	struct store_access_key k, got;
	struct stat sb;
	char *key = NULL;
	size_t len = 0;

	snprintf(src, sizeof(src), "%s/data", dir);
	snprintf(out, sizeof(out), "%s/backup.db", dir);
	snprintf(dst, sizeof(dst), "%s/restored", dir);
	assert_int_equal(store_open(src, &st, &rerr), 0);
	assert_int_equal(store_set_kek(st, test_kek(), &rerr), 0);
	tu_write(src, "daemon.key", "-----BEGIN PRIVATE KEY-----\nfixture\n");
	tu_write(src, "daemon.crt", "-----BEGIN CERTIFICATE-----\nfixture\n");
	assert_int_equal(store_access_key_create(st, "ci", "admin", NULL, &k, err, sizeof(err)), 0);
	assert_int_equal(store_backup(st, src, out, &rerr), 0);
	/* written after the backup: not in it */
	struct store_access_key later;
	assert_int_equal(store_access_key_create(st, "later", "readonly", NULL, &later, err, sizeof(err)), 0);
	store_close(st);
	assert_int_equal(stat(out, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	assert_int_equal(store_restore(out, dst, &rerr), 0);
	snprintf(path, sizeof(path), "%s/daemon.key", dst);
	assert_int_equal(rd_read_file(path, 4096, &key, &len), 0);
	assert_string_equal(key, "-----BEGIN PRIVATE KEY-----\nfixture\n");
	free(key);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0077, 0);
	assert_int_equal(store_open(dst, &st, &rerr), 0);
	assert_int_equal(store_set_kek(st, test_kek(), &rerr), 0);
	assert_int_equal(store_access_key_get(st, k.id, &got), 0);
	assert_string_equal(got.secret, k.secret);
	assert_int_equal(store_access_key_get(st, later.id, &got), -ENOENT);
	store_close(st);

	/* not over an existing store */
	assert_int_equal(store_restore(out, dst, &rerr), -EEXIST);
	assert_non_null(strstr(rerr.message, "fresh data_dir"));
	/* not from a file that is not a backup: the store itself */
	snprintf(path, sizeof(path), "%s/state.db", src);
	snprintf(dst, sizeof(dst), "%s/other", dir);
	assert_int_equal(store_restore(path, dst, &rerr), -EINVAL);
	assert_non_null(strstr(rerr.message, "not a rolloutd backup"));
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backup_restore),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
