#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "awscreds.h"
#include "enroll.h"
#include "httpclient.h"
#include "jsonutil.h"
#include "log.h"
#include "settings.h"
#include "util.h"

#define USER_AGENT "rollout-agent/" PACKAGE_VERSION

static int set(char **dst, const char *v)
{
	char *n = strdup(v);

	if (!n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

/* The key a previous start obtained: 0, -ENOENT, or -EINVAL (unusable). */
static int load_key(struct agent_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	json_t *j;
	int r = rd_read_file(c->key_file, 64 * 1024, &buf, &len);

	if (r < 0)
		return r;
	j = json_loadb(buf, len, 0, NULL);
	free(buf);
	if (!rd_json_str(j, "AccessKeyId") || !rd_json_str(j, "SecretAccessKey") || !rd_json_str(j, "HostIdentifier")) {
		json_decref(j);
		return -EINVAL;
	}
	r = set(&c->access_key_id, rd_json_str(j, "AccessKeyId"));
	if (r == 0)
		r = set(&c->secret_access_key, rd_json_str(j, "SecretAccessKey"));
	if (r == 0 && strcmp(c->host_identifier, rd_json_str(j, "HostIdentifier")) != 0)
		r = -ESTALE; /* another instance's key (a copied disk image) */
	json_decref(j);
	return r;
}

/* The instance's ARN from the instance identity document (IMDSv2). */
static int imds_identity(const struct agent_config *c, char **ret, char *err, size_t errlen)
{
	char url[1200], tokhdr[1200], e[512];
	const char *put_hdrs[] = {"X-aws-ec2-metadata-token-ttl-seconds: 300", NULL};
	const char *get_hdrs[] = {tokhdr, NULL};
	struct http_response *resp = NULL;
	json_t *doc;
	int r;

	snprintf(url, sizeof(url), "%s/latest/api/token", c->imds_endpoint);
	struct http_request put = {.method = "PUT",
				   .url = url,
				   .headers = put_hdrs,
				   .timeout_ms = 5000,
				   .max_body = 4096,
				   .user_agent = USER_AGENT};
	r = http_perform(&put, &resp, e, sizeof(e));
	if (r < 0 || resp->status != 200) {
		snprintf(err, errlen, "instance metadata token from %s: %s", url, r < 0 ? e : "refused");
		http_response_free(resp);
		return r < 0 ? r : -EIO;
	}
	snprintf(tokhdr, sizeof(tokhdr), "X-aws-ec2-metadata-token: %.1000s", resp->body);
	http_response_free(resp);
	resp = NULL;
	snprintf(url, sizeof(url), "%s/latest/dynamic/instance-identity/document", c->imds_endpoint);
	struct http_request get = {
	    .url = url, .headers = get_hdrs, .timeout_ms = 5000, .max_body = 64 * 1024, .user_agent = USER_AGENT};
	r = http_perform(&get, &resp, e, sizeof(e));
	if (r < 0 || resp->status != 200) {
		snprintf(err, errlen, "instance identity document from %s: %s", url, r < 0 ? e : "refused");
		http_response_free(resp);
		return r < 0 ? r : -EIO;
	}
	doc = json_loads(resp->body, 0, NULL);
	http_response_free(resp);
	if (!rd_json_str(doc, "instanceId") || !rd_json_str(doc, "region") || !rd_json_str(doc, "accountId")) {
		json_decref(doc);
		snprintf(err, errlen, "the instance identity document from %s lacks instanceId, region or accountId",
			 url);
		return -EPROTO;
	}
	r = asprintf(ret, "arn:aws:ec2:%s:%s:instance/%s", rd_json_str(doc, "region"), rd_json_str(doc, "accountId"),
		     rd_json_str(doc, "instanceId"));
	json_decref(doc);
	return r < 0 ? -ENOMEM : 0;
}

/* One EnrollInstance call; on success the key is written to key_file. */
static int enroll_once(struct agent_config *c, char *err, size_t errlen)
{
	const char *hdrs[] = {"Content-Type: application/x-amz-json-1.1", "X-Amz-Target: Rolloutd_v1.EnrollInstance",
			      NULL};
	struct aws_credentials creds = {
	    .access_key_id = c->enroll_key_id, .secret_access_key = c->enroll_secret_access_key, .source = "config"};
	struct http_response *resp = NULL;
	char url[1100], e[512], type[128], msg[512];
	json_t *req = json_pack("{s:s}", "HostIdentifier", c->host_identifier), *ans;
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL, *text;
	int r;

	json_decref(req);
	if (!body)
		return -ENOMEM;
	snprintf(url, sizeof(url), "%s/", c->endpoint);
	struct http_request hr = {.method = "POST",
				  .url = url,
				  .headers = hdrs,
				  .body = body,
				  .body_len = strlen(body),
				  .timeout_ms = 30000,
				  .max_body = 64 * 1024,
				  .aws_service = "codedeploy",
				  .aws_region = c->region,
				  .aws_creds = &creds,
				  .ca_file = c->ca_file,
				  .user_agent = USER_AGENT};
	r = http_perform(&hr, &resp, e, sizeof(e));
	free(body);
	if (r < 0) {
		snprintf(err, errlen, "EnrollInstance: %s", e);
		return r;
	}
	if (resp->status != 200) {
		if (rd_json_aws_error(resp->body, resp->body_len, type, sizeof(type), msg, sizeof(msg)))
			snprintf(err, errlen, "EnrollInstance: HTTP %ld %s: %s", resp->status, type, msg);
		else
			snprintf(err, errlen, "EnrollInstance: HTTP %ld", resp->status);
		http_response_free(resp);
		return -EACCES;
	}
	ans = json_loads(resp->body, 0, NULL);
	http_response_free(resp);
	if (!rd_json_str(ans, "AccessKeyId") || !rd_json_str(ans, "SecretAccessKey")) {
		json_decref(ans);
		snprintf(err, errlen, "EnrollInstance: the answer holds no key");
		return -EPROTO;
	}
	json_object_set_new(ans, "HostIdentifier", json_string(c->host_identifier));
	text = json_dumps(ans, JSON_INDENT(2));
	r = text ? rd_write_file_atomic(c->key_file, text, strlen(text), 0600) : -ENOMEM;
	free(text);
	if (r == 0)
		r = set(&c->access_key_id, rd_json_str(ans, "AccessKeyId"));
	if (r == 0)
		r = set(&c->secret_access_key, rd_json_str(ans, "SecretAccessKey"));
	json_decref(ans);
	if (r < 0)
		snprintf(err, errlen, "cannot keep the enrolled key in %s: %s", c->key_file, strerror(-r));
	return r;
}

static void nap(unsigned s, volatile sig_atomic_t *stop)
{
	for (unsigned i = 0; i < s * 10 && !*stop; i++) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

int agent_enroll(struct agent_config *c, volatile sig_atomic_t *stop)
{
	char err[1024];
	unsigned backoff = 2;
	int r;

	while (!c->host_identifier && !*stop) {
		/* on EC2 the identity is the instance's: ask the metadata service */
		char *hid = NULL;
		r = imds_identity(c, &hid, err, sizeof(err));
		if (r == 0) {
			c->host_identifier = hid;
			break;
		}
		log_warning("cannot learn this instance's identity (%s); set host_identifier in the config or "
			    "retrying in %u s",
			    err, backoff);
		nap(backoff, stop);
		backoff = backoff * 2 > 30 ? 30 : backoff * 2;
	}
	if (*stop)
		return -EINTR;
	backoff = 2;
	if (c->access_key_id)
		return 0; /* a key of its own in the config */
	r = load_key(c);
	if (r == 0) {
		log_info("using the agent key enrolled earlier (%s)", c->key_file);
		return 0;
	}
	if (r != -ENOENT)
		log_warning("%s is unusable (%s); enrolling again", c->key_file, strerror(-r));
	while (!*stop) {
		r = enroll_once(c, err, sizeof(err));
		if (r == 0) {
			log_notice("enrolled as %s with enroll key %s: agent key %s kept in %s", c->host_identifier,
				   c->enroll_key_id, c->access_key_id, c->key_file);
			return 0;
		}
		log_warning("cannot enroll yet (%s); retrying in %u s", err, backoff);
		nap(backoff, stop);
		backoff = backoff * 2 > 30 ? 30 : backoff * 2;
	}
	return -EINTR;
}
