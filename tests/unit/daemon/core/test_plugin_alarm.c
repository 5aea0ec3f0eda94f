/* Alarm settings (daemon/core/plugin_alarm.c): the keys every alarm has, and
 * host->alarm_settings_parse with an option table of every type. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/plugin_alarm.h"
#include "core/plugin_host.h"

static struct host_shared shared;
static struct rollout_handle *H;
static const struct rollout_host *X;

static int setup(void **st)
{
	X = host_table();
	return host_handle_new("probe", NULL, NULL, &shared, &H);
}

static int teardown(void **st)
{
	H = host_handle_free(H);
	return 0;
}

struct probe {
	const char *url;
	int64_t retries;
	double threshold;
	bool strict;
	int64_t timeout_ms;
	const char *hosts;
	const char *file;
	const char *instance;
};

static const struct rollout_option opts[] = {
    {.name = "url",
     .type = ROLLOUT_OPT_STRING,
     .required = true,
     .offset = offsetof(struct probe, url),
     .help = "the URL to probe"},
    {.name = "retries",
     .type = ROLLOUT_OPT_INT,
     .offset = offsetof(struct probe, retries),
     .min = 0,
     .max = 5,
     .def = "2"},
    {.name = "threshold", .type = ROLLOUT_OPT_NUMBER, .offset = offsetof(struct probe, threshold)},
    {.name = "strict", .type = ROLLOUT_OPT_BOOL, .offset = offsetof(struct probe, strict), .def = "false"},
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct probe, timeout_ms),
     .min = 100,
     .max = 60000,
     .def = "5s"},
    {.name = "hosts", .type = ROLLOUT_OPT_JSON, .offset = offsetof(struct probe, hosts)},
    {.name = "file", .type = ROLLOUT_OPT_PATH, .offset = offsetof(struct probe, file)},
    {.name = "instance", .type = ROLLOUT_OPT_STRING, .offset = offsetof(struct probe, instance)},
    ROLLOUT_OPTION_END,
};

static void test_parse(void **st)
{
	struct rollout_alarm_settings *s = NULL;
	struct rollout_error e = {.size = sizeof(e)};
	struct probe p = {.threshold = NAN};

	assert_int_equal(
	    rollout_alarm_settings_parse(X, H, "web",
					 "{\"plugin\":\"probe\",\"interval\":\"2s\",\"description\":\"d\","
					 "\"gate\":\"true\",\"gate_timeout\":\"30s\",\"on_insufficient_data\":"
					 "\"continue\",\"url\":\"http://x\",\"threshold\":\"0.25\","
					 "\"strict\":\"yes\",\"hosts\":[\"a\",\"b\"],\"file\":\"/f\","
					 "\"instance\":\"web-1\"}",
					 opts, &p, &s, &e),
	    0);
	assert_string_equal(p.url, "http://x");
	assert_int_equal(p.retries, 2);
	assert_true(p.threshold == 0.25);
	assert_true(p.strict);
	assert_int_equal(p.timeout_ms, 5000);
	assert_string_equal(p.hosts, "[\"a\",\"b\"]");
	assert_string_equal(p.file, "/f");
	assert_string_equal(p.instance, "web-1");
	assert_null(X->alarm_settings_free(s));
	assert_null(X->alarm_settings_free(NULL));

	/* absent options keep what the plugin preset */
	p = (struct probe){.threshold = NAN};
	assert_int_equal(rollout_alarm_settings_parse(X, H, "web", "{\"url\":\"u\"}", opts, &p, &s, &e), 0);
	assert_true(isnan(p.threshold));
	assert_null(p.hosts);
	X->alarm_settings_free(s);
}

static void expect(const char *json, const char *want)
{
	struct rollout_alarm_settings *s = NULL;
	struct rollout_error e = {.size = sizeof(e)};
	struct probe p = {0};

	assert_int_equal(rollout_alarm_settings_parse(X, H, "web", json, opts, &p, &s, &e), -EINVAL);
	assert_null(s);
	assert_string_equal(e.code, "INVALID_ALARM_CONFIG");
	if (strcmp(e.message, want) != 0)
		fail_msg("'%s' != '%s'", e.message, want);
}

