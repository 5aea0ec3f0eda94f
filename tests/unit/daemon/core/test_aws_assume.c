/* STS AssumeRole for the AWS-calling plugins (daemon/core/aws_assume.c)
 * against a local fake of STS's query API: the request it signs and sends,
 * the credentials it reads, the cache (fresh credentials reused, ones
 * expiring within 5 minutes assumed again, per role), a refusal naming the
 * role, and the thread's current service role. */
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

#include "core/aws_assume.h"
#include "core/plugin_host.h"

static int lfd = -1, port;
static pthread_t thr;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int requests;
static char last_body[4096], last_auth[1024];
static char answer_status[64] = "200 OK";
static char answer_body[4096];

static void answer_credentials(const char *key, int64_t expires_in_s)
{
	char when[64];
	time_t t = time(NULL) + expires_in_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pthread_mutex_lock(&mu);
	snprintf(answer_status, sizeof(answer_status), "200 OK");
	snprintf(answer_body, sizeof(answer_body),
		 "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>"
		 "<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>secret-%s</SecretAccessKey>"
		 "<SessionToken>token-%s</SessionToken><Expiration>%s</Expiration></Credentials>"
		 "<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/deployer/rolloutd-ec2</Arn>"
		 "</AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>",
		 key, key, key, when);
	pthread_mutex_unlock(&mu);
}

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		char buf[16384] = "", out[8192], *end = NULL, *a;
		size_t len = 0;

		if (fd < 0)
			return NULL;
		while (len < sizeof(buf) - 1) {
			ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
			if (n <= 0)
				break;
			len += (size_t)n;
			buf[len] = '\0';
			if ((end = strstr(buf, "\r\n\r\n"))) {
				const char *cl = strcasestr(buf, "content-length: ");
				if (len - (size_t)(end + 4 - buf) >= (cl ? (size_t)atol(cl + 16) : 0))
					break;
			}
		}
		pthread_mutex_lock(&mu);
		requests++;
		snprintf(last_body, sizeof(last_body), "%s", end ? end + 4 : "");
		a = strcasestr(buf, "authorization: ");
		snprintf(last_auth, sizeof(last_auth), "%.*s", a ? (int)strcspn(a, "\r") : 0, a ? a : "");
		int n = snprintf(out, sizeof(out),
				 "HTTP/1.1 %s\r\nContent-Type: text/xml\r\nContent-Length: %zu\r\nConnection: "
				 "close\r\n\r\n%s",
				 answer_status, strlen(answer_body), answer_body);
		pthread_mutex_unlock(&mu);
		if (write(fd, out, (size_t)n) < 0) {
			/* the client went away: nothing to answer */
		}
		close(fd);
	}
}

static struct host_shared shared;
static struct rollout_handle *H;

static int setup(void **st)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);

	(void)st;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		return -1;
	port = ntohs(sa.sin_port);
	if (pthread_create(&thr, NULL, serve, NULL) != 0)
		return -1;
	return host_handle_new("ec2", NULL, NULL, &shared, &H);
}

static int teardown(void **st)
{
	(void)st;
	shutdown(lfd, SHUT_RDWR);
	close(lfd);
	pthread_join(thr, NULL);
	H = host_handle_free(H);
	aws_assume_clear_cache();
	return 0;
}

static int reset(void **st)
{
	(void)st;
	aws_assume_clear_cache();
	pthread_mutex_lock(&mu);
	requests = 0;
	last_body[0] = last_auth[0] = '\0';
	pthread_mutex_unlock(&mu);
	return 0;
}

static const struct aws_credentials base = {
    .access_key_id = "AKIDBASE", .secret_access_key = "base-secret", .source = "config"};

static int assume(const char *role, struct aws_credentials **ret, char *err, size_t errlen)
{
	char ep[64];

	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/", port);
	return aws_assume_role(H, &base, ep, "eu-west-1", role, ret, err, errlen);
}

