/* daemon/core/httpd: a real listener on 127.0.0.1:0 with a stub daemon. Checks
 * the contract others build on: replies from another thread after the
 * handler returned (deferral), the client-gone callback for a deferred call,
 * GET routes, and the JSON error format. Requests are signed with lib/sigv4
 * and authenticated by daemon/auth over one key kept in memory. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "auth/auth.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/error.h"
#include "core/httpd.h"
#include "core/workpool.h"
#include "sigv4.h"
#include "util.h"

static struct rd_daemon d;
static struct rd_config cfg;
static struct auth_key key = {
    .id = "AKRDTEST0000000000001",
    .secret = "test-secret-0123456789012345678901234567",
    .name = "t",
    .policy = "admin",
};
static struct auth *auth;

static int lookup(void *userdata, const char *id, struct auth_key *ret)
{
	if (strcmp(id, key.id) != 0)
		return -ENOENT;
	*ret = key;
	return 0;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct httpd_call *held;
static int gone_calls;

static void *late_reply(void *arg)
{
	struct httpd_call *c = arg;

	usleep(100 * 1000);
	httpd_call_reply(c, json_pack("{s:s}", "from", "another thread"));
	return NULL;
}

/* Replies later from a thread of its own. */
static void h_later(struct httpd_call *c, void *ud)
{
	pthread_t t;

	assert_string_equal(httpd_call_operation(c), "Later");
	assert_string_equal(httpd_call_principal(c)->policy, "admin");
	assert_int_equal(pthread_create(&t, NULL, late_reply, c), 0);
	pthread_detach(t);
}

static void on_gone(struct httpd_call *c, void *arg)
{
	pthread_mutex_lock(&lock);
	gone_calls++;
	assert_ptr_equal(c, held);
	held = NULL;
	pthread_mutex_unlock(&lock);
	/* the call must still be completed once; the reply goes nowhere */
	httpd_call_reply(c, NULL);
	event_base_loopbreak(d.base);
}

/* Holds the call until the client goes away (a long-poll). */
static void h_hold(struct httpd_call *c, void *ud)
{
	pthread_mutex_lock(&lock);
	held = c;
	httpd_call_on_gone(c, on_gone, NULL);
	pthread_mutex_unlock(&lock);
}

static pthread_t io_thread;
static int direct_calls, direct_admitted;

static void *admit_later(void *arg)
{
	struct httpd_call *c = arg;

	if (!httpd_call_admit(c))
		return NULL; /* answered with the refusal */
	pthread_mutex_lock(&lock);
	direct_admitted++;
	pthread_mutex_unlock(&lock);
	assert_string_equal(httpd_call_principal(c)->policy, "admin");
	assert_non_null(json_object_get(httpd_call_body(c), "n"));
	httpd_call_reply(c, json_pack("{s:s}", "from", "admitted elsewhere"));
	return NULL;
}

/* A direct handler: on the I/O thread, not yet admitted (no caller, no
 * body); admitted on a thread of its own. */
static void h_direct(struct httpd_call *c, void *ud)
{
	pthread_t t;

	assert_true(pthread_equal(pthread_self(), io_thread));
	assert_null(httpd_call_principal(c)->policy);
	assert_null(httpd_call_body(c));
	pthread_mutex_lock(&lock);
	direct_calls++;
	pthread_mutex_unlock(&lock);
	assert_int_equal(pthread_create(&t, NULL, admit_later, c), 0);
	pthread_detach(t);
}

#define BIG_REPLY (8 << 20) /* more than a loopback socket takes at once */

static void h_big(struct httpd_call *c, void *ud)
{
	char *data = malloc(BIG_REPLY);

	assert_non_null(data);
	memset(data, 'x', BIG_REPLY);
	httpd_call_reply_bytes(c, 200, "application/octet-stream", data, BIG_REPLY);
	free(data);
}

