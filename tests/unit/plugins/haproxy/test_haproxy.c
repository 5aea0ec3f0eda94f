/* The haproxy traffic plugin, its .c included, against the SDK's test host
 * (rollout/testing.h) and a fake Runtime API on a unix socket that models one backend the way
 * HAProxy 2.6 answers (replies copied from a real HAProxy 2.6). */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "plugins/haproxy/haproxy.c"

#include <rollout/testing.h>

/* ---- fake HAProxy --------------------------------------------------------- */

struct fsrv {
	const char *name;
	unsigned admin;
	long weight, iweight;
	long scur;
	int op;	      /* srv_op_state, 2 = running */
	int up_after; /* with op 0: running after this many `show servers state` */
};

static struct fake {
	char path[108];
	int lfd;
	pthread_t th;
	pthread_mutex_t lock;
	struct fsrv s[3];
	int ns;
	char log[64][128];
	int nlog;
	bool level_user;    /* answer set commands with Permission denied */
	bool mute;	    /* accept but never answer */
	int drain_per_stat; /* each `show stat` closes this many sessions */
} F;

/* ---- test host ------------------------------------------------------------ */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct rollout_testing *T;

/* The plugin's config with the fake's socket; `extra` overrides keys. */
static struct rollout_testing *host_with(const char *extra)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), "socket: %s\nserver_template: '{instance}'\nready_timeout: 300ms\n%s%s%s%s",
		 F.path, strncmp(extra, "timeout:", 8) ? "timeout: 200ms\n" : "",
		 strstr(extra, "backends") ? "" : "backends: {web-tg: web}\n",
		 strstr(extra, "servers") ? "" : "servers: {host-a: s1, host-b: s2}\n", extra);
	return rollout_testing_new("haproxy", yaml);
}

static const char *stat_header =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,"
    "weight,act,bck\n";

static void fake_answer(const char *cmd, char *out, size_t outlen)
{
	char be[128], sv[128], what[64];
	long a, b;
	int k;

	out[0] = '\0';
	if (sscanf(cmd, "show servers state %127s", be) == 1) {
		if (strcmp(be, "web") != 0) {
			snprintf(out, outlen, "Can't find backend.\n\n");
			return;
		}
		k = snprintf(out, outlen,
			     "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
			     "srv_iweight srv_time_since_last_change srv_check_status\n");
		for (int i = 0; i < F.ns; i++) {
			if (F.s[i].op != 2 && F.s[i].up_after > 0 && --F.s[i].up_after == 0)
				F.s[i].op = 2;
			k += snprintf(out + k, outlen - (size_t)k, "3 web %d %s 127.0.0.1 %d %u %ld %ld 3 1\n", i + 1,
				      F.s[i].name, F.s[i].op, F.s[i].admin, F.s[i].weight, F.s[i].iweight);
		}
		snprintf(out + k, outlen - (size_t)k, "\n");
		return;
	}
	if (sscanf(cmd, "show stat %ld 4 %ld", &a, &b) == 2) {
		if (a != 3) {
			snprintf(out, outlen, "No such proxy.\n\n");
			return;
		}
		k = snprintf(out, outlen, "%s", stat_header);
		for (int i = 0; i < F.ns; i++) {
			if (b != -1 && b != i + 1)
				continue;
			if (F.s[i].admin && F.s[i].scur > 0) {
				F.s[i].scur -= F.drain_per_stat;
				if (F.s[i].scur < 0)
					F.s[i].scur = 0;
			}
			k += snprintf(out + k, outlen - (size_t)k, "web,%s,0,0,%ld,9,,100,0,0,,0,,0,0,0,0,%s,%ld,1,0\n",
				      F.s[i].name, F.s[i].scur,
				      F.s[i].admin & 1	 ? "MAINT"
				      : F.s[i].admin & 8 ? "DRAIN"
							 : "UP",
				      F.s[i].weight);
		}
		snprintf(out + k, outlen - (size_t)k, "\n");
		return;
	}
	if (sscanf(cmd, "set server %127[^/]/%127s %63[^\n]", be, sv, what) == 3) {
		struct fsrv *s = NULL;
		if (F.level_user) {
			snprintf(out, outlen, "Permission denied\n\n");
			return;
		}
		if (strcmp(be, "web") != 0) {
			snprintf(out, outlen, "No such backend.\n\n");
			return;
		}
		for (int i = 0; i < F.ns; i++)
			if (strcmp(F.s[i].name, sv) == 0)
				s = &F.s[i];
		if (!s) {
			snprintf(out, outlen, "No such server.\n\n");
			return;
		}
		if (strcmp(what, "state drain") == 0)
			s->admin = 8;
		else if (strcmp(what, "state maint") == 0)
			s->admin = 1;
		else if (strcmp(what, "state ready") == 0)
			s->admin = 0;
		else if (sscanf(what, "weight %ld", &a) == 1 && a >= 0 && a <= 256)
			s->weight = a;
		else
			snprintf(out, outlen, "Absolute weight can only be between 0 and 256 inclusive.\n");
		return;
	}
	snprintf(out, outlen, "Unknown command. Please enter one of the following commands only :\n");
}

