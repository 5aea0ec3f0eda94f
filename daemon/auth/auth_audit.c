/* The audit trail (auth_audit.h): the choice of what is recorded on the I/O
 * thread, the writing on a thread of its own. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth/auth_audit.h"
#include "core/httpd.h"
#include "log.h"
#include "sigv4.h"
#include "store/store.h"
#include "util.h"

#define QUEUE_MAX 10000
#define BODY_MAX (16 * 1024)

struct pending {
	struct pending *next;
	struct store_audit_record rec;
	char authz[640]; /* the Authorization header, for the key a refused call claimed */
	char *body;	 /* up to BODY_MAX bytes of a JSON request */
	size_t body_len;
};

struct audit {
	struct store *st;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pending *head, *tail;
	size_t queued, dropped;
	bool stopping;
};

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

enum audit_kind audit_classify(const char *target_prefix, const char *op, const char *method, int status,
			       const char *error_type)
{
	static const char *const refusals[] = {
	    "AccessDeniedException",	 "MissingAuthenticationTokenException", "IncompleteSignatureException",
	    "InvalidSignatureException", "UnrecognizedClientException",
	};

	if (status == 403)
		return AUDIT_REFUSED;
	for (size_t i = 0; error_type && i < RD_ARRAY_SIZE(refusals); i++)
		if (!strcmp(error_type, refusals[i]))
			return AUDIT_REFUSED;
	if (op) {
		if (!target_prefix ||
		    (strcmp(target_prefix, "CodeDeploy_20141006") != 0 && strcmp(target_prefix, "Rolloutd_v1") != 0))
			return AUDIT_NONE; /* the agents' host-command service */
		if (has_prefix(op, "Get") || has_prefix(op, "BatchGet") || has_prefix(op, "List") ||
		    !strcmp(op, "PlanDeployment"))
			return AUDIT_NONE;
		return AUDIT_MUTATING;
	}
	return method && (!strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "DELETE"))
		   ? AUDIT_MUTATING
		   : AUDIT_NONE;
}

void audit_observe(void *userdata, const struct httpd_call *c)
{
	struct audit *a = userdata;
	const char *prefix = httpd_call_target_prefix(c), *op = httpd_call_operation(c);
	const char *type = httpd_call_error_type(c), *msg = httpd_call_error_message(c), *authz;
	const struct httpd_principal *who = httpd_call_principal(c);
	int status = httpd_call_status(c);
	enum audit_kind kind = audit_classify(prefix, op, httpd_call_method(c), status, type);
	struct store_audit_record *r;
	struct pending *p;
	const void *body;
	size_t len = 0;

	if (kind == AUDIT_NONE)
		return;
	pthread_mutex_lock(&a->lock);
	if (a->queued >= QUEUE_MAX) {
		a->dropped++;
		pthread_mutex_unlock(&a->lock);
		return;
	}
	a->queued++;
	pthread_mutex_unlock(&a->lock);

	p = calloc(1, sizeof(*p));
	if (!p)
		goto oom;
	r = &p->rec;
	r->time = rd_wall_ms();
	rd_strlcpy(r->request_id, httpd_call_request_id(c), sizeof(r->request_id));
	if (who && who->access_key_id)
		rd_strlcpy(r->access_key_id, who->access_key_id, sizeof(r->access_key_id));
	if (who && who->policy)
		rd_strlcpy(r->policy, who->policy, sizeof(r->policy));
	rd_strlcpy(r->source, httpd_call_peer(c), sizeof(r->source));
	if (op)
		snprintf(r->operation, sizeof(r->operation), "%s.%s", prefix ? prefix : "", op);
	else
		snprintf(r->operation, sizeof(r->operation), "%s %s", httpd_call_method(c), httpd_call_path(c));
	if (!op)
		rd_strlcpy(r->resource, httpd_call_path(c), sizeof(r->resource));
	rd_strlcpy(r->result,
		   kind == AUDIT_REFUSED ? "Refused"
		   : status < 400	 ? "Allowed"
					 : "Failed",
		   sizeof(r->result));
	r->status = status;
	rd_strlcpy(r->error_code, type ? type : "", sizeof(r->error_code));
	rd_strlcpy(r->error_message, msg ? msg : "", sizeof(r->error_message));
	authz = r->access_key_id[0] ? NULL : httpd_call_header(c, "Authorization");
	if (authz)
		rd_strlcpy(p->authz, authz, sizeof(p->authz));
	body = op ? httpd_call_raw_body(c, &len) : NULL;
	if (body && len && len <= BODY_MAX) {
		p->body = malloc(len);
		if (p->body) {
			memcpy(p->body, body, len);
			p->body_len = len;
		}
	}
	pthread_mutex_lock(&a->lock);
	if (a->tail)
		a->tail->next = p;
	else
		a->head = p;
	a->tail = p;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
	return;
oom:
	pthread_mutex_lock(&a->lock);
	a->queued--;
	a->dropped++;
	pthread_mutex_unlock(&a->lock);
}