static void h_get(struct httpd_call *c, void *ud)
{
	static const char data[] = "bundle-bytes";
	assert_null(httpd_call_operation(c));
	assert_string_equal(httpd_call_path(c), "/things/abc");
	httpd_call_add_header(c, "X-Test", "1");
	httpd_call_reply_bytes(c, 200, "application/octet-stream", data, sizeof(data) - 1);
}

static int connect_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)httpd_port(d.httpd))};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	struct timeval tmo = {10, 0};

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* a reply that never comes fails the test rather than hanging it */
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Writes a signed request (with a wrong secret: bad_sig; extra: more header
 * lines, unsigned) on fd. */
static void send_on(int fd, const char *method, const char *path, const char *target, const char *body, bool bad_sig,
		    const char *extra)
{
	char host[64], amz[17], sig[65], err[256], req[4096];
	struct sigv4_auth au;
	time_t now = time(NULL);
	struct tm tm;
	int n = 0;

	snprintf(host, sizeof(host), "127.0.0.1:%d", httpd_port(d.httpd));
	strftime(amz, sizeof(amz), "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
	struct sigv4_header h[] = {{"Host", host}, {"X-Amz-Date", amz}, {"X-Amz-Target", target ? target : ""}};
	struct sigv4_request sr = {.method = method,
				   .path = path,
				   .headers = h,
				   .n_headers = target ? 3 : 2,
				   .body = body,
				   .body_len = strlen(body)};
	memset(&au, 0, sizeof(au));
	strcpy(au.access_key, key.id);
	memcpy(au.date, amz, 8);
	strcpy(au.region, "us-east-1");
	strcpy(au.service, "test");
	strcpy(au.signed_headers, target ? "host;x-amz-date;x-amz-target" : "host;x-amz-date");
	assert_int_equal(sigv4_signature(&sr, &au, amz, bad_sig ? "not-the-secret" : key.secret, sig, err, sizeof(err)),
			 0);
	n = snprintf(req, sizeof(req),
		     "%s %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\n%s%s%s%sContent-Length: %zu\r\n"
		     "Authorization: AWS4-HMAC-SHA256 Credential=%s/%.8s/us-east-1/test/aws4_request, "
		     "SignedHeaders=%s, Signature=%s\r\n\r\n%s",
		     method, path, host, amz, target ? "X-Amz-Target: " : "", target ? target : "",
		     target ? "\r\n" : "", extra ? extra : "", strlen(body), key.id, amz, au.signed_headers, sig, body);
	assert_int_equal(write(fd, req, (size_t)n), n);
}

/* The same on a new connection; returns the socket. */
static int send_signed(const char *method, const char *path, const char *target, const char *body, bool bad_sig)
{
	int fd = connect_port();

	send_on(fd, method, path, target, body, bad_sig, NULL);
	return fd;
}

/* Reads one reply from fd: its status, and how many body bytes came
 * (Content-Length of them, or -1 when the connection ended first). */
static void read_reply(int fd, int *ret_status, long *ret_len)
{
	char head[4096], buf[65536], *end = NULL, *cl;
	size_t o = 0;
	long want, got;
	ssize_t n;

	while (!end && o < sizeof(head) - 1 && (n = read(fd, head + o, 1)) == 1) {
		o++;
		head[o] = '\0';
		end = strstr(head, "\r\n\r\n");
	}
	assert_non_null(end);
	assert_int_equal(sscanf(head, "HTTP/1.1 %d", ret_status), 1);
	cl = strstr(head, "Content-Length: ");
	assert_non_null(cl);
	want = atol(cl + 16);
	for (got = 0; got < want; got += n) {
		size_t chunk = (size_t)(want - got) < sizeof(buf) ? (size_t)(want - got) : sizeof(buf);
		if ((n = read(fd, buf, chunk)) <= 0) {
			got = -1;
			break;
		}
	}
	*ret_len = got;
}

struct client {
	const char *method, *path, *target;
	bool close_early;
	bool bad_sig;
	const char *body; /* "{}" when NULL */
	char resp[4096];
};

static void *client_main(void *arg)
{
	struct client *cl = arg;
	int fd = send_signed(cl->method, cl->path, cl->target, cl->body ? cl->body : "{}", cl->bad_sig);
	size_t o = 0;
	ssize_t n;

	if (cl->close_early) {
		usleep(200 * 1000);
		close(fd);
		return NULL;
	}
	while (o < sizeof(cl->resp) - 1 && (n = read(fd, cl->resp + o, sizeof(cl->resp) - 1 - o)) > 0) {
		o += (size_t)n;
		cl->resp[o] = '\0';
		char *hdr_end = strstr(cl->resp, "\r\n\r\n");
		char *cl_hdr = strstr(cl->resp, "Content-Length: ");
		if (hdr_end && cl_hdr && (size_t)(cl->resp + o - (hdr_end + 4)) >= (size_t)atoi(cl_hdr + 16))
			break;
	}
	cl->resp[o] = '\0';
	close(fd);
	event_base_loopbreak(d.base);
	return NULL;
}

static void run_client(struct client *cl)
{
	pthread_t t;
	struct timeval tv = {10, 0};

	assert_int_equal(pthread_create(&t, NULL, client_main, cl), 0);
	event_base_loopexit(d.base, &tv);
	event_base_dispatch(d.base);
	pthread_join(t, NULL);
}

static int setup(void **state)
{
	struct rd_error e = RD_ERROR_INIT;

	evthread_use_pthreads();
	cfg.listen = "127.0.0.1:0";
	d.cfg = &cfg;
	d.base = event_base_new();
	assert_int_equal(workpool_new(2, &d.pool), 0);
	assert_int_equal(auth_new(lookup, NULL, NULL, &auth), 0);
	assert_int_equal(httpd_new(&d, &d.httpd, &e), 0);
	httpd_set_auth(d.httpd, auth_check_call, auth);
	assert_true(httpd_port(d.httpd) > 0);
	assert_int_equal(httpd_register_service(d.httpd, "Test_v1", "test", h_later, NULL), 0);
	assert_int_equal(httpd_register_service(d.httpd, "Test_v1", "test", h_later, NULL), -EEXIST);
	assert_int_equal(httpd_register_service(d.httpd, "Hold_v1", "test", h_hold, NULL), 0);
	assert_int_equal(httpd_register_get(d.httpd, "/things/", "test", h_get, NULL), 0);
	assert_int_equal(httpd_register_get(d.httpd, "/big/", "test", h_big, NULL), 0);
	assert_int_equal(httpd_register_service(d.httpd, "Direct_v1", "test", h_later, NULL), 0);
	assert_int_equal(httpd_set_direct(d.httpd, "Direct_v1", h_direct, NULL), 0);
	assert_int_equal(httpd_set_direct(d.httpd, "Nobody_v1", h_direct, NULL), -ENOENT);
	io_thread = pthread_self();
	return 0;
}

static int teardown(void **state)
{
	d.pool = workpool_free(d.pool);
	d.httpd = httpd_free(d.httpd);
	auth = auth_free(auth);
	event_base_free(d.base);
	libevent_global_shutdown();
	return 0;
}

static void test_deferred_reply_from_thread(void **state)
{
	struct client cl = {.method = "POST", .path = "/", .target = "Test_v1.Later"};

	run_client(&cl);
	assert_non_null(strstr(cl.resp, "HTTP/1.1 200"));
	assert_non_null(strstr(cl.resp, "x-amzn-RequestId: "));
	assert_non_null(strstr(cl.resp, "Content-Type: application/x-amz-json-1.1"));
	assert_non_null(strstr(cl.resp, "{\"from\":\"another thread\"}"));
}

static void test_client_gone(void **state)
{
	struct client cl = {.method = "POST", .path = "/", .target = "Hold_v1.Poll", .close_early = true};
	pthread_t t;
	struct timeval tv = {10, 0};

	assert_int_equal(pthread_create(&t, NULL, client_main, &cl), 0);
	event_base_loopexit(d.base, &tv);
	event_base_dispatch(d.base); /* on_gone breaks the loop */
	pthread_join(t, NULL);
	pthread_mutex_lock(&lock);
	assert_int_equal(gone_calls, 1);
	assert_null(held);
	pthread_mutex_unlock(&lock);
}

static void test_get_route_and_errors(void **state)
{
	struct client cl = {.method = "GET", .path = "/things/abc"};

	run_client(&cl);
	assert_non_null(strstr(cl.resp, "HTTP/1.1 200"));
	assert_non_null(strstr(cl.resp, "X-Test: 1"));
	assert_non_null(strstr(cl.resp, "bundle-bytes"));

	struct client un = {.method = "POST", .path = "/", .target = "Nobody_v1.Op"};
	run_client(&un);
	assert_non_null(strstr(un.resp, "HTTP/1.1 400"));
	assert_non_null(strstr(un.resp, "x-amzn-ErrorType: UnknownOperationException"));
	assert_non_null(strstr(un.resp, "\"__type\":\"UnknownOperationException\""));

	struct client nf = {.method = "GET", .path = "/elsewhere"};
	run_client(&nf);
	assert_non_null(strstr(nf.resp, "HTTP/1.1 404"));
}

/* Replies are written as soon as they are handed to evhttp (write_now):
 * the connection then serves the next request, closes after a reply when
 * the client asked it to, and a reply larger than the socket takes at once
 * is still sent whole. */
struct session {
	int status[4];
	long len[4];
	ssize_t after_close; /* read() after the Connection: close reply */
};

static void *session_main(void *arg)
{
	struct session *s = arg;
	int fd = connect_port(), big;
	char b;

	for (int i = 0; i < 3; i++) {
		send_on(fd, "GET", "/things/abc", NULL, "", false, i == 2 ? "Connection: close\r\n" : NULL);
		read_reply(fd, &s->status[i], &s->len[i]);
	}
	s->after_close = read(fd, &b, 1);
	close(fd);
	big = send_signed("GET", "/big/x", NULL, "", false);
	read_reply(big, &s->status[3], &s->len[3]);
	close(big);
	event_base_loopbreak(d.base);
	return NULL;
}

static void test_replies_written_at_once(void **state)
{
	struct session s;
	struct timeval tv = {20, 0};
	pthread_t t;

	memset(&s, 0, sizeof(s));
	assert_int_equal(pthread_create(&t, NULL, session_main, &s), 0);
	event_base_loopexit(d.base, &tv);
	event_base_dispatch(d.base);
	pthread_join(t, NULL);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(s.status[i], 200);
		assert_int_equal(s.len[i], 12); /* "bundle-bytes" */
	}
	assert_int_equal(s.after_close, 0);
	assert_int_equal(s.status[3], 200);
	assert_int_equal(s.len[3], BIG_REPLY);
}

