/* daemon/store: migrations, file mode, access keys, built-in configs and the
 * API queries' main invariants. */
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
#include "store/store.h"

static void test_open_migrate_mode(void **state)
{
	char *dir = tu_mkdtemp(), path[4200], err[512];
	struct store *st = NULL;
	struct stat sb;
	int v = 0;

	snprintf(path, sizeof(path), "%s/data", dir);
	assert_int_equal(store_open(path, &st, err, sizeof(err)), 0);
	assert_int_equal(store_schema_version(st, &v), 0);
	assert_true(v >= 2);
	st = store_close(st);
	assert_null(st);
	snprintf(path, sizeof(path), "%s/data/state.db", dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* reopening applies nothing twice */
	snprintf(path, sizeof(path), "%s/data", dir);
	assert_int_equal(store_open(path, &st, err, sizeof(err)), 0);
	json_t *names = NULL;
	bool more = true;
	assert_int_equal(store_config_list(st, NULL, 100, &names, &more), 0);
	assert_int_equal(json_array_size(names), 17);
	assert_false(more);
	json_decref(names);
	store_close(st);
	tu_rm_rf(dir);
}

static void test_unusable_dir(void **state)
{
	char *dir = tu_mkdtemp(), path[4200], err[512] = "";
	struct store *st = NULL;

	/* data_dir below a regular file cannot be created, even by root */
	tu_write(dir, "file", "x");
	snprintf(path, sizeof(path), "%s/file/data", dir);
	assert_true(store_open(path, &st, err, sizeof(err)) < 0);
	assert_null(st);
	assert_non_null(strstr(err, "data_dir"));
	tu_rm_rf(dir);
}

static void test_access_keys(void **state)
{
	char *dir = tu_mkdtemp(), err[512];
	struct store *st = NULL;
	struct store_access_key k, got, agent;
	json_t *list = NULL;

	assert_int_equal(store_open(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(store_access_key_create(st, "ci", "deployer", NULL, &k, err, sizeof(err)), 0);
	assert_int_equal(strlen(k.id), STORE_KEY_ID_LEN);
	assert_int_equal(strlen(k.secret), STORE_SECRET_LEN);
	assert_int_equal(store_access_key_get(st, k.id, &got), 0);
	assert_string_equal(got.secret, k.secret);
	assert_string_equal(got.policy, "deployer");
	assert_string_equal(got.instance, "");
	assert_int_equal(store_access_key_create(st, "h", "agent", "host-1", &agent, err, sizeof(err)), 0);
	assert_int_equal(store_access_key_get(st, agent.id, &got), 0);
	assert_string_equal(got.instance, "host-1");
	assert_int_equal(store_access_key_create(st, "x", "root", NULL, &got, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "admin, deployer, readonly or agent"));
	assert_int_equal(store_access_key_create(st, "x", "agent", NULL, &got, err, sizeof(err)), -EINVAL);
	assert_int_equal(store_access_key_create(st, "x", "admin", "host", &got, err, sizeof(err)), -EINVAL);
	assert_int_equal(store_access_key_create(st, "", "admin", NULL, &got, err, sizeof(err)), -EINVAL);
	assert_int_equal(store_access_key_list(st, &list), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_null(json_object_get(json_array_get(list, 0), "SecretAccessKey"));
	json_decref(list);
	assert_int_equal(store_access_key_delete(st, k.id), 0);
	assert_int_equal(store_access_key_delete(st, k.id), -ENOENT);
	assert_int_equal(store_access_key_get(st, k.id, &got), -ENOENT);
	store_close(st);
	tu_rm_rf(dir);
}

static void test_app_group_cascade(void **state)
{
	char *dir = tu_mkdtemp(), err[512], id[37];
	struct store *st = NULL;
	json_t *info = NULL, *doc = json_pack("{s:s}", "serviceRoleArn", "arn:r");

	assert_int_equal(store_open(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(store_app_create(st, "a", "Server", id), 0);
	assert_int_equal(store_app_create(st, "a", "Server", id), -EEXIST);
	assert_int_equal(store_group_create(st, "a", "g", "CodeDeployDefault.OneAtATime", doc, id), 0);
	assert_int_equal(store_group_create(st, "nope", "g", "CodeDeployDefault.OneAtATime", doc, id), -ENOENT);
	assert_int_equal(store_config_delete(st, "CodeDeployDefault.OneAtATime"), -EPERM);
	json_t *tags = json_pack("[{s:s, s:s}]", "Key", "k", "Value", "v");
	assert_int_equal(store_tags_set(st, "arn:app/a", tags), 0);
	assert_int_equal(store_tags_set(st, "arn:grp/a/g", tags), 0);
	json_decref(tags);
	assert_int_equal(store_app_rename(st, "a", "b", "arn:app/a", "arn:app/b", "arn:grp/a/", "arn:grp/b/"), 0);
	assert_int_equal(store_group_get(st, "b", "g", &info), 0);
	assert_string_equal(json_string_value(json_object_get(info, "applicationName")), "b");
	assert_string_equal(json_string_value(json_object_get(info, "serviceRoleArn")), "arn:r");
	json_decref(info);
	assert_int_equal(store_tags_list(st, "arn:grp/b/g", &tags), 0);
	assert_int_equal(json_array_size(tags), 1);
	json_decref(tags);
	assert_int_equal(store_app_delete(st, "b", "arn:app/b", "arn:grp/b/"), 0);
	assert_int_equal(store_group_get(st, "b", "g", &info), -ENOENT);
	assert_int_equal(store_tags_list(st, "arn:grp/b/g", &tags), 0);
	assert_int_equal(json_array_size(tags), 0);
	json_decref(tags);
	json_decref(doc);
	store_close(st);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_open_migrate_mode),
	    cmocka_unit_test(test_unusable_dir),
	    cmocka_unit_test(test_access_keys),
	    cmocka_unit_test(test_app_group_cascade),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