static void *fake_run(void *arg)
{
	for (;;) {
		char cmd[512], out[8192];
		ssize_t n;
		size_t len = 0;
		int c = accept(F.lfd, NULL, NULL);
		if (c < 0)
			return NULL;
		while (len < sizeof(cmd) - 1 && (n = read(c, cmd + len, sizeof(cmd) - 1 - len)) > 0) {
			len += (size_t)n;
			if (memchr(cmd, '\n', len))
				break;
		}
		cmd[len] = '\0';
		cmd[strcspn(cmd, "\n")] = '\0';
		if (strcmp(cmd, "quit-fake") == 0) {
			close(c);
			return NULL;
		}
		pthread_mutex_lock(&F.lock);
		if (F.nlog < 64)
			snprintf(F.log[F.nlog++], sizeof(F.log[0]), "%.120s", cmd);
		fake_answer(cmd, out, sizeof(out));
		bool mute = F.mute;
		pthread_mutex_unlock(&F.lock);
		if (mute) {
			usleep(300000);
		} else {
			ssize_t w = write(c, out, strlen(out));
			(void)w;
		}
		close(c);
	}
}

static struct hx *X;

static int setup(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char err[256] = "";
	void *st = NULL;

	memset(&F, 0, sizeof(F));
	pthread_mutex_init(&F.lock, NULL);
	snprintf(F.path, sizeof(F.path), "/tmp/rd-hx-test-%d.sock", (int)getpid());
	unlink(F.path);
	strcpy(sa.sun_path, F.path);
	F.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(F.lfd >= 0);
	assert_int_equal(bind(F.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(F.lfd, 16), 0);
	F.s[0] = (struct fsrv){.name = "s1", .weight = 1, .iweight = 1, .op = 2};
	F.s[1] = (struct fsrv){.name = "s2", .weight = 3, .iweight = 3, .op = 2};
	F.s[2] = (struct fsrv){.name = "web-3.example", .weight = 1, .iweight = 1, .op = 2};
	F.ns = 3;
	F.drain_per_stat = 1;
	pthread_create(&F.th, NULL, fake_run, NULL);

	T = host_with("after_drain: maint\n");
	assert_non_null(T);
	if (rollout_testing_init(T, &hx_plugin, &st, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	X = st;
	return 0;
}

static int teardown(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int c = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, F.path);
	if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		ssize_t w = write(c, "quit-fake\n", 10);
		(void)w;
	}
	close(c);
	pthread_join(F.th, NULL);
	close(F.lfd);
	unlink(F.path);
	hx_destroy(X);
	X = NULL;
	T = rollout_testing_free(T);
	return 0;
}

#define ERR_INIT                                                                                                       \
	{                                                                                                              \
		.size = sizeof(struct rollout_error)                                                                   \
	}

/* ---- tests ---------------------------------------------------------------- */

static void test_block_allow_state(void **state)
{
	struct rollout_error err = ERR_INIT;
	enum rollout_traffic_state st;

	assert_int_equal(hx_get_state(X, "web-tg", "host-a", &st, &err), 0);
	assert_int_equal(st, ROLLOUT_TRAFFIC_ALLOWED);
	F.s[0].scur = 3;
	assert_int_equal(hx_block(X, "web-tg", "host-a", &err), 0);
	assert_string_equal(F.log[F.nlog - 1], "set server web/s1 state drain");
	assert_int_equal(F.s[0].admin, 8);
	F.drain_per_stat = 0;
	assert_int_equal(hx_get_state(X, "web-tg", "host-a", &st, &err), 0);
	assert_int_equal(st, ROLLOUT_TRAFFIC_DRAINING);
	F.s[0].scur = 0;
	assert_int_equal(hx_get_state(X, "web-tg", "host-a", &st, &err), 0);
	assert_int_equal(st, ROLLOUT_TRAFFIC_BLOCKED);
	assert_int_equal(hx_allow(X, "web-tg", "host-a", &err), 0);
	assert_string_equal(F.log[F.nlog - 3], "set server web/s1 state ready"); /* then reads it: up */
	assert_int_equal(F.s[0].admin, 0);
	assert_int_equal(hx_get_state(X, "web-tg", "host-a", &st, &err), 0);
	assert_int_equal(st, ROLLOUT_TRAFFIC_ALLOWED);
	/* unknown server in a known backend: ABSENT, not an error */
	assert_int_equal(hx_get_state(X, "web-tg", "nope", &st, &err), 0);
	assert_int_equal(st, ROLLOUT_TRAFFIC_ABSENT);
}

static void test_wait_drained(void **state)
{
	struct rollout_error err = ERR_INIT;
	int64_t t0;

	/* three sessions close one per look: drained, then maint */
	F.s[1].scur = 3;
	F.drain_per_stat = 1;
	assert_int_equal(hx_block(X, "web-tg", "host-b", &err), 0);
	t0 = mono_ms();
	assert_int_equal(hx_wait_drained(X, "web-tg", "host-b", 5000, &err), 0);
	assert_true(mono_ms() - t0 < 2000);
	assert_int_equal(F.s[1].scur, 0);
	assert_int_equal(F.s[1].admin, 1);
	assert_string_equal(F.log[F.nlog - 1], "set server web/s2 state maint");

	/* sessions that never close: timeout with a message naming them */
	F.s[0].scur = 5;
	F.drain_per_stat = 0;
	assert_int_equal(hx_block(X, "web-tg", "host-a", &err), 0);
	t0 = mono_ms();
	assert_int_equal(hx_wait_drained(X, "web-tg", "host-a", 300, &err), -ETIMEDOUT);
	assert_true(mono_ms() - t0 >= 300);
	assert_non_null(strstr(err.message, "web/s1 still has 5 sessions"));
	assert_int_equal(F.s[0].admin, 8); /* still draining, not forced */

	/* set ready behind our back while draining */
	F.s[0].admin = 0;
	assert_int_equal(hx_wait_drained(X, "web-tg", "host-a", 300, &err), -EINVAL);
	assert_non_null(strstr(err.message, "in service again"));
}

static void test_allow_waits_for_health_checks(void **state)
{
	struct rollout_error err = ERR_INIT;
	int64_t t0;

	/* down until the third look */
	F.s[0].admin = 1;
	F.s[0].op = 0;
	F.s[0].up_after = 3;
	t0 = mono_ms();
	assert_int_equal(hx_allow(X, "web-tg", "host-a", &err), 0);
	assert_int_equal(F.s[0].op, 2);
	assert_true(mono_ms() - t0 < 250);
	/* never up: a timeout naming the server and the fix */
	F.s[0].op = 0;
	F.s[0].up_after = 0;
	assert_int_equal(hx_allow(X, "web-tg", "host-a", &err), -ETIMEDOUT);
	assert_non_null(strstr(err.message, "web/s1 is allowed but HAProxy's health checks have not seen it up"));
	assert_non_null(strstr(err.message, "plugins.haproxy.ready_timeout"));
	assert_int_equal(F.s[0].admin, 0); /* it is allowed all the same */
	/* ready_timeout 0: no wait */
	X->c.ready_timeout_ms = 0;
	assert_int_equal(hx_allow(X, "web-tg", "host-a", &err), 0);
}

static void test_after_drain_drain(void **state)
{
	struct rollout_error err = ERR_INIT;

	X->after_drain_maint = false;
	F.s[0].scur = 0;
	assert_int_equal(hx_block(X, "web-tg", "host-a", &err), 0);
	assert_int_equal(hx_wait_drained(X, "web-tg", "host-a", 1000, &err), 0);
	assert_int_equal(F.s[0].admin, 8);
}

static void test_weight(void **state)
{
	struct rollout_error err = ERR_INIT;

	assert_int_equal(hx_set_weight(X, "web-tg", "host-b", 0, &err), 0);
	assert_int_equal(F.s[1].weight, 0);
	assert_int_equal(hx_set_weight(X, "web-tg", "host-b", 256, &err), 0);
	assert_int_equal(F.s[1].weight, 256);
	assert_string_equal(F.log[F.nlog - 1], "set server web/s2 weight 256");
	assert_int_equal(hx_set_weight(X, "web-tg", "host-b", 257, &err), -ERANGE);
	assert_non_null(strstr(err.message, "257"));
}

static void test_mapping(void **state)
{
	struct rollout_error err = ERR_INIT;
	char be[HX_MAX_NAME], srv[HX_MAX_NAME];

	/* identity for unmapped backends and via template for unmapped instances */
	assert_int_equal(hx_map(X, "web", "web-3.example", be, srv, &err), 0);
	assert_string_equal(be, "web");
	assert_string_equal(srv, "web-3.example");
	assert_int_equal(hx_allow(X, "web", "web-3.example", &err), 0);
	assert_string_equal(F.log[F.nlog - 3], "set server web/web-3.example state ready");

	X->c.server_template = "app-{instance}-{instance}";
	assert_int_equal(hx_map(X, "web-tg", "x", be, srv, &err), 0);
	assert_string_equal(srv, "app-x-x");
	X->c.server_template = "{instance}";

	/* names that would inject a second command are refused */
	assert_int_equal(hx_map(X, "web-tg", "a b", be, srv, &err), -EINVAL);
	assert_string_equal(err.code, "ELB_INVALID_INSTANCE");
	assert_non_null(strstr(err.message, "plugins.haproxy.servers"));
	assert_int_equal(hx_map(X, "we;b", "host-a", be, srv, &err), -EINVAL);
	assert_string_equal(err.code, "ELASTIC_LOAD_BALANCING_INVALID");
	assert_int_equal(hx_map(X, "", "host-a", be, srv, &err), -EINVAL);
	assert_string_equal(err.code, "MISSING_ELB_INFORMATION");
}

static void test_errors(void **state)
{
	struct rollout_error err = ERR_INIT;
	enum rollout_traffic_state st;

	assert_int_equal(hx_block(X, "api", "host-a", &err), -ENOENT);
	assert_string_equal(err.code, "ELASTIC_LOAD_BALANCING_INVALID");
	assert_non_null(strstr(err.message, "no backend 'api'"));
	assert_non_null(strstr(err.message, "plugins.haproxy.backends"));

	assert_int_equal(hx_get_state(X, "api", "host-a", &st, &err), -ENOENT);
	assert_non_null(strstr(err.message, "no backend 'api'"));

	assert_int_equal(hx_block(X, "web-tg", "ghost", &err), -ENOENT);
	assert_string_equal(err.code, "ELB_INVALID_INSTANCE");
	assert_non_null(strstr(err.message, "backend 'web' has no server 'ghost' (for instance 'ghost')"));

	assert_int_equal(hx_wait_drained(X, "web-tg", "ghost", 100, &err), -ENOENT);
	assert_string_equal(err.code, "ELB_INVALID_INSTANCE");

	F.level_user = true;
	assert_int_equal(hx_allow(X, "web-tg", "host-a", &err), -EACCES);
	assert_non_null(strstr(err.message, "level admin"));
	F.level_user = false;

	/* an HAProxy that accepts but never answers: the command times out */
	F.mute = true;
	assert_int_equal(hx_allow(X, "web-tg", "host-a", &err), -ETIMEDOUT);
	assert_non_null(strstr(err.message, "timed out"));
	assert_non_null(strstr(err.message, "plugins.haproxy.timeout"));
	F.mute = false;

	/* no HAProxy at all */
	X->c.socket = "/nonexistent/haproxy.sock";
	assert_int_equal(hx_allow(X, "web-tg", "host-a", &err), -ENOENT);
	assert_non_null(strstr(err.message, "cannot connect to HAProxy's Runtime API at /nonexistent/haproxy.sock"));
	assert_non_null(strstr(err.message, "level admin"));
	X->c.socket = "127.0.0.1:1";
	assert_int_equal(hx_allow(X, "web-tg", "host-a", &err), -ECONNREFUSED);
	X->c.socket = F.path;
}

/* init with the base config and `extra`: -EINVAL with a message holding want. */
static void expect_config_error(const char *extra, const char *want)
{
	struct rollout_testing *t = host_with(extra);
	char err[512] = "";
	void *st = NULL;

	assert_non_null(t);
	assert_int_equal(rollout_testing_init(t, &hx_plugin, &st, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("'%s' lacks '%s'", err, want);
	rollout_testing_free(t);
}

static void test_config_errors(void **state)
{
	expect_config_error("after_drain: shutdown\n", "after_drain is 'shutdown'; use maint or drain");
	expect_config_error("servers: [1, 2]\n", "plugins.haproxy.servers must be a map");
	expect_config_error("backends: {tg: a/b}\n", "plugins.haproxy.backends.tg must be an HAProxy name");
	/* the daemon's own config checks run too */
	expect_config_error("colour: blue\n", "plugins.haproxy: unknown setting 'colour'");
	expect_config_error("timeout: 5ms\n", "plugins.haproxy.timeout: '5ms' is out of range [10ms, 600000ms]");
}

static void test_parsers(void **state)
{
	/* real HAProxy 2.6 answers */
	char ss[] = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
		    "srv_iweight srv_time_since_last_change\n"
		    "3 web 1 s1 127.0.0.1 0 8 1 1 4 8 2 0 6 0 0 0 - 18081 - 0 0 - - 0\n"
		    "3 web 2 s2 127.0.0.1 2 0 3 3 12 1 0 2 0 0 0 0 - 18082 - 0 0 - - 0\n\n";
	char st[] = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
		    "wredis,status,weight\n"
		    "web,s2,0,0,7,0,,0,0,0,,0,,0,0,0,0,no check,3,1,0\n\n";
	struct hx_server s = {0};

	assert_int_equal(hx_parse_servers_state(ss, "s2", &s), 0);
	assert_true(s.found);
	assert_int_equal(s.be_id, 3);
	assert_int_equal(s.srv_id, 2);
	assert_int_equal(s.op, 2);
	assert_int_equal(s.admin, 0);
	assert_int_equal(s.uweight, 3);
	assert_int_equal(hx_parse_stat(st, "s2", &s), 0);
	assert_int_equal(s.scur, 7);
	assert_string_equal(s.status, "no check");

	char bad[] = "garbage\n";
	struct hx_server s2 = {0};
	assert_int_equal(hx_parse_servers_state(bad, "s2", &s2), -EBADMSG);
	char bad2[] = "web,s2,0\n";
	assert_int_equal(hx_parse_stat(bad2, "s2", &s2), -EBADMSG);

	/* state from bits */
	s = (struct hx_server){.found = true, .admin = 0x10, .scur = 0};
	assert_int_equal(hx_state_of(&s), ROLLOUT_TRAFFIC_BLOCKED); /* inherited drain */
	s.admin = 0x04;
	s.qcur = 1;
	assert_int_equal(hx_state_of(&s), ROLLOUT_TRAFFIC_DRAINING); /* queued requests count */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_block_allow_state, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wait_drained, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allow_waits_for_health_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_after_drain_drain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_weight, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mapping, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
	    cmocka_unit_test(test_parsers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
