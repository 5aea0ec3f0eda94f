/* rolloutctl's pure helpers: tags, tag filters, revisions, min-healthy values,
 * durations, tables, agent config rendering, settings from the AWS shared files. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/cli.h"

static void assert_json(json_t *got, const char *want_text)
{
	json_error_t e;
	json_t *want = json_loads(want_text, 0, &e);
	char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);

	assert_non_null(want);
	if (!json_equal(got, want))
		fail_msg("got %s, want %s", g, want_text);
	free(g);
	json_decref(want);
}

static void test_tags(void **state)
{
	json_t *a = NULL;
	char err[256] = "";

	assert_int_equal(cli_parse_tags("env=prod,role=web", &a, err, sizeof(err)), 0);
	assert_json(a, "[{\"Key\":\"env\",\"Value\":\"prod\"},{\"Key\":\"role\",\"Value\":\"web\"}]");
	/* appends; value may contain '='; key without value */
	assert_int_equal(cli_parse_tags("a=b=c,solo", &a, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(a), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 2), "Value")), "b=c");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 3), "Value")), "");
	json_decref(a);
	a = NULL;
	/* empty items are skipped */
	assert_int_equal(cli_parse_tags("x=1,,", &a, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(a), 1);
	json_decref(a);
	a = NULL;
	assert_int_equal(cli_parse_tags("=v", &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no key"));
	assert_null(a);
	assert_int_equal(cli_parse_tags("", &a, err, sizeof(err)), -EINVAL);
	assert_null(a);
}

static void test_tag_filters(void **state)
{
	json_t *a = NULL;
	char err[256] = "";

	assert_int_equal(cli_parse_tag_filters("env=prod,role,=blue", &a, err, sizeof(err)), 0);
	assert_json(a, "[{\"Key\":\"env\",\"Value\":\"prod\",\"Type\":\"KEY_AND_VALUE\"},"
		       "{\"Key\":\"role\",\"Type\":\"KEY_ONLY\"},"
		       "{\"Value\":\"blue\",\"Type\":\"VALUE_ONLY\"}]");
	json_decref(a);
	a = NULL;
	assert_int_equal(cli_parse_tag_filters("=", &a, err, sizeof(err)), -EINVAL);
}

static void test_revision(void **state)
{
	json_t *r = NULL;
	char err[256] = "", *d;

	assert_int_equal(cli_parse_revision("s3://bkt/path/app.zip", &r, err, sizeof(err)), 0);
	assert_json(r, "{\"revisionType\":\"S3\",\"s3Location\":{\"bucket\":\"bkt\",\"key\":\"path/app.zip\","
		       "\"bundleType\":\"zip\"}}");
	d = cli_revision_describe(r);
	assert_string_equal(d, "s3://bkt/path/app.zip");
	free(d);
	json_decref(r);

	assert_int_equal(cli_parse_revision("s3://b/k.bin?bundleType=tgz&version=v1&eTag=abc", &r, err, sizeof(err)),
			 0);
	assert_json(r, "{\"revisionType\":\"S3\",\"s3Location\":{\"bucket\":\"b\",\"key\":\"k.bin\","
		       "\"bundleType\":\"tgz\",\"version\":\"v1\",\"eTag\":\"abc\"}}");
	json_decref(r);

	assert_int_equal(cli_parse_revision("s3://b/k.bin", &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bundleType"));
	assert_int_equal(cli_parse_revision("s3://bucketonly", &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(cli_parse_revision("s3://b/k.zip?colour=red", &r, err, sizeof(err)), -EINVAL);

	assert_int_equal(
	    cli_parse_revision("github:me/app@0123456789abcdef0123456789abcdef01234567", &r, err, sizeof(err)), 0);
	assert_json(r, "{\"revisionType\":\"GitHub\",\"gitHubLocation\":{\"repository\":\"me/app\","
		       "\"commitId\":\"0123456789abcdef0123456789abcdef01234567\"}}");
	d = cli_revision_describe(r);
	assert_string_equal(d, "github:me/app@0123456789ab");
	free(d);
	json_decref(r);
	assert_int_equal(cli_parse_revision("github:me/app@main", &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "commit"));
	assert_int_equal(cli_parse_revision("github:app@abc", &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(cli_parse_revision("ftp://x", &r, err, sizeof(err)), -EINVAL);

	/* rolloutd's Bitbucket and HTTP extensions (docs/api-extensions.md §1.2, §1.3) */
	assert_int_equal(
	    cli_parse_revision("bitbucket:team/site@0123456789abcdef0123456789abcdef01234567", &r, err, sizeof(err)),
	    0);
	assert_json(r, "{\"revisionType\":\"Bitbucket\",\"bitbucketLocation\":{\"repository\":\"team/site\","
		       "\"commitId\":\"0123456789abcdef0123456789abcdef01234567\"}}");
	d = cli_revision_describe(r);
	assert_string_equal(d, "bitbucket:team/site@0123456789ab");
	free(d);
	json_decref(r);
	assert_int_equal(cli_parse_revision_ext("bitbucket:PROJ/site@abc1234", NULL, "tgz", &r, err, sizeof(err)), 0);
	assert_json(r, "{\"revisionType\":\"Bitbucket\",\"bitbucketLocation\":{\"repository\":\"PROJ/site\","
		       "\"commitId\":\"abc1234\",\"bundleType\":\"tgz\"}}");
	json_decref(r);
	assert_int_equal(cli_parse_revision("bitbucket:team/site@main", &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "git rev-parse"));
	assert_int_equal(cli_parse_revision("bitbucket:site@abc", &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bitbucket:WORKSPACE/REPO@COMMIT"));
	assert_int_equal(cli_parse_revision("bitbucket:a/b/c@abc", &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(cli_parse_revision_ext("bitbucket:a/b@abc", NULL, "tar", &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "zip or tgz"));

	{
		const char *h = "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
		const char *lh = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
		char src[512], want[512];

		snprintf(src, sizeof(src), "https://files.example.com/rel/app-1.4.tgz?sig=x#sha256=%s", h);
		assert_int_equal(cli_parse_revision(src, &r, err, sizeof(err)), 0);
		snprintf(want, sizeof(want),
			 "{\"revisionType\":\"HTTP\",\"httpLocation\":{\"url\":\"https://files.example.com/rel/"
			 "app-1.4.tgz?sig=x\",\"sha256\":\"%s\",\"bundleType\":\"tgz\"}}",
			 lh);
		assert_json(r, want);
		d = cli_revision_describe(r);
		assert_string_equal(d, "https://files.example.com/rel/app-1.4.tgz?sig=x#sha256=abcdef012345");
		free(d);
		json_decref(r);
		/* --sha256 and --bundle-type; no type from a path without suffix */
		assert_int_equal(cli_parse_revision_ext("http://h:8000/dl", lh, "zip", &r, err, sizeof(err)), 0);
		snprintf(want, sizeof(want),
			 "{\"revisionType\":\"HTTP\",\"httpLocation\":{\"url\":\"http://h:8000/dl\",\"sha256\":\"%s\","
			 "\"bundleType\":\"zip\"}}",
			 lh);
		assert_json(r, want);
		json_decref(r);
		snprintf(src, sizeof(src), "http://h/dl#bundleType=tar&sha256=%s", lh);
		assert_int_equal(cli_parse_revision(src, &r, err, sizeof(err)), 0);
		assert_string_equal(
		    json_string_value(json_object_get(json_object_get(r, "httpLocation"), "bundleType")), "tar");
		json_decref(r);
		assert_int_equal(cli_parse_revision_ext("http://h/dl", lh, NULL, &r, err, sizeof(err)), 0);
		assert_null(json_object_get(json_object_get(r, "httpLocation"), "bundleType"));
		json_decref(r);
		/* the same hash twice is fine, two different ones are not */
		snprintf(src, sizeof(src), "https://h/a.zip#sha256=%s", lh);
		assert_int_equal(cli_parse_revision_ext(src, h, NULL, &r, err, sizeof(err)), 0);
		json_decref(r);
		assert_int_equal(
		    cli_parse_revision_ext(src, "0000000000000000000000000000000000000000000000000000000000000000",
					   NULL, &r, err, sizeof(err)),
		    -EINVAL);
		assert_non_null(strstr(err, "differ"));
	}
	assert_int_equal(cli_parse_revision("https://h/a.zip", &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "needs the bundle's sha256"));
	assert_int_equal(cli_parse_revision("https://h/a.zip#sha256=abc", &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "64 hex digits"));
	assert_int_equal(cli_parse_revision("https://h/a.zip#md5=abc", &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(cli_parse_revision_ext("https://h/a.zip", "xyz", NULL, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--sha256"));
	assert_int_equal(cli_parse_revision_ext("s3://b/k.zip", "00", NULL, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "http:// and https://"));
	assert_true(cli_is_revision_location("bitbucket:a/b@c"));
	assert_true(cli_is_revision_location("https://x"));
	assert_false(cli_is_revision_location("./site"));

	/* Extension revisions are described by type and hash. */
	r = json_pack("{s:s, s:{s:s, s:s}}", "revisionType", "Bundle", "bundleLocation", "sha256",
		      "aabbccddeeff00112233", "bundleType", "zip");
	d = cli_revision_describe(r);
	assert_string_equal(d, "Bundle:sha256:aabbccddeeff");
	free(d);
	json_decref(r);
}

static void test_bundle_type(void **state)
{
	assert_string_equal(cli_bundle_type_from_name("a.ZIP"), "zip");
	assert_string_equal(cli_bundle_type_from_name("a.tar.gz"), "tgz");
	assert_string_equal(cli_bundle_type_from_name("a.tgz"), "tgz");
	assert_string_equal(cli_bundle_type_from_name("a.tar"), "tar");
	assert_null(cli_bundle_type_from_name("a.rar"));
}

static void test_min_healthy(void **state)
{
	json_t *o = NULL;
	char err[256];

	assert_int_equal(cli_parse_min_healthy("HOST_COUNT:2", &o, err, sizeof(err)), 0);
	assert_json(o, "{\"type\":\"HOST_COUNT\",\"value\":2}");
	json_decref(o);
	assert_int_equal(cli_parse_min_healthy("FLEET_PERCENT:50", &o, err, sizeof(err)), 0);
	assert_json(o, "{\"type\":\"FLEET_PERCENT\",\"value\":50}");
	json_decref(o);
	assert_int_equal(cli_parse_min_healthy("75%", &o, err, sizeof(err)), 0);
	assert_json(o, "{\"type\":\"FLEET_PERCENT\",\"value\":75}");
	json_decref(o);
	assert_int_equal(cli_parse_min_healthy("3", &o, err, sizeof(err)), 0);
	assert_json(o, "{\"type\":\"HOST_COUNT\",\"value\":3}");
	json_decref(o);
	assert_int_equal(cli_parse_min_healthy("FLEET_PERCENT:100", &o, err, sizeof(err)), -EINVAL);
	assert_int_equal(cli_parse_min_healthy("two", &o, err, sizeof(err)), -EINVAL);
	assert_int_equal(cli_parse_min_healthy("-1", &o, err, sizeof(err)), -EINVAL);
	assert_int_equal(cli_parse_min_healthy("HOST_COUNT:2x", &o, err, sizeof(err)), -EINVAL);
}

static void test_duration(void **state)
{
	int s = -1;

	assert_int_equal(cli_parse_duration("90", &s), 0);
	assert_int_equal(s, 90);
	assert_int_equal(cli_parse_duration("90s", &s), 0);
	assert_int_equal(s, 90);
	assert_int_equal(cli_parse_duration("5m", &s), 0);
	assert_int_equal(s, 300);
	assert_int_equal(cli_parse_duration("2h", &s), 0);
	assert_int_equal(s, 7200);
	assert_int_equal(cli_parse_duration("5w", &s), -EINVAL);
	assert_int_equal(cli_parse_duration("", &s), -EINVAL);
	assert_int_equal(cli_parse_duration("-3", &s), -EINVAL);
	assert_int_equal(cli_parse_duration("999999h", &s), -EINVAL);
	/* lib/duration's units; whole seconds, rounded up so that a short
	 * timeout does not become none */
	assert_int_equal(cli_parse_duration("1.5m", &s), 0);
	assert_int_equal(s, 90);
	assert_int_equal(cli_parse_duration("500ms", &s), 0);
	assert_int_equal(s, 1);
	assert_int_equal(cli_parse_duration("168h", &s), 0);
	assert_int_equal(cli_parse_duration("169h", &s), -EINVAL);
	assert_int_equal(cli_parse_duration("1d", &s), 0);
	assert_int_equal(s, 86400);
	assert_int_equal(cli_parse_duration("8d", &s), -EINVAL);
}

static char *render_table(struct table *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	table_print(t, f);
	fclose(f);
	return buf;
}

static void test_table(void **state)
{
	static const char *const cols[] = {"applicationName", "status", "x"};
	struct table *t = table_new(3, cols);
	char *out;

	assert_non_null(t);
	assert_int_equal(table_add_rowv(t, "web", "Succeeded", "1"), 0);
	assert_int_equal(table_add_rowv(t, "a-longer-name", NULL, "multi\nline"), 0);
	assert_int_equal(table_rows(t), 2);
	out = render_table(t);
	assert_string_equal(out, "APPLICATION NAME  STATUS     X\n"
				 "web               Succeeded  1\n"
				 "a-longer-name     -          multi line\n");
	free(out);
	table_free(t);
	assert_null(table_free(NULL));
}

static void test_fmt(void **state)
{
	char b[64];
	json_t *ts = json_real(1795400254.5);

	assert_string_equal(cli_fmt_elapsed(5, b, sizeof(b)), "5s");
	assert_string_equal(cli_fmt_elapsed(65, b, sizeof(b)), "1m05s");
	assert_string_equal(cli_fmt_elapsed(7380, b, sizeof(b)), "2h03m");
	assert_string_equal(cli_fmt_elapsed(-3, b, sizeof(b)), "0s");
	assert_string_equal(cli_fmt_time(ts, b, sizeof(b)), "2026-11-23 02:17:34Z");
	json_decref(ts);
	ts = json_string("1795400254");
	assert_string_equal(cli_fmt_time(ts, b, sizeof(b)), "2026-11-23 02:17:34Z");
	json_decref(ts);
	assert_string_equal(cli_fmt_time(NULL, b, sizeof(b)), "-");
}

static void test_agent_config(void **state)
{
	struct agent_config a = {
	    .endpoint = "http://127.0.0.1:8740",
	    .host_identifier = "arn:aws:iam::000000000000:user/rollout/web-1",
	    .access_key_id = "AKRDX",
	    .secret_access_key = "s3cr\"et\\/x",
	    .region = "us-east-1",
	    .root_dir = "/var/lib/rollout-agent",
	    .log_dir = "/var/log/rollout-agent",
	};
	char *y = agent_config_render(&a);

	assert_non_null(y);
	assert_non_null(strstr(y, "\nendpoint: \"http://127.0.0.1:8740\"\n"));
	assert_non_null(strstr(y, "\nhost_identifier: \"arn:aws:iam::000000000000:user/rollout/web-1\"\n"));
	assert_non_null(strstr(y, "\nsecret_access_key: \"s3cr\\\"et\\\\/x\"\n"));
	assert_non_null(strstr(y, "\nroot_dir: \"/var/lib/rollout-agent\"\n"));
	assert_non_null(strstr(y, "# daemon_cert:"));
	free(y);
	a.daemon_cert = "/srv/rd/daemon.crt";
	y = agent_config_render(&a);
	assert_non_null(strstr(y, "\ndaemon_cert: \"/srv/rd/daemon.crt\"\n"));
	free(y);
}

static void test_settings(void **state)
{
	struct cli c = {0};
	char err[512] = "";
	char path[] = "/tmp/test_cli_credXXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fputs("[ci]\naws_access_key_id=AKCI\naws_secret_access_key=SECCI\nregion=ap-south-1\n", f);
	fclose(f);
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_SESSION_TOKEN");
	setenv("AWS_CONFIG_FILE", "/nonexistent", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SECENV", 1);

	/* no endpoint */
	unsetenv("ROLLOUT_ENDPOINT");
	assert_int_equal(cli_settings_resolve(&c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "ROLLOUT_ENDPOINT"));
	cli_settings_free(&c);

	/* environment; scheme added, trailing slash dropped, default region */
	setenv("ROLLOUT_ENDPOINT", "127.0.0.1:8740/", 1);
	assert_int_equal(cli_settings_resolve(&c, err, sizeof(err)), 0);
	assert_string_equal(c.endpoint, "http://127.0.0.1:8740");
	assert_string_equal(c.access_key_id, "AKENV");
	assert_string_equal(c.region, "us-east-1");
	cli_settings_free(&c);

	/* --profile wins over the environment's keys */
	c.profile = strdup("ci");
	assert_int_equal(cli_settings_resolve(&c, err, sizeof(err)), 0);
	assert_string_equal(c.access_key_id, "AKCI");
	assert_string_equal(c.secret_access_key, "SECCI");
	assert_string_equal(c.region, "ap-south-1");
	cli_settings_free(&c);

	/* a profile without keys is an error that names it */
	c.profile = strdup("missing");
	assert_int_equal(cli_settings_resolve(&c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "'missing'"));
	cli_settings_free(&c);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tags),	cmocka_unit_test(test_tag_filters), cmocka_unit_test(test_revision),
	    cmocka_unit_test(test_bundle_type), cmocka_unit_test(test_min_healthy), cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_table),	cmocka_unit_test(test_fmt),	    cmocka_unit_test(test_agent_config),
	    cmocka_unit_test(test_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
