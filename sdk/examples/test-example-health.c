/* A unit test of example-health, written the way a plugin author tests a
 * plugin: the plugin's .c included (its static functions reachable), run
 * against the SDK's test host (rollout/testing.h) with canned HTTP answers.
 * Built and run by `make -f Makefile.example check`; plain assert(), so it
 * needs nothing but the SDK. */
#undef NDEBUG
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "example-health.c"

#include <rollout/testing.h>

static struct rollout_alarm_result result(void)
{
	return (struct rollout_alarm_result){.size = sizeof(struct rollout_alarm_result)};
}

int main(void)
{
	struct rollout_testing *t = rollout_testing_new("example-health", "timeout: 1s\n");
	struct rollout_error e = {.size = sizeof(e)};
	struct rollout_alarm_result res;
	char err[512], flag[] = "/tmp/example-health-flag-XXXXXX";
	void *state = NULL;
	int fd;
	static const struct rollout_testing_answer answers[] = {
	    {.url_prefix = "http://web-1/", .status = 200, .body = "ok"},
	    {.url_prefix = "http://web-2/", .status = 503, .body = "down"},
	    {NULL},
	};

	assert(t);
	assert(rollout_testing_init(t, &plugin, &state, err, sizeof(err)) == 0);

	/* settings: exactly one of file and url; the host checks the keys every alarm has */
	assert(validate_alarm(state, "a", "{\"plugin\":\"example-health\",\"file\":\"/x\"}", &e) == 0);
	assert(validate_alarm(state, "a", "{\"plugin\":\"example-health\"}", &e) == -EINVAL);
	assert(strstr(e.message, "set exactly one of"));
	assert(validate_alarm(state, "a", "{\"file\":\"/x\",\"interval\":\"1ms\"}", &e) == -EINVAL);
	assert(strstr(e.message, "interval '1ms' is not a duration between 100ms and 1h"));
	assert(validate_alarm(state, "a", "{\"file\":\"/x\",\"colour\":\"red\"}", &e) == -EINVAL);
	assert(strstr(e.message, "unknown setting 'colour'"));

	/* a flag file: ALARM while it exists */
	fd = mkstemp(flag);
	assert(fd >= 0);
	close(fd);
	char settings[256];
	snprintf(settings, sizeof(settings), "{\"file\":\"%s\"}", flag);
	res = result();
	assert(check(state, NULL, "flag", settings, &res, &e) == 0 && res.state == ROLLOUT_ALARM_ALARM);
	unlink(flag);
	res = result();
	assert(check(state, NULL, "flag", settings, &res, &e) == 0 && res.state == ROLLOUT_ALARM_OK);

	/* a URL: canned answers, the request recorded */
	rollout_testing_set_answers(t, answers);
	res = result();
	assert(check(state, NULL, "web", "{\"url\":\"http://web-1/health\"}", &res, &e) == 0);
	assert(res.state == ROLLOUT_ALARM_OK);
	assert(strcmp(rollout_testing_last_request(t)->url, "http://web-1/health") == 0);
	assert(rollout_testing_last_request(t)->timeout_ms == 1000);
	res = result();
	assert(check(state, NULL, "web", "{\"url\":\"http://web-2/health\"}", &res, &e) == 0);
	assert(res.state == ROLLOUT_ALARM_ALARM && strstr(res.reason, "answered 503"));
	res = result();
	assert(check(state, NULL, "web", "{\"url\":\"http://web-3/health\"}", &res, &e) == 0);
	assert(res.state == ROLLOUT_ALARM_INSUFFICIENT_DATA);
	assert(rollout_testing_calls(t) == 3);
	destroy(state);
	rollout_testing_free(t);

	/* an older rolloutd: init says what is missing instead of crashing later */
	t = rollout_testing_new("example-health", NULL);
	rollout_testing_set_abi_minor(t, 0);
	assert(rollout_testing_init(t, &plugin, &state, err, sizeof(err)) == -ENOTSUP);
	assert(strstr(err, "alarm_settings_parse"));
	rollout_testing_free(t);

	printf("example-health: all tests passed\n");
	return 0;
}
