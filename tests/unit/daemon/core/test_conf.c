/* daemon/core/conf.c: defaults, every setting, and the FILE:LINE:COL errors. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/conf.h"
#include "tmpdir.h"
#include "yamltree.h"

static char *dir;

static int setup(void **st)
{
	dir = tu_mkdtemp();
	return dir ? 0 : -1;
}

static int teardown(void **st)
{
	tu_rm_rf(dir);
	dir = NULL;
	return 0;
}

/* Loads text as a config; returns r and leaves the message in err. */
static int load(const char *text, struct rd_config **ret, char *err, size_t errlen)
{
	struct rd_error rerr = RD_ERROR_INIT;
	char path[4200];
	int r;

	tu_write(dir, "rolloutd.yaml", "%s", text);
	snprintf(path, sizeof(path), "%s/rolloutd.yaml", dir);
	r = config_load(path, ret, &rerr);
	snprintf(err, errlen, "%s", rerr.message);
	return r;
}

/* The error must be "DIR/rolloutd.yaml:" + suffix. */
static void expect_error(const char *text, const char *suffix)
{
	struct rd_config *cfg = NULL;
	char err[1024], want[2048];

	assert_int_equal(load(text, &cfg, err, sizeof(err)), -EINVAL);
	assert_null(cfg);
	snprintf(want, sizeof(want), "%s/rolloutd.yaml:%s", dir, suffix);
	assert_string_equal(err, want);
}

