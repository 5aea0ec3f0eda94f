/* prometheus plugin: judging query answers, settings validation, the query
 * URL, against the SDK's test host (rollout/testing.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "plugins/prometheus/prometheus.c"

#include <rollout/testing.h>

/* one plugin with a default server, one without */
static struct rollout_testing *T, *T_NOURL;
static struct prom *S, *NOURL;

static int setup(void **state)
{
	char err[512];

	T = rollout_testing_new("prometheus", "url: http://prom:9090/\n");
	T_NOURL = rollout_testing_new("prometheus", NULL);
	if (!T || !T_NOURL || rollout_testing_init(T, &prom_plugin, (void **)&S, err, sizeof(err)) < 0 ||
	    rollout_testing_init(T_NOURL, &prom_plugin, (void **)&NOURL, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	prom_destroy(S);
	prom_destroy(NOURL);
	T = rollout_testing_free(T);
	T_NOURL = rollout_testing_free(T_NOURL);
	return 0;
}

#define VEC(...) "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[" __VA_ARGS__ "]}}"
#define SAMPLE(inst, v)                                                                                                \
	"{\"metric\":{\"__name__\":\"err\",\"instance\":\"" inst "\"},\"value\":[1700000000.1,\"" v "\"]}"

static int eval(const char *body, struct prom_rule rule, struct rollout_alarm_result *res)
{
	struct rollout_error e = {.size = sizeof(e)};
	memset(res, 0, sizeof(*res));
	res->size = sizeof(*res);
	return prom_evaluate("a", 200, body, &rule, res, &e);
}

static void test_threshold(void **state)
{
	struct rollout_alarm_result res;
	struct prom_rule above = {.has_threshold = true, .threshold = 0.1, .min_samples = 1};
	struct prom_rule below = {.has_threshold = true, .threshold = 5, .below = true, .min_samples = 2};
	(void)state;

	assert_int_equal(eval(VEC(SAMPLE("a", "0.05") "," SAMPLE("b", "0.02")), above, &res), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_OK);
	assert_int_equal(eval(VEC(SAMPLE("a", "0.05") "," SAMPLE("b", "0.5")), above, &res), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_ALARM);
	assert_non_null(strstr(res.reason, "instance=\"b\""));
	assert_non_null(strstr(res.reason, "0.5"));
	/* exactly at the threshold is not above it */
	assert_int_equal(eval(VEC(SAMPLE("a", "0.1")), above, &res), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_OK);
	/* no samples, NaN samples: insufficient data, not OK */
	assert_int_equal(eval(VEC(), above, &res), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_INSUFFICIENT_DATA);
	assert_non_null(strstr(res.reason, "min_samples 1"));
	assert_int_equal(eval(VEC(SAMPLE("a", "NaN")), above, &res), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_INSUFFICIENT_DATA);
	/* below, with a minimum of 2 samples */
	assert_int_equal(eval(VEC(SAMPLE("a", "7")), below, &res), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_INSUFFICIENT_DATA);
	assert_int_equal(eval(VEC(SAMPLE("a", "7") "," SAMPLE("b", "6")), below, &res), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_OK);
	assert_int_equal(eval(VEC(SAMPLE("a", "7") "," SAMPLE("b", "1")), below, &res), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_ALARM);
	/* a breach wins over too few samples */
	struct prom_rule many = {.has_threshold = true, .threshold = 0.1, .min_samples = 5};
	assert_int_equal(eval(VEC(SAMPLE("a", "0.9")), many, &res), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_ALARM);
	/* scalar results count as one sample */
	assert_int_equal(
	    eval("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"0.3\"]}}", above, &res),
	    0);
	assert_int_equal(res.state, ROLLOUT_ALARM_ALARM);
}

static void test_alert_style(void **state)
{
	struct rollout_alarm_result res;
	struct prom_rule alert = {.has_threshold = false, .min_samples = 0};
	(void)state;

	assert_int_equal(eval(VEC(), alert, &res), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_OK);
	assert_int_equal(eval(VEC(SAMPLE("a", "1")), alert, &res), 0);
	assert_int_equal(res.state, ROLLOUT_ALARM_ALARM);
	assert_non_null(strstr(res.reason, "1 sample"));
}

static void test_errors(void **state)
{
	struct rollout_alarm_result res = {.size = sizeof(res)};
	struct rollout_error e = {.size = sizeof(e)};
	struct prom_rule above = {.has_threshold = true, .threshold = 0.1, .min_samples = 1};
	(void)state;

	assert_int_equal(prom_evaluate("a", 400,
				       "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error at "
				       "char 4\"}",
				       &above, &res, &e),
			 -EINVAL);
	assert_non_null(strstr(e.message, "parse error at char 4"));
	assert_int_equal(prom_evaluate("a", 502, "<html>bad gateway</html>", &above, &res, &e), -EIO);
	assert_non_null(strstr(e.message, "HTTP 502"));
	assert_int_equal(prom_evaluate("a", 200,
				       "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}",
				       &above, &res, &e),
			 -EINVAL);
	assert_non_null(strstr(e.message, "matrix"));
}

static void expect_invalid(struct prom *s, const char *settings, const char *needle)
{
	struct rollout_error e = {.size = sizeof(e)};
	assert_int_equal(prom_validate_alarm(s, "a", settings, &e), -EINVAL);
	if (!strstr(e.message, needle))
		fail_msg("message '%s' lacks '%s'", e.message, needle);
}

static void test_validate(void **state)
{
	struct rollout_error e = {.size = sizeof(e)};
	(void)state;

	assert_int_equal(
	    prom_validate_alarm(S, "a", "{\"plugin\":\"prometheus\",\"query\":\"up\",\"threshold\":\"1\"}", &e), 0);
	expect_invalid(S, "{\"threshold\":\"1\"}", "missing 'query'");
	expect_invalid(S, "{\"query\":\"up\",\"threshold\":\"high\"}", "not a number");
	expect_invalid(S, "{\"query\":\"up\",\"comparison\":\"above\"}", "needs a threshold");
	expect_invalid(S, "{\"query\":\"up\",\"threshold\":\"1\",\"comparison\":\"over\"}", "above' or 'below");
	expect_invalid(S, "{\"query\":\"up\",\"min_samples\":\"-1\"}", "min_samples");
	expect_invalid(S, "{\"query\":\"up\",\"treshold\":\"1\"}", "unknown setting 'treshold'");
	expect_invalid(NOURL, "{\"query\":\"up\"}", "no Prometheus server");
}

static void test_check_url(void **state)
{
	struct rollout_alarm_result res = {.size = sizeof(res)};
	struct rollout_error e = {.size = sizeof(e)};
	static const struct rollout_testing_answer answers[] = {
	    {.url_prefix = "http://prom:9090/api/v1/query?query=", .status = 200, .body = VEC(SAMPLE("a", "2"))},
	    {.url_prefix = "http://down:1/", .status = 0},
	    {NULL}};
	(void)state;
	rollout_testing_set_answers(T, answers);
	assert_int_equal(prom_check(S, NULL, "a", "{\"query\":\"sum(rate(x[1m])) > 0\",\"threshold\":\"1\"}", &res, &e),
			 0);
	assert_string_equal(rollout_testing_last_request(T)->url,
			    "http://prom:9090/api/v1/query?query=sum%28rate%28x%5B1m%5D%29%29%20%3E%200");
	assert_int_equal(res.state, ROLLOUT_ALARM_ALARM);
	/* an unreachable server is a failed poll, never OK */
	assert_true(prom_check(S, NULL, "a", "{\"url\":\"http://down:1\",\"query\":\"up\"}", &res, &e) < 0);
	assert_non_null(strstr(e.message, "cannot query Prometheus at http://down:1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_threshold), cmocka_unit_test(test_alert_style), cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_validate),  cmocka_unit_test(test_check_url),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
