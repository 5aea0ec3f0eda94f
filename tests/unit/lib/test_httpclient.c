/* lib/httpclient (libcurl, SigV4) and lib/awscreds (the credential chain,
 * IMDSv2) against a tiny HTTP server on 127.0.0.1 run in a thread. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <sys/stat.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "awscreds.h"
#include "cryptoutil.h"
#include "tmpdir.h"
#include "httpclient.h"
#include "util.h"

/* ---- a one-request-per-connection HTTP server ---- */

struct seen {
	char method[16];
	char path[512];
	char headers[8192]; /* raw header block, lower-cased names */
	char body[4096];
};

static int lfd = -1;
static int port;
static pthread_t thr;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct seen seen[16];
static int n_seen;
static volatile int delay_ms;

#define PATTERN_LEN 50000
static void pattern(char *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (char)('a' + i % 26);
}

/* Answers by path. */
static void respond(int fd, const struct seen *s)
{
	char out[1 << 16];
	const char *status = "200 OK", *body = "hello", *extra = "X-One: 1\r\nx-multi: a\r\nX-Multi: b\r\n";
	static char big[70000];

	if (strcmp(s->path, "/range") == 0 || strcmp(s->path, "/norange") == 0) {
		/* PATTERN_LEN bytes of pattern(); /range honours "Range: bytes=N-" */
		const char *rg = strstr(s->headers, "range: bytes=");
		size_t from = rg && strcmp(s->path, "/range") == 0 ? (size_t)atol(rg + 13) : 0;
		pattern(big, PATTERN_LEN);
		big[PATTERN_LEN] = '\0';
		body = big + from;
		if (from)
			status = "206 Partial Content";
	} else if (strcmp(s->path, "/big") == 0) {
		memset(big, 'x', sizeof(big) - 1);
		body = big;
	} else if (strcmp(s->path, "/missing") == 0) {
		status = "404 Not Found";
		body = "{\"message\":\"nope\"}";
	} else if (strcmp(s->path, "/latest/api/token") == 0) {
		body = strcmp(s->method, "PUT") == 0 ? "TOKEN123" : "";
		if (strcmp(s->method, "PUT") != 0)
			status = "405 Method Not Allowed";
	} else if (strcmp(s->path, "/latest/meta-data/iam/security-credentials/") == 0) {
		body = strstr(s->headers, "x-aws-ec2-metadata-token: TOKEN123") ? "myrole" : "";
		if (!*body)
			status = "401 Unauthorized";
	} else if (strcmp(s->path, "/latest/meta-data/iam/security-credentials/myrole") == 0) {
		body = "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAIMDS\",\"SecretAccessKey\":\"imdssecret\","
		       "\"Token\":\"imdstoken\",\"Expiration\":\"2099-01-01T00:00:00Z\"}";
	}
	int n = snprintf(out, sizeof(out), "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n", status,
			 strlen(body), extra);
	if (write(fd, out, (size_t)n) < 0 || write(fd, body, strlen(body)) < 0)
		return;
}

static void *serve(void *arg)
{
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		char buf[16384] = "";
		size_t len = 0;
		char *end = NULL;
		while (len < sizeof(buf) - 1 && !(end = strstr(buf, "\r\n\r\n"))) {
			ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
			if (n <= 0)
				break;
			len += (size_t)n;
			buf[len] = '\0';
		}
		struct seen s = {0};
		if (end) {
			sscanf(buf, "%15s %511s", s.method, s.path);
			size_t hl = (size_t)(end - buf);
			for (size_t i = 0; i < hl && i < sizeof(s.headers) - 1; i++)
				s.headers[i] = buf[i];
			/* lower-case header names, i.e. up to each ':' */
			for (char *l = strstr(s.headers, "\r\n"); l; l = strstr(l + 2, "\r\n"))
				for (char *c = l + 2; *c && *c != ':' && *c != '\r'; c++)
					*c = (char)tolower((unsigned char)*c);
			const char *cl = strstr(s.headers, "content-length: ");
			size_t want = cl ? (size_t)atol(cl + 16) : 0, have = len - hl - 4;
			while (have < want && len < sizeof(buf) - 1) {
				ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
				if (n <= 0)
					break;
				len += (size_t)n;
				have += (size_t)n;
			}
			snprintf(s.body, sizeof(s.body), "%.*s", (int)have, end + 4);
			pthread_mutex_lock(&mu);
			if (n_seen < 16)
				seen[n_seen++] = s;
			pthread_mutex_unlock(&mu);
			if (delay_ms)
				usleep((useconds_t)delay_ms * 1000);
			respond(fd, &s);
		}
		close(fd);
	}
}