static void test_defaults(void **st)
{
	struct rd_config *cfg = NULL;
	char err[512];

	assert_int_equal(load("", &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg->listen, "127.0.0.1:8740");
	assert_string_equal(cfg->region, "us-east-1");
	assert_string_equal(cfg->account_id, "000000000000");
	assert_string_equal(cfg->log_level, "info");
	assert_string_equal(cfg->plugin_dir, PLUGINDIR);
	assert_string_equal(cfg->data_dir, LOCALSTATEDIR "/lib/rolloutd");
	assert_int_equal(cfg->long_poll_ms, 50000);
	assert_int_equal(cfg->workers, 4);
	assert_null(cfg->regions_allowed);
	assert_null(cfg->plugins);
	assert_null(cfg->alarms);
	assert_null(cfg->metrics_listen);
	assert_false(cfg->metrics_require_key);
	cfg = config_free(cfg);
	assert_null(config_free(NULL));
}

static void test_metrics(void **st)
{
	struct rd_config *cfg = NULL;
	char err[512];

	assert_int_equal(load("metrics_listen: 127.0.0.1:9740\nmetrics_require_key: true\n", &cfg, err, sizeof(err)),
			 0);
	assert_string_equal(cfg->metrics_listen, "127.0.0.1:9740");
	assert_true(cfg->metrics_require_key);
	cfg = config_free(cfg);
	expect_error("metrics_require_key: sometimes\n",
		     "1:22: metrics_require_key: expected true or false, found 'sometimes'");
}

static void test_all_settings(void **st)
{
	struct rd_config *cfg = NULL;
	char err[512], want[4200];

	assert_int_equal(load("listen: '[::1]:9000'\n"
			      "data_dir: data\n"
			      "plugin_dir: /opt/plugins\n"
			      "region: eu-west-1\n"
			      "account_id: '123456789012'\n"
			      "log_level: debug\n"
			      "long_poll: 20s\n"
			      "workers: 8\n"
			      "regions_allowed: [eu-west-1, us-east-1]\n"
			      "plugins:\n"
			      "  onprem:\n"
			      "  s3: {endpoint: 'http://127.0.0.1:1'}\n"
			      "  example-health: {}\n"
			      "alarms:\n"
			      "  web: {plugin: example-health, url: 'http://x/'}\n",
			      &cfg, err, sizeof(err)),
			 0);
	assert_string_equal(cfg->listen, "[::1]:9000");
	snprintf(want, sizeof(want), "%s/data", dir);
	assert_string_equal(cfg->data_dir, want); /* relative to the config file */
	assert_string_equal(cfg->plugin_dir, "/opt/plugins");
	assert_string_equal(cfg->region, "eu-west-1");
	assert_string_equal(cfg->account_id, "123456789012");
	assert_string_equal(cfg->log_level, "debug");
	assert_int_equal(cfg->long_poll_ms, 20000);
	assert_int_equal(cfg->workers, 8);
	assert_string_equal(cfg->regions_allowed[0], "eu-west-1");
	assert_string_equal(cfg->regions_allowed[1], "us-east-1");
	assert_null(cfg->regions_allowed[2]);
	assert_non_null(cfg->plugins);
	assert_int_equal(cfg->plugins->n, 3);
	assert_true(yt_is_null(config_plugin_settings(cfg, "onprem")));
	assert_string_equal(yt_map_get(config_plugin_settings(cfg, "s3"), "endpoint")->value, "http://127.0.0.1:1");
	assert_null(config_plugin_settings(cfg, "github"));
	assert_int_equal(cfg->alarms->n, 1);
	config_free(cfg);
}

static void test_unknown_keys(void **st)
{
	expect_error(
	    "listen: 127.0.0.1:1\nlisen: x\n",
	    "2:1: unknown setting 'lisen' (known: listen, data_dir, plugin_dir, region, account_id, log_level, "
	    "long_poll, workers, regions_allowed, plugins, alarms, bundle_cache_max, bundle_upload_max, retention, "
	    "metrics_listen, metrics_require_key, alarm_fallback_plugin, hook_timeout, kek_file, store, "
	    "store_password_file, instance_key_sweep, limits, tls, cluster)");
}

/* store: a PostgreSQL URI, its password file beside the config */
static void test_store_setting(void **st)
{
	struct rd_config *cfg = NULL;
	char err[1024], want[4200];

	assert_int_equal(load("listen: 127.0.0.1:1\n", &cfg, err, sizeof(err)), 0);
	assert_null(cfg->store);
	assert_null(cfg->store_password_file);
	cfg = config_free(cfg);
	assert_int_equal(load("store: postgresql://rolloutd@db.example/rolloutd?sslmode=verify-full\n"
			      "store_password_file: pw\n",
			      &cfg, err, sizeof(err)),
			 0);
	assert_string_equal(cfg->store, "postgresql://rolloutd@db.example/rolloutd?sslmode=verify-full");
	snprintf(want, sizeof(want), "%s/pw", dir);
	assert_string_equal(cfg->store_password_file, want);
	cfg = config_free(cfg);
	expect_error("store: /var/lib/rolloutd/state.db\n",
		     "1:8: store: must be a PostgreSQL connection URI (postgresql://USER@HOST/DB?...); leave it out to "
		     "keep the SQLite store in data_dir");
	expect_error("store_password_file: pw\n", "1:22: store_password_file: only with store: postgresql://... (the "
						  "SQLite store has no password)");
}

/* text is refused with a message containing part */
static void expect_error_has(const char *text, const char *part)
{
	struct rd_config *cfg = NULL;
	char err[1024];

	assert_int_equal(load(text, &cfg, err, sizeof(err)), -EINVAL);
	assert_null(cfg);
	if (!strstr(err, part))
		fail_msg("'%s' does not contain '%s'", err, part);
}

static void test_cluster_setting(void **st)
{
	struct rd_config *cfg = NULL;
	char err[1024];

	assert_int_equal(load("listen: 127.0.0.1:1\n", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->cluster_lease_ttl_ms, 5000);
	assert_null(cfg->cluster_advertise_url);
	cfg = config_free(cfg);
	assert_int_equal(
	    load("cluster: {lease_ttl: 2s, advertise_url: 'https://10.0.0.11:8740'}\n", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->cluster_lease_ttl_ms, 2000);
	assert_string_equal(cfg->cluster_advertise_url, "https://10.0.0.11:8740");
	cfg = config_free(cfg);
	expect_error_has("cluster: {lease_ttl: 100ms}\n", "cluster.lease_ttl");
	expect_error_has("cluster: {advertise_url: 10.0.0.11:8740}\n",
			 "cluster.advertise_url: expected http(s)://HOST:PORT, how the other daemons reach this "
			 "one's listener (e.g. https://10.0.0.11:8740), found '10.0.0.11:8740'");
	expect_error_has("cluster: {advertise_url: 'http://h:1/x'}\n", "cluster.advertise_url: expected");
	expect_error_has("cluster: {ttl: 5s}\n", "unknown setting 'ttl'");
	expect_error_has("cluster: 5s\n", "cluster: expected a mapping");
}

static void test_retention(void **st)
{
	struct rd_config *cfg = NULL;
	char err[1024];

	assert_int_equal(load("listen: 127.0.0.1:1\n", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->retention_deployments_ms, 0);
	assert_int_equal(cfg->retention_hook_logs_ms, 0);
	assert_int_equal(cfg->retention_interval_ms, 3600 * 1000);
	config_free(cfg);
	assert_int_equal(load("retention: {deployments: 90d, hook_logs: 36h, interval: 10m}\n", &cfg, err, sizeof(err)),
			 0);
	assert_int_equal(cfg->retention_deployments_ms, 90LL * 86400 * 1000);
	assert_int_equal(cfg->retention_hook_logs_ms, 36LL * 3600 * 1000);
	assert_int_equal(cfg->retention_interval_ms, 600 * 1000);
	config_free(cfg);
	expect_error("retention: 90d\n",
		     "1:12: retention: expected a mapping such as {deployments: 90d, hook_logs: 30d}");
	expect_error("retention:\n  deploys: 90d\n",
		     "2:3: retention: unknown setting 'deploys' (known: deployments, hook_logs, audit, interval)");
	expect_error("retention: {deployments: 10m}\n",
		     "1:26: retention.deployments: '10m' is out of range [3600000ms, 3153600000000ms]");
}

static void test_limits(void **st)
{
	struct rd_config *cfg = NULL;
	char err[1024];

	assert_int_equal(load("listen: 127.0.0.1:1\n", &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->limit_header_max, 64 * 1024);
	assert_int_equal(cfg->limit_body_max, 1024 * 1024);
	assert_int_equal(cfg->limit_request_timeout_ms, 120 * 1000);
	assert_int_equal(cfg->limit_failed_auth_per_minute, 60);
	config_free(cfg);
	assert_int_equal(load("long_poll: 5s\nlimits: {header_max: 16KiB, body_max: 256KiB, request_timeout: 30s, "
			      "failed_auth_per_minute: 0}\n",
			      &cfg, err, sizeof(err)),
			 0);
	assert_int_equal(cfg->limit_header_max, 16 * 1024);
	assert_int_equal(cfg->limit_body_max, 256 * 1024);
	assert_int_equal(cfg->limit_request_timeout_ms, 30 * 1000);
	assert_int_equal(cfg->limit_failed_auth_per_minute, 0);
	config_free(cfg);
	expect_error("limits: 1\n", "1:9: limits: expected a mapping such as {body_max: 1MiB, request_timeout: 60s}");
	expect_error("limits: {body_max: 10B}\n",
		     "1:20: limits.body_max: 10B is out of range (1024 bytes to 67108864 bytes)");
	expect_error("limits: {request_timeout: 20s}\n",
		     "1:27: limits.request_timeout must be longer than long_poll (50 s), or held polls would be cut");
}

static void test_bad_values(void **st)
{
	expect_error("listen: localhost\n",
		     "1:9: listen: expected HOST:PORT (e.g. 127.0.0.1:8740 or [::1]:8740), found 'localhost'");
	expect_error("listen: 'a:70000'\n",
		     "1:9: listen: expected HOST:PORT (e.g. 127.0.0.1:8740 or [::1]:8740), found 'a:70000'");
	expect_error("workers: 0\n", "1:10: workers: 0 is out of range [1, 256]");
	expect_error("workers: many\n", "1:10: workers: expected an integer, found 'many'");
	expect_error("account_id: 12\n", "1:13: account_id: expected 12 digits (e.g. '000000000000'), found '12'");
	expect_error("log_level: loud\n",
		     "1:12: log_level: expected debug, info, notice, warning or error, found 'loud'");
	expect_error("long_poll: 5 minutes\n",
		     "1:12: long_poll: expected a duration like 250ms, 30s, 5m, 2h or 90d, found '5 minutes'");
	expect_error("long_poll: 2m\n", "1:12: long_poll: '2m' is out of range [1000ms, 70000ms]");
	expect_error("region: [a]\n", "1:9: region: expected a string, found a list");
	expect_error("regions_allowed: us-east-1\n",
		     "1:18: regions_allowed: expected a list of region names, e.g. [us-east-1]");
	expect_error("- a\n", "1:1: the configuration must be a mapping of settings (key: value)");
}

/* bundle_cache_max / bundle_upload_max: sizes with units (daemon/bundles*.c). */
static void test_bundle_sizes(void **st)
{
	static const struct {
		const char *in;
		uint64_t want;
	} ok[] = {
	    {"4096", 4096},
	    {"0", 0},
	    {"10GiB", 10ULL << 30},
	    {"2gib", 2ULL << 30},
	    {"512MiB", 512ULL << 20},
	    {"512 MiB", 512ULL << 20},
	    {"1.5GiB", 3ULL << 29},
	    {"3K", 3072},
	    {"2KB", 2000},
	    {"1GB", 1000000000ULL},
	    {"1TiB", 1ULL << 40},
	    {"7B", 7},
	};
	static const char *const bad[] = {"",	      "GiB", "-1GiB", "1e3",  "0x10", "10 GiBs",
					  "1.5.2MiB", "5.",  ".5K",   "1.5B", "10 ",  "10PiB"};
	struct rd_config *cfg = NULL;
	char err[512];
	uint64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 1;
		err[0] = '\0';
		assert_int_equal(config_parse_size(ok[i].in, &v, err, sizeof(err)), 0);
		assert_true(v == ok[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(config_parse_size(bad[i], &v, err, sizeof(err)), -EINVAL);
	assert_int_equal(config_parse_size("9000000TiB", &v, err, sizeof(err)), -ERANGE);
	assert_string_equal(err, "'9000000TiB' is too large (at most 8EiB)");

	/* defaults */
	assert_int_equal(load("", &cfg, err, sizeof(err)), 0);
	assert_true(cfg->bundle_cache_max == 10ULL << 30);
	assert_true(cfg->bundle_upload_max == 2ULL << 30);
	cfg = config_free(cfg);
	assert_int_equal(load("bundle_cache_max: 20GiB\nbundle_upload_max: '100 MB'\n", &cfg, err, sizeof(err)), 0);
	assert_true(cfg->bundle_cache_max == 20ULL << 30);
	assert_true(cfg->bundle_upload_max == 100000000ULL);
	cfg = config_free(cfg);
	/* a cache smaller than the default upload cap lowers the upload cap */
	assert_int_equal(load("bundle_cache_max: 1GiB\n", &cfg, err, sizeof(err)), 0);
	assert_true(cfg->bundle_cache_max == 1ULL << 30);
	assert_true(cfg->bundle_upload_max == 1ULL << 30);
	cfg = config_free(cfg);

	expect_error("bundle_cache_max: 10 gigs\n",
		     "1:19: bundle_cache_max: expected a size such as 4096, 512MiB, 10GiB or 1.5GB (units B, KiB, MiB, "
		     "GiB, TiB, KB, MB, GB, TB), found '10 gigs'");
	expect_error("bundle_cache_max: 100\n", "1:19: bundle_cache_max: '100' is too small; use at least 1024 bytes");
	expect_error("bundle_upload_max: 0\n", "1:20: bundle_upload_max: '0' is too small; use at least 1 bytes");
	expect_error("bundle_upload_max: [1]\n", "1:20: bundle_upload_max: expected a string, found a list");
	expect_error("bundle_cache_max: 1MiB\nbundle_upload_max: 2MiB\n",
		     "2:20: bundle_upload_max: 2097152 bytes is more than bundle_cache_max (1048576 bytes), so an "
		     "upload that large could not stay in the cache; lower bundle_upload_max or raise "
		     "bundle_cache_max");
}

static void test_plugins_section(void **st)
{
	expect_error("plugins: [onprem]\n",
		     "1:10: plugins: expected a mapping of plugin name to its settings (e.g. 'plugins: {onprem: {}}')");
	expect_error("plugins:\n  Bad/Name: {}\n",
		     "2:3: plugins: plugin name 'Bad/Name': use 1 to 64 characters of a-z, 0-9, '-' and '_' (it names "
		     "the file NAME.so)");
	expect_error("plugins:\n  s3: [1]\n",
		     "2:7: plugins.s3: expected a mapping of settings or nothing, found a list");
	expect_error("plugins:\n  s3: {}\n  s3: {}\n", "3:3: duplicate key 's3' (first at line 2)");
}

static void test_alarms_section(void **st)
{
	expect_error("alarms:\n  web: {url: x}\n",
		     "2:8: alarms.web: missing 'plugin': name the health plugin that checks this alarm");
	expect_error("alarms:\n  web: {plugin: http-check}\n",
		     "2:17: alarms.web: plugin 'http-check' is not enabled: add it under 'plugins:' or pick another");
	expect_error("alarms:\n  web: 3\n", "2:8: alarms.web: expected a mapping with at least 'plugin: NAME'");
}

static void test_alarm_fallback(void **st)
{
	struct rd_config *cfg = NULL;
	char err[512];

	expect_error("alarm_fallback_plugin: cloudwatch\n",
		     "1:24: alarm_fallback_plugin: plugin 'cloudwatch' is not enabled (expected the name of a health "
		     "plugin under 'plugins:'); add it there or remove this setting");
	expect_error("plugins: {cloudwatch: }\nalarm_fallback_plugin: [cloudwatch]\n",
		     "2:24: alarm_fallback_plugin: expected a string, found a list");
	/* default none; the kind is checked when the plugins are loaded */
	assert_int_equal(load("plugins: {cloudwatch: }\n", &cfg, err, sizeof(err)), 0);
	assert_null(cfg->alarm_fallback_plugin);
	cfg = config_free(cfg);
	assert_int_equal(load("plugins: {cloudwatch: }\nalarm_fallback_plugin: cloudwatch\n", &cfg, err, sizeof(err)),
			 0);
	assert_string_equal(cfg->alarm_fallback_plugin, "cloudwatch");
	assert_int_equal(cfg->alarm_fallback_node->line, 2);
	config_free(cfg);
}

static void test_missing_file(void **st)
{
	struct rd_config *cfg = NULL;
	struct rd_error rerr = RD_ERROR_INIT;

	assert_int_equal(config_load("/nonexistent/rolloutd.yaml", &cfg, &rerr), -ENOENT);
	assert_string_equal(rerr.message, "/nonexistent/rolloutd.yaml: cannot read the configuration: No such file or "
					  "directory; pass an existing file with --config FILE");
}

static void test_yaml_syntax(void **st)
{
	struct rd_config *cfg = NULL;
	char err[512], want[1024];

	assert_int_equal(load("listen: [\n", &cfg, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/rolloutd.yaml:", dir);
	assert_true(strncmp(err, want, strlen(want)) == 0);
}

static void test_check_listen(void **st)
{
	char err[256];

	assert_int_equal(config_check_listen("0.0.0.0:0", err, sizeof(err)), 0);
	assert_int_equal(config_check_listen("[::]:443", err, sizeof(err)), 0);
	assert_int_equal(config_check_listen("::1:443", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_check_listen(":80", err, sizeof(err)), -EINVAL);
	assert_int_equal(config_check_listen("h:", err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_all_settings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cluster_setting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bundle_sizes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_plugins_section, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alarms_section, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alarm_fallback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_yaml_syntax, setup, teardown),
	    cmocka_unit_test(test_check_listen),
	    cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_store_setting, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