static void assumes_signs_and_caches(void **st)
{
	struct aws_credentials *c = NULL;
	char err[1024] = "";

	(void)st;
	answer_credentials("ASIAFIRST", 3600);
	assert_int_equal(assume("arn:aws:iam::123456789012:role/deployer", &c, err, sizeof(err)), 0);
	assert_string_equal(c->access_key_id, "ASIAFIRST");
	assert_string_equal(c->secret_access_key, "secret-ASIAFIRST");
	assert_string_equal(c->session_token, "token-ASIAFIRST");
	assert_true(c->expires_ms > time(NULL) * 1000LL + 3500 * 1000LL);
	c = aws_credentials_free(c);
	/* the query API's form, signed by the base credentials for sts in the region */
	assert_non_null(strstr(last_body, "Action=AssumeRole"));
	assert_non_null(strstr(last_body, "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdeployer"));
	assert_non_null(strstr(last_body, "RoleSessionName=rolloutd-ec2"));
	assert_non_null(strstr(last_auth, "Credential=AKIDBASE/"));
	assert_non_null(strstr(last_auth, "/eu-west-1/sts/aws4_request"));
	/* fresh: from the cache, STS not asked again */
	answer_credentials("ASIASECOND", 3600);
	assert_int_equal(assume("arn:aws:iam::123456789012:role/deployer", &c, err, sizeof(err)), 0);
	assert_string_equal(c->access_key_id, "ASIAFIRST");
	c = aws_credentials_free(c);
	assert_int_equal(requests, 1);
	/* another role is assumed on its own */
	assert_int_equal(assume("arn:aws:iam::210987654321:role/other", &c, err, sizeof(err)), 0);
	assert_string_equal(c->access_key_id, "ASIASECOND");
	c = aws_credentials_free(c);
	assert_int_equal(requests, 2);
}

static void expiring_credentials_are_assumed_again(void **st)
{
	struct aws_credentials *c = NULL;
	char err[1024] = "";

	(void)st;
	answer_credentials("ASIASHORT", 120); /* within the 5 minutes before expiry */
	assert_int_equal(assume("arn:aws:iam::123456789012:role/deployer", &c, err, sizeof(err)), 0);
	assert_string_equal(c->access_key_id, "ASIASHORT");
	c = aws_credentials_free(c);
	answer_credentials("ASIALONG", 3600);
	assert_int_equal(assume("arn:aws:iam::123456789012:role/deployer", &c, err, sizeof(err)), 0);
	assert_string_equal(c->access_key_id, "ASIALONG");
	c = aws_credentials_free(c);
	assert_int_equal(requests, 2);
}

static void refusal_names_the_role(void **st)
{
	struct aws_credentials *c = NULL;
	char err[1024] = "";

	(void)st;
	pthread_mutex_lock(&mu);
	snprintf(answer_status, sizeof(answer_status), "403 Forbidden");
	snprintf(answer_body, sizeof(answer_body),
		 "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: "
		 "arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole</Message></Error>"
		 "<RequestId>1</RequestId></ErrorResponse>");
	pthread_mutex_unlock(&mu);
	assert_int_equal(assume("arn:aws:iam::123456789012:role/locked", &c, err, sizeof(err)), -EACCES);
	assert_null(c);
	assert_non_null(strstr(err, "arn:aws:iam::123456789012:role/locked"));
	assert_non_null(strstr(err, "AccessDenied"));
	assert_non_null(strstr(err, "not authorized to perform: sts:AssumeRole"));
	/* a refusal is not cached */
	answer_credentials("ASIAAFTER", 3600);
	assert_int_equal(assume("arn:aws:iam::123456789012:role/locked", &c, err, sizeof(err)), 0);
	assert_string_equal(c->access_key_id, "ASIAAFTER");
	aws_credentials_free(c);
}

static void *other_thread(void *arg)
{
	(void)arg;
	return (void *)aws_assume_current_role();
}

static void current_role_is_per_thread(void **st)
{
	pthread_t t;
	void *seen = (void *)1;

	(void)st;
	assert_null(aws_assume_current_role());
	aws_assume_set_role("arn:aws:iam::123456789012:role/deployer");
	assert_string_equal(aws_assume_current_role(), "arn:aws:iam::123456789012:role/deployer");
	assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
	pthread_join(t, &seen);
	assert_null(seen);
	aws_assume_set_role(NULL);
	assert_null(aws_assume_current_role());
	aws_assume_set_role("");
	assert_null(aws_assume_current_role());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(assumes_signs_and_caches, reset),
	    cmocka_unit_test_setup(expiring_credentials_are_assumed_again, reset),
	    cmocka_unit_test_setup(refusal_names_the_role, reset),
	    cmocka_unit_test(current_role_is_per_thread),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