static int server_up(void **st)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	port = ntohs(a.sin_port);
	return pthread_create(&thr, NULL, serve, NULL) == 0 ? 0 : -1;
}

static int server_down(void **st)
{
	shutdown(lfd, SHUT_RDWR);
	close(lfd);
	pthread_join(thr, NULL);
	return 0;
}

static int reset(void **st)
{
	pthread_mutex_lock(&mu);
	n_seen = 0;
	pthread_mutex_unlock(&mu);
	delay_ms = 0;
	aws_credentials_clear_cache();
	return 0;
}

static void url(char *out, size_t n, const char *path)
{
	snprintf(out, n, "http://127.0.0.1:%d%s", port, path);
}

/* ---- httpclient ---- */

static void test_get(void **st)
{
	struct http_response *resp = NULL;
	char u[256], err[512];
	const char *hdrs[] = {"X-Test: yes", NULL};

	url(u, sizeof(u), "/hello");
	struct http_request req = {.url = u, .headers = hdrs};
	assert_int_equal(http_perform(&req, &resp, err, sizeof(err)), 0);
	assert_int_equal(resp->status, 200);
	assert_int_equal(resp->body_len, 5);
	assert_string_equal(resp->body, "hello");
	assert_string_equal(http_response_header(resp, "x-one"), "1");
	assert_string_equal(http_response_header(resp, "X-MULTI"), "b"); /* the last one */
	assert_null(http_response_header(resp, "x-none"));
	assert_non_null(strstr(seen[0].headers, "x-test: yes"));
	assert_string_equal(seen[0].method, "GET");
	http_response_free(resp);
	assert_null(http_response_free(NULL));
}

static void test_status_and_post(void **st)
{
	struct http_response *resp = NULL;
	char u[256], err[512];

	url(u, sizeof(u), "/missing");
	struct http_request req = {.method = "POST", .url = u, .body = "{\"a\":1}", .body_len = 7};
	assert_int_equal(http_perform(&req, &resp, err, sizeof(err)), 0);
	assert_int_equal(resp->status, 404);
	assert_string_equal(resp->body, "{\"message\":\"nope\"}");
	assert_string_equal(seen[0].method, "POST");
	assert_string_equal(seen[0].body, "{\"a\":1}");
	http_response_free(resp);
}

static void test_body_limit(void **st)
{
	struct http_response *resp = NULL;
	char u[256], err[512], want[512];

	url(u, sizeof(u), "/big");
	struct http_request req = {.url = u, .max_body = 1000};
	assert_int_equal(http_perform(&req, &resp, err, sizeof(err)), -EFBIG);
	assert_null(resp);
	snprintf(want, sizeof(want), "%s: response body larger than 1000 bytes", u);
	assert_string_equal(err, want);
}

static void test_output_file(void **st)
{
	struct http_response *resp = NULL;
	char u[256], err[512], path[4200], *buf = NULL, sha[65];
	size_t len;
	char *dir = tu_mkdtemp();

	url(u, sizeof(u), "/big");
	snprintf(path, sizeof(path), "%s/out", dir);
	struct http_request req = {.url = u, .output_path = path, .max_body = 10};
	assert_int_equal(http_perform(&req, &resp, err, sizeof(err)), 0);
	assert_int_equal(resp->status, 200);
	assert_int_equal(resp->out_bytes, 69999);
	assert_int_equal(resp->body_len, 0);
	assert_int_equal(rd_read_file(path, 1 << 20, &buf, &len), 0);
	assert_int_equal(len, 69999);
	rd_sha256_hex(buf, len, sha);
	assert_string_equal(resp->out_sha256, sha);
	free(buf);
	http_response_free(resp);
	tu_rm_rf(dir);
}