static const char *member(json_t *o, const char *a, const char *b)
{
	const char *s = json_string_value(json_object_get(o, a));
	return s ? s : b ? json_string_value(json_object_get(o, b)) : NULL;
}

/* "a,b,c" from an array of strings. */
static void join(json_t *arr, char *out, size_t len)
{
	size_t i, o = 0;
	json_t *v;

	out[0] = '\0';
	json_array_foreach(arr, i, v)
	{
		int w =
		    snprintf(out + o, len - o, "%s%s", i ? "," : "", json_string_value(v) ? json_string_value(v) : "");
		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
}

/* What the call acted on, from its request: the application it names, and
 * the most specific thing in it (a deployment, a group, a config, an
 * instance, a key, an ARN). */
static void describe(struct audit *a, struct pending *p)
{
	struct store_audit_record *r = &p->rec;
	const char *app, *s;
	json_t *body, *v;

	if (!p->authz[0] || r->access_key_id[0]) {
		/* nothing to add */
	} else {
		struct sigv4_auth au;
		char err[128];
		if (sigv4_parse_authorization(p->authz, &au, err, sizeof(err)) == 0)
			rd_strlcpy(r->access_key_id, au.access_key, sizeof(r->access_key_id));
	}
	if (!p->body)
		return;
	body = json_loadb(p->body, p->body_len, 0, NULL);
	if (!json_is_object(body)) {
		json_decref(body);
		return;
	}
	app = member(body, "applicationName", "ApplicationName");
	if (app)
		rd_strlcpy(r->application, app, sizeof(r->application));
	if ((s = member(body, "deploymentId", "DeploymentId")))
		rd_strlcpy(r->resource, s, sizeof(r->resource));
	else if ((v = json_object_get(body, "deploymentIds")) && json_is_array(v))
		join(v, r->resource, sizeof(r->resource));
	else if ((s = member(body, "deploymentGroupName", "currentDeploymentGroupName")))
		snprintf(r->resource, sizeof(r->resource), "%s/%s", app ? app : "", s);
	else if ((s = member(body, "deploymentConfigName", NULL)))
		rd_strlcpy(r->resource, s, sizeof(r->resource));
	else if ((s = member(body, "instanceName", NULL)))
		rd_strlcpy(r->resource, s, sizeof(r->resource));
	else if ((v = json_object_get(body, "instanceNames")) && json_is_array(v))
		join(v, r->resource, sizeof(r->resource));
	else if ((s = member(body, "AccessKeyId", NULL)))
		rd_strlcpy(r->resource, s, sizeof(r->resource));
	else if ((s = member(body, "ResourceArn", NULL)))
		rd_strlcpy(r->resource, s, sizeof(r->resource));
	else if ((s = member(body, "newApplicationName", NULL)))
		rd_strlcpy(r->resource, s, sizeof(r->resource));
	else if ((s = member(body, "Name", NULL)))
		rd_strlcpy(r->resource, s, sizeof(r->resource));
	else if (app)
		rd_strlcpy(r->resource, app, sizeof(r->resource));
	/* a deployment names its application only through the store */
	if (!r->application[0] && (s = member(body, "deploymentId", "DeploymentId")))
		(void)store_deployment_application(a->st, s, r->application, sizeof(r->application));
	json_decref(body);
}

static void log_record(const struct store_audit_record *r)
{
	char f[11][1200], status[16];
	const char *extra[12];
	size_t n = 0;

#define FIELD(name, val)                                                                                               \
	do {                                                                                                           \
		snprintf(f[n], sizeof(f[n]), "ROLLOUT_AUDIT_" name "=%s", (val));                                      \
		extra[n] = f[n];                                                                                       \
		n++;                                                                                                   \
	} while (0)
	snprintf(status, sizeof(status), "%d", r->status);
	FIELD("OPERATION", r->operation);
	FIELD("RESULT", r->result);
	FIELD("STATUS", status);
	FIELD("REQUEST_ID", r->request_id);
	FIELD("SOURCE", r->source);
	if (r->access_key_id[0])
		FIELD("ACCESS_KEY_ID", r->access_key_id);
	if (r->policy[0])
		FIELD("POLICY", r->policy);
	if (r->application[0])
		FIELD("APPLICATION", r->application);
	if (r->resource[0])
		FIELD("RESOURCE", r->resource);
	if (r->error_code[0])
		FIELD("ERROR_CODE", r->error_code);
	if (r->error_message[0])
		FIELD("ERROR_MESSAGE", r->error_message);
#undef FIELD
	extra[n] = NULL;
	/* one line, key=value, the message last because it has spaces */
	rd_logf(
	    r->result[0] == 'R' ? LOG_NOTICE : LOG_INFO, "audit", &(const struct rd_log_fields){.extra = extra},
	    "%s result=%s status=%d key=%s policy=%s source=%s application=%s resource=%s request=%s error=%s%s%s%s",
	    r->operation, r->result, r->status, r->access_key_id[0] ? r->access_key_id : "-",
	    r->policy[0] ? r->policy : "-", r->source[0] ? r->source : "-", r->application[0] ? r->application : "-",
	    r->resource[0] ? r->resource : "-", r->request_id, r->error_code[0] ? r->error_code : "-",
	    r->error_message[0] ? " message=\"" : "", r->error_message, r->error_message[0] ? "\"" : "");
}

static void write_batch(struct audit *a, struct pending *list)
{
	struct store_audit_record *v;
	size_t n = 0, i = 0;
	int r;

	for (struct pending *p = list; p; p = p->next)
		n++;
	v = calloc(n, sizeof(*v));
	for (struct pending *p = list; p; p = p->next) {
		describe(a, p);
		log_record(&p->rec);
		if (v)
			v[i++] = p->rec;
	}
	r = v ? store_audit_insert(a->st, v, n) : -ENOMEM;
	if (r < 0)
		log_warning("audit: cannot store %zu record(s): %s (they are in the log only)", n, strerror(-r));
	free(v);
	while (list) {
		struct pending *next = list->next;
		free(list->body);
		free(list);
		list = next;
	}
}

static void *writer(void *arg)
{
	struct audit *a = arg;

	for (;;) {
		struct pending *list;
		size_t dropped, n = 0;
		bool stop;

		pthread_mutex_lock(&a->lock);
		while (!a->head && !a->stopping && !a->dropped)
			pthread_cond_wait(&a->cond, &a->lock);
		list = a->head;
		a->head = a->tail = NULL;
		for (struct pending *p = list; p; p = p->next)
			n++;
		a->queued -= n;
		dropped = a->dropped;
		a->dropped = 0;
		stop = a->stopping;
		pthread_mutex_unlock(&a->lock);
		if (dropped)
			log_warning("audit: %zu record(s) dropped: more than %d were waiting for the store", dropped,
				    QUEUE_MAX);
		if (list)
			write_batch(a, list);
		if (stop && !list)
			return NULL;
	}
}

int audit_start(struct store *st, struct audit **ret)
{
	struct audit *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->st = st;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	r = pthread_create(&a->thread, NULL, writer, a);
	if (r != 0) {
		pthread_cond_destroy(&a->cond);
		pthread_mutex_destroy(&a->lock);
		free(a);
		return -r;
	}
	*ret = a;
	return 0;
}

struct audit *audit_stop(struct audit *a)
{
	if (!a)
		return NULL;
	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	pthread_cond_signal(&a->cond);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	free(a);
	return NULL;
}