static void test_errors(void **st)
{
	expect("{}", "alarm web: missing 'url': the URL to probe");
	expect("[1]", "alarm web: settings are not a mapping");
	expect("{", "alarm web: settings are not JSON (string or '}' expected near end of file)");
	expect("{\"url\":\"u\",\"colour\":\"red\"}",
	       "alarm web: unknown setting 'colour' (accepted: url, retries, threshold, strict, timeout, hosts, file, "
	       "instance, plugin, interval, description, gate, gate_timeout, on_insufficient_data)");
	expect("{\"url\":[\"u\"]}", "alarm web: 'url' must be a single value, not a list or mapping");
	expect("{\"url\":\"u\",\"retries\":\"9\"}", "alarm web: 'retries: 9' is not a whole number between 0 and 5");
	expect("{\"url\":\"u\",\"threshold\":\"high\"}", "alarm web: 'threshold: high' is not a number");
	expect("{\"url\":\"u\",\"threshold\":\"nan\"}", "alarm web: 'threshold: nan' is not a number");
	expect("{\"url\":\"u\",\"strict\":\"maybe\"}", "alarm web: strict must be true or false, not 'maybe'");
	expect("{\"url\":\"u\",\"timeout\":\"1h\"}",
	       "alarm web: 'timeout: 1h' is not a duration between 100 ms and 60000 ms (write e.g. 500ms, 5s, 2m)");
	expect("{\"url\":\"u\",\"file\":\"\"}", "alarm web: 'file' must be a path, not empty");
	/* the keys every alarm has */
	expect("{\"url\":\"u\",\"interval\":\"50ms\"}",
	       "alarm web: interval '50ms' is not a duration between 100ms and 1h (write e.g. 10s)");
	expect("{\"url\":\"u\",\"gate\":\"sometimes\"}", "alarm web: gate must be true or false");
	expect("{\"url\":\"u\",\"gate_timeout\":\"2h\"}",
	       "alarm web: gate_timeout '2h' is not a duration up to 1h (write e.g. 30s)");
	expect("{\"url\":\"u\",\"on_insufficient_data\":\"ignore\"}",
	       "alarm web: on_insufficient_data must be stop (default) or continue");
	expect("{\"url\":\"u\",\"description\":{}}",
	       "alarm web: 'description' must be a single value, not a list or mapping");
}

static void test_common(void **st)
{
	struct rollout_error e = {.size = sizeof(e)};
	struct alarm_common c;
	json_t *root = NULL;

	assert_int_equal(
	    alarm_common_parse_text("a", "{\"plugin\":\"p\",\"interval\":\"1.5s\",\"gate\":\"true\"}", &root, &c, &e),
	    0);
	assert_string_equal(c.plugin, "p");
	assert_int_equal(c.interval_ms, 1500);
	assert_true(c.gate);
	assert_int_equal(c.gate_timeout_ms, 0);
	assert_false(c.insufficient_continue);
	json_decref(root);
	assert_int_equal(alarm_common_parse_text("a", "{}", &root, &c, &e), 0);
	assert_int_equal(c.interval_ms, 0);
	assert_false(c.gate);
	json_decref(root);
	assert_int_equal(alarm_common_parse_text("a", "nope", &root, &c, &e), -EINVAL);
	assert_non_null(strstr(e.message, "alarm a: settings are not JSON"));
}

/* A bad option table is the plugin's bug and says so. */
static void test_plugin_bugs(void **st)
{
	struct rollout_alarm_settings *s = NULL;
	struct rollout_error e = {.size = sizeof(e)};
	struct rollout_handle fake = {.magic = 0xbad};
	static const struct rollout_option odd[] = {{.name = "x", .type = 99, .offset = 0}, ROLLOUT_OPTION_END};
	char dst[16];

	assert_int_equal(X->alarm_settings_parse(H, "a", "{}", opts, 8, NULL, &s, &e), -EINVAL);
	assert_non_null(strstr(e.message, "bad option table (plugin bug)"));
	assert_int_equal(rollout_alarm_settings_parse(X, H, "a", "{\"x\":\"1\"}", odd, dst, &s, &e), -EINVAL);
	assert_non_null(strstr(e.message, "unknown type 99 (plugin bug)"));
	assert_int_equal(rollout_alarm_settings_parse(X, &fake, "a", "{}", opts, dst, &s, &e), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_common),
	    cmocka_unit_test(test_plugin_bugs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
