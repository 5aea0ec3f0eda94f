/* http-check plugin: status specs, host placeholders, settings validation,
 * and check() against the SDK's test host (rollout/testing.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "plugins/http-check/http-check.c"

#include <rollout/testing.h>

static struct rollout_testing *T;
static struct hc *S;

static int setup(void **state)
{
	char err[512];

	T = rollout_testing_new("http-check", "timeout: 5s\n");
	if (!T || rollout_testing_init(T, &hc_plugin, (void **)&S, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	hc_destroy(S);
	T = rollout_testing_free(T);
	return 0;
}

static int run(const char *settings, const struct rollout_testing_answer *answers, struct rollout_alarm_result *res,
	       struct rollout_error *e)
{
	memset(res, 0, sizeof(*res));
	res->size = sizeof(*res);
	memset(e, 0, sizeof(*e));
	e->size = sizeof(*e);
	rollout_testing_set_answers(T, answers);
	return hc_check(S, NULL, "web", settings, res, e);
}

static void test_status_spec(void **state)
{
	(void)state;
	assert_true(hc_status_expected("200", 200));
	assert_false(hc_status_expected("200", 204));
	assert_true(hc_status_expected("200, 204", 204));
	assert_true(hc_status_expected("2xx", 299));
	assert_false(hc_status_expected("2xx", 301));
	assert_true(hc_status_spec_valid("200,3xx"));
	assert_false(hc_status_spec_valid("abc"));
	assert_false(hc_status_spec_valid("200,"));
	assert_false(hc_status_spec_valid("6xx"));
}

static void test_expand(void **state)
{
	char out[64];
	(void)state;
	assert_int_equal(hc_expand("http://{host}:8080/{instance}", "web-1", out, sizeof(out)), 0);
	assert_string_equal(out, "http://web-1:8080/web-1");
	assert_int_equal(hc_expand("http://{host}:8080/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "web-1",
				   out, sizeof(out)),
			 -ENOSPC);
}

static void expect_invalid(const char *settings, const char *needle)
{
	struct rollout_error e = {.size = sizeof(e)};
	assert_int_equal(hc_validate_alarm(S, "web", settings, &e), -EINVAL);
	if (!strstr(e.message, needle))
		fail_msg("message '%s' lacks '%s'", e.message, needle);
}

static void test_validate(void **state)
{
	struct rollout_error e = {.size = sizeof(e)};
	(void)state;
	assert_int_equal(hc_validate_alarm(S, "web",
					   "{\"plugin\":\"http-check\",\"interval\":\"2s\",\"url\":\"http://{host}/h\","
					   "\"hosts\":[\"a\",\"b\"],\"expected_status\":\"2xx\",\"body_match\":\"ok\"}",
					   &e),
			 0);
	expect_invalid("{\"plugin\":\"http-check\"}", "missing 'url'");
	expect_invalid("{\"url\":\"ftp://x\"}", "http://");
	expect_invalid("{\"url\":\"http://x\",\"color\":\"red\"}", "unknown setting 'color'");
	expect_invalid("{\"url\":\"http://x\",\"body_match\":\"(\"}", "regular expression");
	expect_invalid("{\"url\":\"http://{host}/\"}", "placeholder");
	expect_invalid("{\"url\":\"http://x\",\"expected_status\":\"ok\"}", "expected_status");
	expect_invalid("{\"url\":\"http://x\",\"timeout\":\"forever\"}", "duration");
	expect_invalid("{\"url\":\"http://x\",\"hosts\":[\"a b\"]}", "hosts[0]");
	expect_invalid("{\"url\":\"http://x\",\"unreachable\":\"maybe\"}", "unreachable");
	expect_invalid("{\"url\":\"http://x\",\"gate\":\"maybe\"}", "gate must be true or false");
	expect_invalid("{\"url\":\"http://x\",\"gate_timeout\":\"soon\"}", "gate_timeout");
	expect_invalid("{\"url\":\"http://x\",\"interval\":\"10ms\"}", "interval");
	assert_int_equal(
	    hc_validate_alarm(S, "web", "{\"url\":\"http://x\",\"gate\":\"true\",\"gate_timeout\":\"30s\"}", &e), 0);
}

static void test_check(void **state)
{
	struct rollout_alarm_result res;
	struct rollout_error e;
	static const struct rollout_testing_answer ok[] = {
	    {.url_prefix = "http://web/", .status = 200, .body = "{\"status\": \"ok\"}"}, {NULL}};
	static const struct rollout_testing_answer bad[] = {
	    {.url_prefix = "http://web/", .status = 503, .body = "down"}, {NULL}};
	static const struct rollout_testing_answer mixed[] = {
	    {.url_prefix = "http://a:1/", .status = 200, .body = "ok"},
	    {.url_prefix = "http://b:1/", .status = 500, .body = "no"},
	    {.url_prefix = "http://c:1/", .status = 0, .body = NULL},
	    {NULL}};
	(void)state;

	assert_int_equal(run("{\"url\":\"http://web/h\"}", ok, &res, &e), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_OK);
	assert_non_null(strstr(res.reason, "answered 200"));

	assert_int_equal(run("{\"url\":\"http://web/h\",\"body_match\":\"\\\"status\\\": *\\\"ok\\\"\"}", ok, &res, &e),
			 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_OK);
	assert_int_equal(run("{\"url\":\"http://web/h\",\"body_match\":\"degraded\"}", ok, &res, &e), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_ALARM);
	assert_non_null(strstr(res.reason, "does not match"));

	assert_int_equal(run("{\"url\":\"http://web/h\"}", bad, &res, &e), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_ALARM);
	assert_non_null(strstr(res.reason, "answered 503, expected 200"));

	/* unreachable: ALARM by default, INSUFFICIENT_DATA on request */
	assert_int_equal(run("{\"url\":\"http://c:1/h\"}", mixed, &res, &e), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_ALARM);
	assert_int_equal(run("{\"url\":\"http://c:1/h\",\"unreachable\":\"insufficient_data\"}", mixed, &res, &e), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_INSUFFICIENT_DATA);

	/* per host: every host is checked, one bad one is enough */
	assert_int_equal(run("{\"url\":\"http://{host}:1/h\",\"hosts\":[\"a\",\"b\"]}", mixed, &res, &e), 0);
	assert_int_equal(rollout_testing_calls(T), 2);
	assert_int_equal(res.state, ROLLOUT_ALARM_ALARM);
	assert_non_null(strstr(res.reason, "1 of 2 hosts unhealthy"));
	assert_non_null(strstr(res.reason, "http://b:1/h"));

	/* the gate: only the instance given */
	assert_int_equal(
	    run("{\"url\":\"http://{host}:1/h\",\"hosts\":[\"a\",\"b\"],\"instance\":\"a\"}", mixed, &res, &e), 0);
	assert_int_equal(rollout_testing_calls(T), 1);
	assert_string_equal(rollout_testing_last_request(T)->url, "http://a:1/h");
	assert_int_equal(res.state, ROLLOUT_ALARM_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_spec),
	    cmocka_unit_test(test_expand),
	    cmocka_unit_test(test_validate),
	    cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