static void test_refused_and_timeout(void **st)
{
	struct http_response *resp = NULL;
	char u[256], err[512];

	struct http_request req = {.url = "http://127.0.0.1:1/x", .timeout_ms = 2000};
	assert_int_equal(http_perform(&req, &resp, err, sizeof(err)), -ECONNREFUSED);
	assert_true(strncmp(err, "GET http://127.0.0.1:1/x: ", 26) == 0);

	delay_ms = 1500;
	url(u, sizeof(u), "/slow");
	struct http_request slow = {.url = u, .timeout_ms = 200};
	assert_int_equal(http_perform(&slow, &resp, err, sizeof(err)), -ETIMEDOUT);

	struct http_request bad = {.url = "ftp://127.0.0.1/x"};
	assert_int_equal(http_perform(&bad, &resp, err, sizeof(err)), -EINVAL);
	struct http_request none = {0};
	assert_int_equal(http_perform(&none, &resp, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "HTTP request without a URL");
}

static void test_sigv4(void **st)
{
	struct http_response *resp = NULL;
	struct aws_credentials creds = {
	    .access_key_id = "AKIDEXAMPLE", .secret_access_key = "secret", .session_token = "SESSIONTOKEN"};
	char u[256], err[512], sha[65];

	url(u, sizeof(u), "/bucket/key");
	struct http_request req = {.method = "PUT",
				   .url = u,
				   .body = "data",
				   .body_len = 4,
				   .aws_service = "s3",
				   .aws_region = "eu-west-1",
				   .aws_creds = &creds};
	assert_int_equal(http_perform(&req, &resp, err, sizeof(err)), 0);
	http_response_free(resp);
	const char *h = seen[0].headers;
	const char *auth = strstr(h, "authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/");
	assert_non_null(auth);
	assert_non_null(strstr(auth, "/eu-west-1/s3/aws4_request, SignedHeaders="));
	assert_non_null(strstr(auth, "x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature="));
	assert_non_null(strstr(h, "x-amz-date: "));
	assert_non_null(strstr(h, "x-amz-security-token: SESSIONTOKEN"));
	rd_sha256_hex("data", 4, sha);
	char want[128];
	snprintf(want, sizeof(want), "x-amz-content-sha256: %s", sha);
	assert_non_null(strstr(h, want));

	/* libcurl would sign an empty "Expect:" it does not send */
	assert_null(strstr(auth, "expect"));

	/* No credentials: refused before anything is sent. */
	req.aws_creds = NULL;
	assert_int_equal(http_perform(&req, &resp, err, sizeof(err)), -ENOKEY);
	assert_int_equal(n_seen, 1);
	char p[64];
	assert_int_equal(http_sigv4_param("us-east-1", "ec2", p, sizeof(p)), 0);
	assert_string_equal(p, "aws:amz:us-east-1:ec2");
	assert_int_equal(http_sigv4_param("us:east", "ec2", p, sizeof(p)), -EINVAL);
}

static void test_output_resume(void **st)
{
	struct http_response *resp = NULL;
	char u[256], err[512], path[4200], *buf = NULL, sha[65], want[PATTERN_LEN];
	size_t len;
	char *dir = tu_mkdtemp();
	FILE *f;

	pattern(want, sizeof(want));
	rd_sha256_hex(want, sizeof(want), sha);
	snprintf(path, sizeof(path), "%s/part", dir);
	/* what an interrupted transfer left: asks for the rest, appends, hashes all */
	f = fopen(path, "w");
	fwrite(want, 1, 1000, f);
	fclose(f);
	url(u, sizeof(u), "/range");
	struct http_request req = {.url = u, .output_path = path, .output_resume = true, .max_body = 100};
	assert_int_equal(http_perform(&req, &resp, err, sizeof(err)), 0);
	assert_int_equal(resp->status, 206);
	assert_non_null(strstr(seen[0].headers, "range: bytes=1000-"));
	assert_int_equal(resp->out_bytes, PATTERN_LEN - 1000);
	assert_string_equal(resp->out_sha256, sha);
	http_response_free(resp);
	assert_int_equal(rd_read_file(path, 1 << 20, &buf, &len), 0);
	assert_int_equal(len, PATTERN_LEN);
	assert_memory_equal(buf, want, PATTERN_LEN);
	free(buf);

	/* a server that ignores Range: the file starts over */
	f = fopen(path, "w");
	fputs("garbage", f);
	fclose(f);
	url(u, sizeof(u), "/norange");
	req.url = u;
	assert_int_equal(http_perform(&req, &resp, err, sizeof(err)), 0);
	assert_int_equal(resp->status, 200);
	assert_string_equal(resp->out_sha256, sha);
	http_response_free(resp);
	assert_int_equal(rd_read_file(path, 1 << 20, &buf, &len), 0);
	assert_int_equal(len, PATTERN_LEN);
	free(buf);

	/* an error answer goes to body; the file keeps what it had */
	truncate(path, 10);
	url(u, sizeof(u), "/missing");
	req.url = u;
	assert_int_equal(http_perform(&req, &resp, err, sizeof(err)), 0);
	assert_int_equal(resp->status, 404);
	assert_string_equal(resp->body, "{\"message\":\"nope\"}");
	http_response_free(resp);
	assert_int_equal(rd_read_file(path, 1 << 20, &buf, &len), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(buf, want, 10);
	free(buf);
	tu_rm_rf(dir);
}

static void test_url_escape(void **st)
{
	char *e = http_url_escape("web app/ü?&=#%~._-Az9");

	(void)st;
	assert_string_equal(e, "web%20app%2F%C3%BC%3F%26%3D%23%25~._-Az9");
	free(e);
	e = http_url_escape("");
	assert_string_equal(e, "");
	free(e);
}

static int ticks, idles;
static volatile sig_atomic_t cancel_flag;

static int count_tick(void *ud)
{
	ticks++;
	return ud ? -1 : 0; /* a non-NULL ud asks to stop */
}

static void count_idle(void *ud)
{
	idles++;
}

static void test_session_cancel_tick_idle(void **st)
{
	struct http_response *resp = NULL;
	struct http_session *sess = NULL;
	char u[256], err[512];

	assert_int_equal(http_session_new(&sess), 0);
	url(u, sizeof(u), "/hello");
	struct http_request req = {.url = u, .session = sess, .user_agent = "tester/1"};
	for (int i = 0; i < 2; i++) { /* the handle is reused */
		assert_int_equal(http_perform(&req, &resp, err, sizeof(err)), 0);
		assert_string_equal(resp->body, "hello");
		http_response_free(resp);
	}
	assert_non_null(strstr(seen[1].headers, "user-agent: tester/1"));

	/* a slow answer: on_idle once, ticks about every second, then the answer */
	delay_ms = 1500;
	ticks = idles = 0;
	struct http_request slow = {
	    .url = u, .session = sess, .tick = count_tick, .on_idle = count_idle, .idle_after_ms = 100};
	assert_int_equal(http_perform(&slow, &resp, err, sizeof(err)), 0);
	assert_int_equal(resp->status, 200);
	http_response_free(resp);
	assert_int_equal(idles, 1);
	assert_true(ticks >= 1);

	/* a tick asking to stop, and a cancel flag already set */
	slow.ud = &ticks;
	assert_int_equal(http_perform(&slow, &resp, err, sizeof(err)), -ECANCELED);
	assert_non_null(strstr(err, "cancelled"));
	cancel_flag = 1;
	resp = NULL;
	struct http_request cancelled = {.url = u, .cancel = &cancel_flag};
	assert_int_equal(http_perform(&cancelled, &resp, err, sizeof(err)), -ECANCELED);
	assert_null(resp);
	http_session_free(sess);
	assert_null(http_session_free(NULL));
}

/* ---- awscreds ---- */

static void clear_env(void)
{
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static void test_creds_explicit_and_env(void **st)
{
	struct aws_credentials *c = NULL;
	char err[512];

	clear_env();
	struct aws_cred_options o = {.access_key_id = "A", .secret_access_key = "S", .session_token = "T"};
	assert_int_equal(aws_credentials_resolve(&o, &c, err, sizeof(err)), 0);
	assert_string_equal(c->access_key_id, "A");
	assert_string_equal(c->session_token, "T");
	assert_string_equal(c->source, "config");
	c = aws_credentials_free(c);

	struct aws_cred_options half = {.access_key_id = "A"};
	assert_int_equal(aws_credentials_resolve(&half, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "set both access_key_id and secret_access_key, or neither (to use the environment, "
				 "~/.aws/credentials or instance metadata)");

	setenv("AWS_ACCESS_KEY_ID", "ENVA", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "ENVS", 1);
	assert_int_equal(aws_credentials_resolve(NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c->access_key_id, "ENVA");
	assert_null(c->session_token);
	assert_string_equal(c->source, "environment");
	c = aws_credentials_free(c);
	clear_env();
}

static void test_creds_file(void **st)
{
	struct aws_credentials *c = NULL;
	char err[512], path[4200], want[4400];
	char *dir = tu_mkdtemp();
	char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;

	clear_env();
	tu_write(dir, "creds",
		 "# comment\n[default]\naws_access_key_id = DEFA\naws_secret_access_key=DEFS\n\n"
		 "[ci]\naws_access_key_id = CIA\naws_secret_access_key = CIS\naws_session_token = CIT\n"
		 "[broken]\naws_access_key_id = X\n");
	snprintf(path, sizeof(path), "%s/creds", dir);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	assert_int_equal(aws_credentials_resolve(NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c->access_key_id, "DEFA");
	assert_string_equal(c->source, "shared-credentials-file");
	c = aws_credentials_free(c);

	setenv("AWS_PROFILE", "ci", 1);
	assert_int_equal(aws_credentials_resolve(NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c->access_key_id, "CIA");
	assert_string_equal(c->session_token, "CIT");
	c = aws_credentials_free(c);

	struct aws_cred_options o = {.profile = "nope"};
	assert_int_equal(aws_credentials_resolve(&o, &c, err, sizeof(err)), -ENOKEY);
	snprintf(want, sizeof(want), "AWS credentials file %s has no profile [nope]; add it or choose another profile",
		 path);
	assert_string_equal(err, want);
	o.profile = "broken";
	assert_int_equal(aws_credentials_resolve(&o, &c, err, sizeof(err)), -EINVAL);

	/* Explicit file and profile via options; env ignored. */
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	struct aws_cred_options o2 = {.credentials_file = path, .profile = "ci"};
	assert_int_equal(aws_credentials_resolve(&o2, &c, err, sizeof(err)), 0);
	assert_string_equal(c->access_key_id, "CIA");
	c = aws_credentials_free(c);

	/* ~/.aws/credentials through HOME; nothing at all -> ENOKEY. */
	setenv("HOME", dir, 1);
	assert_int_equal(aws_credentials_resolve(NULL, &c, err, sizeof(err)), -ENOKEY);
	assert_string_equal(err, "no AWS credentials found: set access_key_id and secret_access_key in the config, or "
				 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials, or "
				 "run on EC2 with an instance role");
	char awsdir[4200];
	snprintf(awsdir, sizeof(awsdir), "%s/.aws", dir);
	assert_int_equal(mkdir(awsdir, 0700), 0);
	tu_write(awsdir, "credentials", "[default]\naws_access_key_id=HOMEA\naws_secret_access_key=HOMES\n");
	assert_int_equal(aws_credentials_resolve(NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c->access_key_id, "HOMEA");
	c = aws_credentials_free(c);

	if (home) {
		setenv("HOME", home, 1);
		free(home);
	}
	tu_rm_rf(dir);
}

static void test_creds_imds(void **st)
{
	struct aws_credentials *c = NULL;
	char err[512], base[128];
	char *dir = tu_mkdtemp();

	clear_env();
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds", 1);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/", port);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", base, 1);
	assert_int_equal(aws_credentials_resolve(NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c->access_key_id, "ASIAIMDS");
	assert_string_equal(c->secret_access_key, "imdssecret");
	assert_string_equal(c->session_token, "imdstoken");
	assert_string_equal(c->source, "imds");
	assert_true(c->expires_ms > 4000000000000LL);
	c = aws_credentials_free(c);
	assert_int_equal(n_seen, 3);
	assert_string_equal(seen[0].method, "PUT");
	assert_non_null(strstr(seen[0].headers, "x-aws-ec2-metadata-token-ttl-seconds: 21600"));
	assert_non_null(strstr(seen[2].headers, "x-aws-ec2-metadata-token: TOKEN123"));

	/* Cached: no further requests. */
	assert_int_equal(aws_credentials_resolve(NULL, &c, err, sizeof(err)), 0);
	assert_string_equal(c->access_key_id, "ASIAIMDS");
	c = aws_credentials_free(c);
	assert_int_equal(n_seen, 3);

	/* Disabled, or nothing listening: the chain ends with ENOKEY. */
	aws_credentials_clear_cache();
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	assert_int_equal(aws_credentials_resolve(NULL, &c, err, sizeof(err)), -ENOKEY);
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1", 1);
	assert_int_equal(aws_credentials_resolve(NULL, &c, err, sizeof(err)), -ENOKEY);
	clear_env();
	tu_rm_rf(dir);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_get, reset),
	    cmocka_unit_test_setup(test_status_and_post, reset),
	    cmocka_unit_test_setup(test_body_limit, reset),
	    cmocka_unit_test_setup(test_output_file, reset),
	    cmocka_unit_test_setup(test_refused_and_timeout, reset),
	    cmocka_unit_test_setup(test_sigv4, reset),
	    cmocka_unit_test(test_url_escape),
	    cmocka_unit_test_setup(test_output_resume, reset),
	    cmocka_unit_test_setup(test_session_cancel_tick_idle, reset),
	    cmocka_unit_test_setup(test_creds_explicit_and_env, reset),
	    cmocka_unit_test_setup(test_creds_file, reset),
	    cmocka_unit_test_setup(test_creds_imds, reset),
	};
	return cmocka_run_group_tests(tests, server_up, server_down);
}
