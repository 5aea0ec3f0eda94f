/* rolloutctl's calls to rolloutd: the CodeDeploy JSON protocol (and the
 * bundle upload routes) over lib/httpclient, signed with SigV4 for the
 * codedeploy service. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "awscreds.h"
#include "cli.h"
#include "httpclient.h"
#include "util.h"

/* Answers larger than this are refused: nothing the API returns comes near. */
#define CLI_MAX_RESPONSE (64u << 20)

static void set_error(struct cli *c, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_error(struct cli *c, const char *type, const char *fmt, ...)
{
	va_list ap;

	snprintf(c->err_type, sizeof(c->err_type), "%s", type ? type : "");
	va_start(ap, fmt);
	vsnprintf(c->err_msg, sizeof(c->err_msg), fmt, ap);
	va_end(ap);
}

int cli_http(struct cli *c, const char *method, const char *path, const char *prefix, const char *op, const void *body,
	     size_t len, const char *content_type, const char *const *headers, json_t **ret_resp)
{
	struct aws_credentials creds = {
	    .access_key_id = c->access_key_id,
	    .secret_access_key = c->secret_access_key,
	    .session_token = c->session_token,
	};
	struct http_response *resp = NULL;
	const char *hdrs[16];
	char target[256], ctype[256], err[1024];
	size_t nh = 0;
	json_t *j = NULL;
	char *url = NULL;
	int r;

	c->err_type[0] = c->err_msg[0] = '\0';
	c->http_status = 0;
	if (prefix) {
		snprintf(target, sizeof(target), "X-Amz-Target: %s.%s", prefix, op);
		hdrs[nh++] = target;
	} else {
		prefix = method;
	}
	snprintf(ctype, sizeof(ctype), "Content-Type: %s", content_type);
	hdrs[nh++] = ctype;
	hdrs[nh++] = "Accept: application/json";
	for (size_t i = 0; headers && headers[i] && nh < RD_ARRAY_SIZE(hdrs) - 1; i++)
		hdrs[nh++] = headers[i];
	hdrs[nh] = NULL;
	/* One connection for all the calls of a command (--wait polls twice a second). */
	if (!c->http && http_session_new(&c->http) < 0)
		return -ENOMEM;
	if (asprintf(&url, "%s%s", c->endpoint, path) < 0)
		return -ENOMEM;

	struct http_request req = {
	    .method = method,
	    .url = url,
	    .headers = hdrs,
	    .body = body,
	    .body_len = len,
	    .timeout_ms = (int64_t)(c->timeout_s > 0 ? c->timeout_s : 120) * 1000,
	    .connect_timeout_ms = 10000,
	    .max_body = CLI_MAX_RESPONSE,
	    .aws_service = "codedeploy",
	    .aws_region = c->region,
	    .aws_creds = &creds,
	    .ca_file = c->ca_file,
	    .user_agent = "rolloutctl/" PACKAGE_VERSION,
	    .session = c->http,
	};
	if (c->verbose)
		fprintf(stderr, "> %s %s %s.%s (%zu bytes)\n", method, url, prefix, op ? op : path, len);
	r = http_perform(&req, &resp, err, sizeof(err));
	if (r == -EFBIG) {
		set_error(c, NULL, "the answer to %s is larger than %u MiB", op, CLI_MAX_RESPONSE >> 20);
		r = -EIO;
		goto out;
	}
	if (r < 0) {
		/* The endpoint is named once: drop httpclient's "METHOD URL: " lead. */
		const char *why = err;
		size_t ml = strlen(method), ul = strlen(url);
		if (strncmp(why, method, ml) == 0 && why[ml] == ' ' && strncmp(why + ml + 1, url, ul) == 0 &&
		    strncmp(why + ml + 1 + ul, ": ", 2) == 0)
			why += ml + ul + 3;
		set_error(c, NULL, "cannot reach rolloutd at %s: %s", c->endpoint, why);
		/* Callers tell "not running" (with a hint) from every other transport failure. */
		r = r == -ECONNREFUSED ? -ECONNREFUSED : -EIO;
		goto out;
	}
	c->http_status = resp->status;
	if (c->verbose)
		fprintf(stderr, "< %ld %.*s\n", resp->status, (int)(resp->body_len > 2000 ? 2000 : resp->body_len),
			resp->body);

	if (resp->body_len > 0)
		j = json_loadb(resp->body, resp->body_len, 0, NULL);
	else if (resp->status >= 200 && resp->status < 300)
		j = json_object();

	if (resp->status >= 200 && resp->status < 300) {
		if (!json_is_object(j)) {
			set_error(c, NULL,
				  "%s answered %s.%s with something that is not a JSON object; is %s a rolloutd "
				  "endpoint?",
				  c->endpoint, prefix, op, c->endpoint);
			r = -EIO;
			goto out;
		}
		*ret_resp = j;
		j = NULL;
		r = 0;
		goto out;
	}
	if (rd_json_aws_error(resp->body, resp->body_len, c->err_type, sizeof(c->err_type), c->err_msg,
			      sizeof(c->err_msg))) {
		r = -EREMOTEIO;
		goto out;
	}
	set_error(c, NULL, "%s answered HTTP %ld to %s.%s: %.200s", c->endpoint, resp->status, prefix, op, resp->body);
	r = resp->status == 404 || resp->status == 405 ? -ENOENT : -EREMOTEIO;
out:
	free(url);
	json_decref(j);
	http_response_free(resp);
	return r;
}

int cli_call_raw(struct cli *c, const char *prefix, const char *op, const void *body, size_t len,
		 const char *content_type, const char *const *headers, json_t **ret_resp)
{
	return cli_http(c, "POST", "/", prefix, op, body, len, content_type, headers, ret_resp);
}

int cli_call(struct cli *c, const char *prefix, const char *op, json_t *req, json_t **ret_resp)
{
	char *body;
	int r;

	body = req ? json_dumps(req, JSON_COMPACT) : strdup("{}");
	if (!body)
		return -ENOMEM;
	if (c->verbose)
		fprintf(stderr, "> %s\n", body);
	r = cli_call_raw(c, prefix, op, body, strlen(body), "application/x-amz-json-1.1", NULL, ret_resp);
	free(body);
	return r;
}

int cli_call_new(struct cli *c, const char *prefix, const char *op, json_t *req, json_t **ret_resp)
{
	int r = cli_call(c, prefix, op, req, ret_resp);

	json_decref(req);
	return r;
}

int cli_list_all(struct cli *c, const char *op, json_t *req, const char *result_key, json_t **ret_array)
{
	json_t *all = json_array(), *q = req ? json_deep_copy(req) : json_object();
	int r = 0;

	for (int page = 0; page < 10000; page++) {
		json_t *resp = NULL, *items, *next;

		r = cli_call(c, CLI_TARGET_CODEDEPLOY, op, q, &resp);
		if (r < 0)
			goto out;
		items = json_object_get(resp, result_key);
		if (json_is_array(items))
			json_array_extend(all, items);
		next = json_object_get(resp, "nextToken");
		if (!json_is_string(next) || json_string_length(next) == 0) {
			json_decref(resp);
			break;
		}
		json_object_set(q, "nextToken", next);
		json_decref(resp);
	}
	*ret_array = all;
	all = NULL;
out:
	json_decref(all);
	json_decref(q);
	return r;
}

int cli_report_error(struct cli *c, const char *what, int r)
{
	if (r == -EREMOTEIO && c->err_type[0]) {
		fprintf(stderr, "error: %s: %s: %s\n", what, c->err_type, c->err_msg[0] ? c->err_msg : "(no message)");
		if (strcmp(c->err_type, "UnrecognizedClientException") == 0 ||
		    strcmp(c->err_type, "InvalidSignatureException") == 0 ||
		    strcmp(c->err_type, "AccessDeniedException") == 0)
			fprintf(stderr, "hint: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or --profile) and that "
					"the key's policy allows this operation\n");
		else if (strcmp(c->err_type, "UnknownOperationException") == 0)
			fprintf(stderr, "hint: this rolloutd does not offer that operation yet; upgrade rolloutd\n");
		return CLI_EXIT_FAILED;
	}
	fprintf(stderr, "error: %s: %s\n", what, c->err_msg[0] ? c->err_msg : strerror(-r));
	if (r == -ECONNREFUSED)
		fprintf(stderr,
			"hint: is rolloutd running? Set ROLLOUT_ENDPOINT or --endpoint to its 'listen' address\n");
	return r == -EREMOTEIO ? CLI_EXIT_FAILED : CLI_EXIT_NETWORK;
}
