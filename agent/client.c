#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "awscreds.h"
#include "client.h"
#include "httpclient.h"
#include "jsonutil.h"
#include "settings.h"

#define TARGET_PREFIX "CodeDeployCommandService_v20141006."
#define SIGV4_SERVICE "codedeploy-commands"
#define MAX_RESPONSE (1 << 20)
#define USER_AGENT "rollout-agent/" PACKAGE_VERSION
#define IDLE_AFTER_MS 2000
#define DOWNLOAD_STALL_MS 60000

struct client {
	const struct agent_config *cfg;
	volatile sig_atomic_t *stop;
	struct http_session *calls;	/* protocol calls: one kept-alive connection */
	struct http_session *downloads; /* bundles (heartbeats go through calls meanwhile) */
	struct aws_credentials creds;	/* borrows cfg's strings */
	char *url;			/* endpoint + "/" */
	void (*on_idle)(void);
};

void client_set_idle_hook(struct client *c, void (*on_idle)(void))
{
	c->on_idle = on_idle;
}

int client_new(const struct agent_config *cfg, volatile sig_atomic_t *stop, struct client **ret)
{
	struct client *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->cfg = cfg;
	c->stop = stop;
	c->creds.access_key_id = cfg->access_key_id;
	c->creds.secret_access_key = cfg->secret_access_key;
	c->creds.source = "config";
	if (http_session_new(&c->calls) < 0 || http_session_new(&c->downloads) < 0 ||
	    asprintf(&c->url, "%s/", cfg->endpoint) < 0) {
		c->url = NULL;
		client_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

struct client *client_free(struct client *c)
{
	if (!c)
		return NULL;
	http_session_free(c->calls);
	http_session_free(c->downloads);
	free(c->url);
	free(c);
	return NULL;
}

/* "HTTP 400 ClientException: message" from an AWS JSON error body; the
 * __type without its namespace into ret_type. */
static void http_error(const struct http_response *resp, char *ret_type, size_t typelen, char *err, size_t errlen)
{
	char type[128], msg[1024];

	if (rd_json_aws_error(resp->body, resp->body_len, type, sizeof(type), msg, sizeof(msg))) {
		snprintf(err, errlen, "HTTP %ld %s: %s", resp->status, type, msg);
		if (ret_type)
			snprintf(ret_type, typelen, "%s", type);
	} else
		snprintf(err, errlen, "HTTP %ld: %.200s", resp->status, resp->body);
}

static void on_idle(void *ud)
{
	struct client *c = ud;
	c->on_idle();
}

int client_call(struct client *c, const char *op, json_t *req, long timeout_s, bool abortable, json_t **ret_resp,
		struct client_reply *ret_rep, char *err, size_t errlen)
{
	char target[160], e2[512];
	const char *hdrs[] = {"Content-Type: application/x-amz-json-1.1", target,
			      "X-Amz-Codedeploy-Agent-Version: " AGENT_VERSION_HEADER, NULL};
	struct http_response *resp = NULL;
	char *body;
	json_t *j;
	int r;

	ret_rep->status = 0;
	ret_rep->type[0] = '\0';
	snprintf(target, sizeof(target), "X-Amz-Target: " TARGET_PREFIX "%s", op);
	body = json_dumps(req, JSON_COMPACT);
	if (!body) {
		snprintf(err, errlen, "%s: out of memory", op);
		return -ENOMEM;
	}
	struct http_request hr = {
	    .method = "POST",
	    .url = c->url,
	    .headers = hdrs,
	    .body = body,
	    .body_len = strlen(body),
	    .timeout_ms = timeout_s * 1000,
	    .connect_timeout_ms = 10000,
	    .max_body = MAX_RESPONSE,
	    .aws_service = SIGV4_SERVICE,
	    .aws_region = c->cfg->region,
	    .aws_creds = &c->creds,
	    .ca_file = c->cfg->ca_file,
	    .client_cert = c->cfg->client_cert,
	    .client_key = c->cfg->client_key,
	    .user_agent = USER_AGENT,
	    .session = c->calls,
	    .cancel = abortable ? c->stop : NULL,
	    .on_idle = abortable && c->on_idle ? on_idle : NULL,
	    .idle_after_ms = IDLE_AFTER_MS,
	    .ud = c,
	};
	r = http_perform(&hr, &resp, e2, sizeof(e2));
	free(body);
	if (r == -ECANCELED) {
		snprintf(err, errlen, "%s: interrupted", op);
		return -EINTR;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", op, e2);
		return r == -ENOMEM ? -ENOMEM : -EIO;
	}
	ret_rep->status = resp->status;
	if (resp->status != 200) {
		http_error(resp, ret_rep->type, sizeof(ret_rep->type), e2, sizeof(e2));
		snprintf(err, errlen, "%s: %s", op, e2);
		http_response_free(resp);
		return -EPROTO;
	}
	if (resp->body_len == 0)
		j = json_object();
	else {
		json_error_t je;
		j = json_loadb(resp->body, resp->body_len, 0, &je);
		if (!j || !json_is_object(j)) {
			json_decref(j);
			snprintf(err, errlen, "%s: the response is not a JSON object: %s", op, je.text);
			http_response_free(resp);
			return -EPROTO;
		}
	}
	http_response_free(resp);
	*ret_resp = j;
	return 0;
}

int client_download(struct client *c, const char *url, const char *dest, uint64_t size, const char *sha256,
		    int (*tick)(void *ud), void *ud, char *err, size_t errlen)
{
	const char *hdrs[] = {"X-Amz-Codedeploy-Agent-Version: " AGENT_VERSION_HEADER, NULL};
	char *full = NULL, *part = NULL;
	int r = -EIO;
	struct stat st;

	if (url[0] == '/' ? asprintf(&full, "%s%s", c->cfg->endpoint, url) < 0 : !(full = strdup(url)))
		return -ENOMEM;
	if (asprintf(&part, "%s.part", dest) < 0) {
		free(full);
		return -ENOMEM;
	}
	for (int attempt = 1; attempt <= 5; attempt++) {
		struct http_response *resp = NULL;
		char e2[512];

		/* a part that cannot be the start of this bundle starts over */
		if (stat(part, &st) == 0 && (uint64_t)st.st_size >= size && unlink(part) < 0) {
			r = -errno;
			snprintf(err, errlen, "cannot remove %s: %s", part, strerror(errno));
			goto out;
		}
		struct http_request hr = {
		    .url = full,
		    .headers = hdrs,
		    .stall_timeout_ms = DOWNLOAD_STALL_MS,
		    .connect_timeout_ms = 10000,
		    .output_path = part,
		    .output_resume = true,
		    .output_no_sync = true, /* checked below; a crash costs a download */
		    .max_body = 65536,	    /* an error answer's body */
		    .aws_service = SIGV4_SERVICE,
		    .aws_region = c->cfg->region,
		    .aws_creds = &c->creds,
		    .ca_file = c->cfg->ca_file,
		    .client_cert = c->cfg->client_cert,
		    .client_key = c->cfg->client_key,
		    .user_agent = USER_AGENT,
		    .session = c->downloads,
		    .cancel = c->stop,
		    .tick = tick,
		    .ud = ud,
		};
		r = http_perform(&hr, &resp, e2, sizeof(e2));
		if (r == -ECANCELED) {
			snprintf(err, errlen, "bundle download from %s interrupted", full);
			r = -EINTR;
			goto out;
		}
		if (r < 0) {
			snprintf(err, errlen, "bundle download from %s (attempt %d): %s", full, attempt, e2);
			r = r == -ENOMEM ? -ENOMEM : -EIO;
		} else if (resp->status != 200 && resp->status != 206) {
			long status = resp->status;
			http_error(resp, NULL, 0, e2, sizeof(e2));
			snprintf(err, errlen, "bundle download from %s: %s", full, e2);
			http_response_free(resp);
			r = -EPROTO;
			if (status >= 400 && status < 500 && status != 408 && status != 429)
				goto out; /* not retryable */
		} else {
			if (stat(part, &st) < 0) {
				r = -errno;
				snprintf(err, errlen, "%s: %s", part, strerror(errno));
			} else if ((uint64_t)st.st_size != size) {
				snprintf(err, errlen,
					 "bundle from %s has %llu bytes, the deployment specification says %llu", full,
					 (unsigned long long)st.st_size, (unsigned long long)size);
				r = -EBADMSG;
			} else if (strcasecmp(resp->out_sha256, sha256) != 0) {
				snprintf(err, errlen,
					 "bundle from %s has sha256 %s, the deployment specification says %s; refused",
					 full, resp->out_sha256, sha256);
				unlink(part);
				r = -EBADMSG;
			} else
				r = 0;
			http_response_free(resp);
			break; /* an answer in full: retrying would fetch the same */
		}
		if (attempt < 5)
			sleep((unsigned)attempt);
	}
	if (r < 0)
		goto out;
	if (rename(part, dest) < 0) {
		r = -errno;
		snprintf(err, errlen, "rename %s: %s", part, strerror(errno));
	}
out:
	free(full);
	free(part);
	return r;
}