/* A direct service's calls reach its handler on the I/O thread, and are
 * admitted (authenticated, parsed) where the handler hands them; a bad
 * signature is refused there as on the workpool path. */
static void test_direct(void **state)
{
	struct client cl = {.method = "POST", .path = "/", .target = "Direct_v1.Op", .body = "{\"n\":1}"};
	struct client bad = {.method = "POST", .path = "/", .target = "Direct_v1.Op", .bad_sig = true};

	run_client(&cl);
	assert_non_null(strstr(cl.resp, "HTTP/1.1 200"));
	assert_non_null(strstr(cl.resp, "{\"from\":\"admitted elsewhere\"}"));
	run_client(&bad);
	assert_non_null(strstr(bad.resp, "HTTP/1.1 403"));
	assert_non_null(strstr(bad.resp, "\"__type\":\"InvalidSignatureException\""));
	pthread_mutex_lock(&lock);
	assert_int_equal(direct_calls, 2);
	assert_int_equal(direct_admitted, 1);
	pthread_mutex_unlock(&lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_deferred_reply_from_thread), cmocka_unit_test(test_client_gone),
	    cmocka_unit_test(test_get_route_and_errors),       cmocka_unit_test(test_direct),
	    cmocka_unit_test(test_replies_written_at_once),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
