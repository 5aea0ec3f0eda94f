/* rollout/testing.h — a host for unit-testing a rolloutd plugin without
 * rolloutd.
 *
 * A test includes the plugin's .c file (so its static functions are
 * reachable) and this header, makes a test host with the plugin's config,
 * and calls the plugin's init and ops with the host's table and handle:
 *
 *     #include "my-health.c"
 *     #include <rollout/testing.h>
 *
 *     struct rollout_testing *t = rollout_testing_new("my-health", "timeout: 2s\n");
 *     static const struct rollout_testing_answer answers[] = {
 *             {.url_prefix = "http://web-1:8080/", .status = 200, .body = "ok"}, {NULL}};
 *     void *state;
 *     char err[512];
 *     rollout_testing_set_answers(t, answers);
 *     assert(rollout_testing_init(t, &plugin, &state, err, sizeof(err)) == 0);
 *     ... call plugin.ops.health->check(state, ...) and look at the result,
 *         rollout_testing_last_request(t), rollout_testing_log(t) ...
 *     plugin.destroy(state);
 *     rollout_testing_free(t);
 *
 * Build and link it with
 *
 *     cc $(pkg-config --cflags rollout-plugin-testing) test.c \
 *        $(pkg-config --libs rollout-plugin-testing) -o test
 *
 * What is real and what is canned:
 *  - REAL, the daemon's own code: config parsing (config_parse and the
 *    getters, with the daemon's messages), alarm settings, tag filters and
 *    XML. A plugin tested here parses and matches exactly as in rolloutd.
 *  - CANNED: HTTP answers (rollout_testing_set_answers; requests are
 *    recorded, nothing goes on the network, AWS requests are not signed),
 *    the on-premises instances (rollout_testing_set_onprem_instances).
 *  - Logging is recorded (rollout_testing_log) and also printed to stderr
 *    when the environment has ROLLOUT_TESTING_VERBOSE set.
 *  - The clocks and file_sha256 are the real ones.
 *
 * A test host is not thread-safe: use it from one thread at a time. */
#ifndef ROLLOUT_TESTING_H
#define ROLLOUT_TESTING_H

#include <rollout/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rollout_testing;

/* A canned HTTP answer. The first entry whose method (NULL: any) and
 * url_prefix match a request answers it; a request nothing matches fails
 * with -EHOSTUNREACH. status 0 makes the request fail like a refused
 * connection (-ECONNREFUSED). headers: NULL-terminated "Name: value" lines,
 * or NULL. With the request's output_path set, body is written to that
 * file and its size and sha256 are reported by http_output. Arrays of
 * answers end with an entry whose url_prefix is NULL. */
struct rollout_testing_answer {
	const char *method;
	const char *url_prefix;
	long status;
	const char *body;
	const char *const *headers;
};

/* What the plugin last asked of http_request (copied, truncated to fit). */
struct rollout_testing_request {
	char method[16];
	char url[8192];
	char body[16384]; /* NUL-terminated; body_len counts the bytes sent */
	size_t body_len;
	char headers[4096];	/* the request's header lines, one per line */
	char aws_service[64];	/* "" when not signed */
	char aws_region[64];	/* the region it would be signed for, or "" */
	char output_path[4096]; /* "" when the body went to memory */
	int64_t timeout_ms;
};

/* A test host for plugin `name` whose config subtree (plugins.NAME in the
 * daemon's config) is the YAML text config_yaml, e.g. "timeout: 2s\n", or
 * NULL for none. NULL when the YAML does not parse (the reason is printed to
 * stderr) or memory runs out. */
struct rollout_testing *rollout_testing_new(const char *name, const char *config_yaml);
/* Frees the host and everything it handed out. NULL-safe; returns NULL. */
struct rollout_testing *rollout_testing_free(struct rollout_testing *t);

/* The host table and the plugin's handle, as init receives them; valid
 * until rollout_testing_free. */
const struct rollout_host *rollout_testing_host(const struct rollout_testing *t);
struct rollout_handle *rollout_testing_handle(const struct rollout_testing *t);

/* Loads desc as rolloutd does: checks its header (magic, ABI, size, kind)
 * and calls init with the host; after init, a config key the plugin neither
 * validated with config_parse nor read through a getter is refused as an
 * unknown setting. 0 with *ret_state, or negative errno with a one-line
 * message in err (init's own message when init failed). */
int rollout_testing_init(struct rollout_testing *t, const struct rollout_plugin *desc, void **ret_state, char *err,
			 size_t errlen);

/* The canned HTTP answers (borrowed: keep them alive while the host is
 * used; NULL: every request fails). Resets the request count. */
void rollout_testing_set_answers(struct rollout_testing *t, const struct rollout_testing_answer *answers);
/* Answers requests with code instead of a table, for a plugin whose calls
 * depend on what its earlier calls did (a small fake of the remote API that
 * keeps state, e.g. an alias whose weights a PUT changes and a GET shows).
 * respond is called with the request (as rollout_testing_last_request shows
 * it) and fills *ret: status, body (copied), headers (borrowed until the
 * response is freed: keep them static or in userdata); method and
 * url_prefix are not used. Return 0 to answer, or a negative errno to fail
 * the request like the transport would (-ETIMEDOUT, -ECONNREFUSED, ...).
 * While set it replaces the canned answers; NULL restores them. Resets the
 * request count. */
typedef int (*rollout_testing_responder)(void *userdata, const struct rollout_testing_request *req,
					 struct rollout_testing_answer *ret);
void rollout_testing_set_responder(struct rollout_testing *t, rollout_testing_responder respond, void *userdata);

/* The last request and how many requests were made since set_answers. */
const struct rollout_testing_request *rollout_testing_last_request(const struct rollout_testing *t);
int rollout_testing_calls(const struct rollout_testing *t);

/* The JSON array host->onprem_instances answers (copied). NULL: it fails
 * with -ENOTSUP, as in a daemon whose store is not open yet. */
int rollout_testing_set_onprem_instances(struct rollout_testing *t, const char *json);

/* Makes the host look like a rolloutd of ABI 1.minor: its table shrinks to
 * that minor's size, so a test can check how the plugin copes with an
 * older daemon (ROLLOUT_HOST_HAS, ROLLOUT_HOST_NEED). */
void rollout_testing_set_abi_minor(struct rollout_testing *t, unsigned minor);

/* Every line logged so far, "LEVEL message\n" each (LEVEL as "err",
 * "warning", "notice", "info", "debug"); also complaints of the host about
 * wrong pointers given to it. Borrowed until the next host call. */
const char *rollout_testing_log(const struct rollout_testing *t);

#ifdef __cplusplus
}
#endif
#endif /* ROLLOUT_TESTING_H */
