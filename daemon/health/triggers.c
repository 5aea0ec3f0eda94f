/* Trigger notifications: SNS Publish and webhooks, retried, recorded. See
 * triggers.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "awscreds.h"
#include "cluster/cluster.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "httpclient.h"
#include "log.h"
#include "store/store_health.h"
#include "health/triggers.h"
#include "util.h"

#define TAG "triggers"
#define ATTEMPT_TIMEOUT_MS 10000
#define MAX_DELAY_MS 60000
/* On a cluster: how often the "triggers" leader looks for deliveries left by
 * daemons that are gone, and how long an attempt waits while this daemon's
 * cluster lease is not fresh. */
#define ADOPT_EVERY_MS 1000
#define FENCED_WAIT_MS 250

static const char *const events[] = {"DeploymentStart",
				     "DeploymentSuccess",
				     "DeploymentFailure",
				     "DeploymentStop",
				     "DeploymentRollback",
				     "DeploymentReady",
				     "InstanceStart",
				     "InstanceSuccess",
				     "InstanceFailure",
				     "InstanceReady",
				     NULL};

struct delivery {
	struct delivery *next;
	struct rd_daemon *d;
	int64_t id;	/* store row; 0 until recorded */
	char owner[64]; /* on a cluster: the daemon id the row names as its deliverer */
	char *deployment_id, *instance_id, *event, *trigger_name, *target, *subject, *message;
	int attempts;
	int64_t due; /* monotonic ms */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	pthread_once_t once;
	struct delivery *queue; /* sorted by due */
	size_t in_flight;
	bool thread_started, quit;
	pthread_t thread;
	struct rd_daemon *d; /* on a cluster (triggers_resume): adopts what gone daemons left */
	int64_t next_adopt;  /* monotonic */
} T = {.lock = PTHREAD_MUTEX_INITIALIZER, .once = PTHREAD_ONCE_INIT};

static void module_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&T.cond, &a);
	pthread_condattr_destroy(&a);
}

static int64_t env_int(const char *name, int64_t def, int64_t min, int64_t max)
{
	const char *e = getenv(name);
	char *end;
	long long v;

	if (!e || !*e)
		return def;
	v = strtoll(e, &end, 10);
	return *end || v < min || v > max ? def : v;
}

/* ---------------------------------------------------------------- helpers */

bool triggers_event_valid(const char *event)
{
	for (size_t i = 0; event && events[i]; i++)
		if (strcmp(events[i], event) == 0)
			return true;
	return false;
}

int triggers_sns_region(const char *arn, char *out, size_t outlen)
{
	const char *p, *q;
	size_t n;

	/* arn:PARTITION:sns:REGION:ACCOUNT:NAME */
	if (!arn || strncmp(arn, "arn:", 4) != 0)
		return -EINVAL;
	p = strchr(arn + 4, ':');
	if (!p || strncmp(p, ":sns:", 5) != 0)
		return -EINVAL;
	p += 5;
	q = strchr(p, ':');
	if (!q || q == p || !strchr(q + 1, ':') || !*(strrchr(q + 1, ':') + 1))
		return -EINVAL;
	n = (size_t)(q - p);
	if (n >= outlen)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '-')
			return -EINVAL;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static bool is_webhook(const char *t)
{
	return t && (strncmp(t, "http://", 7) == 0 || strncmp(t, "https://", 8) == 0);
}

int triggers_message(const char *event, const char *trigger_name, const char *region, const char *account_id,
		     const json_t *group_doc, const json_t *info, char **ret_message, char **ret_subject)
{
	json_t *m;
	const char *k, *app, *dep, *status;
	json_t *v;
	char subject[101], st[32];
	char *text;

	app = json_string_value(json_object_get(group_doc, "applicationName"));
	m = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "region", region ? region : "", "accountId",
		      account_id ? account_id : "", "eventTriggerName", trigger_name ? trigger_name : "", "eventType",
		      event, "applicationName", app ? app : "", "deploymentGroupName",
		      json_string_value(json_object_get(group_doc, "deploymentGroupName")) ?: "");
	if (!m)
		return -ENOMEM;
	/* CodeDeploy's notifications carry nested documents as JSON strings. */
	json_object_foreach((json_t *)info, k, v)
	{
		if (json_is_object(v) || json_is_array(v)) {
			char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
			if (s)
				json_object_set_new(m, k, json_string(s));
			free(s);
		} else {
			json_object_set(m, k, v);
		}
	}
	dep = json_string_value(json_object_get(m, "deploymentId"));
	status = json_string_value(json_object_get(m, "status"));
	if (!status) {
		/* DeploymentSuccess -> SUCCESS, ... as a fallback */
		size_t n = 0;
		for (const char *p = event + (strncmp(event, "Deployment", 10) == 0 ? 10 : 8); *p && n < sizeof(st) - 1;
		     p++)
			st[n++] = (char)toupper((unsigned char)*p);
		st[n] = '\0';
		status = st;
	}
	snprintf(subject, sizeof(subject), "%s: rolloutd %s %s in %s to %s", status, event, dep ? dep : "",
		 region ? region : "", app ? app : "");
	text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(m);
	if (!text)
		return -ENOMEM;
	*ret_subject = strdup(subject);
	if (!*ret_subject) {
		free(text);
		return -ENOMEM;
	}
	*ret_message = text;
	return 0;
}

static struct delivery *delivery_free(struct delivery *x)
{
	if (!x)
		return NULL;
	free(x->deployment_id);
	free(x->instance_id);
	free(x->event);
	free(x->trigger_name);
	free(x->target);
	free(x->subject);
	free(x->message);
	free(x);
	return NULL;
}

static void free_list(struct delivery *x)
{
	while (x) {
		struct delivery *next = x->next;
		delivery_free(x);
		x = next;
	}
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Inserts x by due time. Under T.lock. */
static void enqueue_locked(struct delivery *x)
{
	struct delivery **pp = &T.queue;

	while (*pp && (*pp)->due <= x->due)
		pp = &(*pp)->next;
	x->next = *pp;
	*pp = x;
	pthread_cond_broadcast(&T.cond);
}

/* ---------------------------------------------------------------- delivery */

/* The text of the first <tag>...</tag>, unescaped enough for a log line. */
static void xml_text(const char *xml, const char *tag, char *out, size_t outlen)
{
	char open[64], close[64];
	const char *p, *e;

	out[0] = '\0';
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	if (!xml || !(p = strstr(xml, open)))
		return;
	p += strlen(open);
	if (!(e = strstr(p, close)))
		return;
	snprintf(out, outlen, "%.*s", (int)(e - p), p);
}

/* 0 delivered; 1 retry later; negative: give up. err / response filled. */
static int deliver_sns(const struct delivery *x, char *response, size_t rlen, char *err, size_t errlen)
{
	struct aws_cred_options o = {0};
	struct aws_credentials *creds = NULL;
	struct http_response *resp = NULL;
	static const char *const headers[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL};
	char region[64], url[1024], cerr[512], code[128], msg[512];
	const char *ep;
	char *body = NULL, *e_arn = NULL, *e_sub = NULL, *e_msg = NULL;
	CURL *cu = NULL;
	int r;

	if (triggers_sns_region(x->target, region, sizeof(region)) < 0) {
		snprintf(err, errlen,
			 "'%s' is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC) nor an http(s) "
			 "URL; fix the triggerTargetArn of trigger %s",
			 x->target, x->trigger_name);
		return -EINVAL;
	}
	ep = getenv("AWS_ENDPOINT_URL_SNS");
	if (!ep || !*ep)
		ep = getenv("AWS_ENDPOINT_URL");
	if (ep && *ep)
		snprintf(url, sizeof(url), "%s", ep);
	else
		snprintf(url, sizeof(url), "https://sns.%s.amazonaws.com/", region);
	r = aws_credentials_resolve(&o, &creds, cerr, sizeof(cerr));
	if (r < 0) {
		snprintf(err, errlen, "no AWS credentials for SNS: %s", cerr);
		return r == -ENOKEY ? 1 : r;
	}
	cu = curl_easy_init();
	if (!cu || !(e_arn = curl_easy_escape(cu, x->target, 0)) || !(e_sub = curl_easy_escape(cu, x->subject, 0)) ||
	    !(e_msg = curl_easy_escape(cu, x->message, 0))) {
		snprintf(err, errlen, "out of memory");
		r = 1;
		goto out;
	}
	if (asprintf(&body, "Action=Publish&Version=2010-03-31&TopicArn=%s&Subject=%s&Message=%s", e_arn, e_sub,
		     e_msg) < 0) {
		body = NULL;
		snprintf(err, errlen, "out of memory");
		r = 1;
		goto out;
	}
	struct http_request req = {.method = "POST",
				   .url = url,
				   .headers = headers,
				   .body = body,
				   .body_len = strlen(body),
				   .timeout_ms = ATTEMPT_TIMEOUT_MS,
				   .max_body = 1 << 20,
				   .aws_service = "sns",
				   .aws_region = region,
				   .aws_creds = creds};
	r = http_perform(&req, &resp, err, errlen);
	if (r < 0) {
		r = 1;
		goto out;
	}
	if (resp->status >= 200 && resp->status < 300) {
		xml_text(resp->body, "MessageId", code, sizeof(code));
		snprintf(response, rlen, "MessageId %s", code[0] ? code : "(none)");
		r = 0;
		goto out;
	}
	xml_text(resp->body, "Code", code, sizeof(code));
	xml_text(resp->body, "Message", msg, sizeof(msg));
	snprintf(err, errlen, "SNS Publish to %s answered HTTP %ld %s%s%s", x->target, resp->status,
		 code[0] ? code : "", msg[0] ? ": " : "", msg);
	snprintf(response, rlen, "HTTP %ld", resp->status);
	r = resp->status >= 500 || resp->status == 429 || strstr(code, "Throttl") ? 1 : -EIO;
out:
	http_response_free(resp);
	curl_free(e_arn);
	curl_free(e_sub);
	curl_free(e_msg);
	if (cu)
		curl_easy_cleanup(cu);
	free(body);
	aws_credentials_free(creds);
	return r;
}

static int deliver_webhook(const struct delivery *x, char *response, size_t rlen, char *err, size_t errlen)
{
	struct http_response *resp = NULL;
	char h_event[128], h_id[64], h_sig[128];
	const char *headers[] = {
	    "Content-Type: application/json", "User-Agent: rolloutd-trigger", h_event, h_id, NULL, NULL};
	const char *secret = getenv("ROLLOUTD_WEBHOOK_SECRET");
	int r;

	snprintf(h_event, sizeof(h_event), "X-Rolloutd-Event: %s", x->event);
	snprintf(h_id, sizeof(h_id), "X-Rolloutd-Delivery: %lld", (long long)x->id);
	if (secret && *secret) {
		/* X-Rolloutd-Signature: sha256=HEX(HMAC-SHA256(secret, body)), as GitHub signs its webhooks */
		unsigned char mac[32];
		size_t maclen = 0;
		char hex[65];
		if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, strlen(secret),
			       (const unsigned char *)x->message, strlen(x->message), mac, sizeof(mac), &maclen) ||
		    maclen != sizeof(mac)) {
			snprintf(err, errlen, "cannot compute the webhook signature (OpenSSL HMAC failed)");
			return 1;
		}
		rd_hex(mac, sizeof(mac), hex);
		snprintf(h_sig, sizeof(h_sig), "X-Rolloutd-Signature: sha256=%s", hex);
		headers[4] = h_sig;
	}
	struct http_request req = {.method = "POST",
				   .url = x->target,
				   .headers = headers,
				   .body = x->message,
				   .body_len = strlen(x->message),
				   .timeout_ms = ATTEMPT_TIMEOUT_MS,
				   .max_body = 4 << 20};
	r = http_perform(&req, &resp, err, errlen);
	if (r < 0)
		return r == -EINVAL ? r : 1;
	snprintf(response, rlen, "HTTP %ld", resp->status);
	if (resp->status >= 200 && resp->status < 300)
		r = 0;
	else {
		snprintf(err, errlen, "webhook %s answered HTTP %ld", x->target, resp->status);
		r = resp->status >= 500 || resp->status == 429 || resp->status == 408 ? 1 : -EIO;
	}
	http_response_free(resp);
	return r;
}

/* The row of delivery x in trigger_deliveries, delivered by owner (NULL: none). */
static struct store_trigger_delivery delivery_row(const struct delivery *x, const char *owner)
{
	return (struct store_trigger_delivery){.deployment_id = x->deployment_id,
					       .instance_id = x->instance_id,
					       .event = x->event,
					       .trigger_name = x->trigger_name,
					       .target = x->target,
					       .subject = x->subject,
					       .message = x->message,
					       .owner = owner};
}

static void record(struct delivery *x, const char *status, const char *err, const char *response)
{
	int r;

	if (!x->d || !x->d->store)
		return;
	if (x->id == 0) {
		struct store_trigger_delivery td = delivery_row(x, x->owner[0] ? x->owner : NULL);
		r = store_trigger_delivery_insert(x->d->store, &td, &x->id);
		if (r < 0) {
			rd_logt(LOG_ERR, TAG, "cannot record the delivery of %s to %s: %s", x->event, x->target,
				strerror(-r));
			return;
		}
	}
	if (status) {
		r = store_trigger_delivery_update(x->d->store, x->id, status, x->attempts, err, response);
		if (r < 0)
			rd_logt(LOG_ERR, TAG, "cannot record delivery %lld: %s", (long long)x->id, strerror(-r));
	}
}

static void requeue(struct delivery *x, int64_t due)
{
	x->due = due;
	pthread_mutex_lock(&T.lock);
	enqueue_locked(x);
	pthread_mutex_unlock(&T.lock);
}

/* On a cluster, whether x may be sent now: its row is this daemon's and
 * this daemon is alive (the fencing of cluster.h). 1 send; 0 later (x
 * queued again); -1 never from here (x freed). */
static int may_send(struct delivery *x)
{
	const char *self;
	int r;

	if (!cluster_enabled(x->d))
		return 1;
	self = cluster_self_id(x->d);
	if (!cluster_driving(x->d, NULL)) {
		/* past its deadline another daemon may have adopted the row:
		 * wait until this one is alive again, then ask the database */
		requeue(x, rd_mono_ms() + FENCED_WAIT_MS);
		return 0;
	}
	if (x->id == 0) {
		/* fired without a transaction (triggers_fire) and not recorded
		 * yet: only this daemon knows of it, under its current id */
		snprintf(x->owner, sizeof(x->owner), "%s", self);
		return 1;
	}
	r = store_trigger_delivery_claim(x->d->store, x->id, x->owner);
	if (r == -ESTALE) {
		rd_logt(LOG_NOTICE, TAG,
			"%s %s: %s to %s is no longer this daemon's to deliver (another daemon of the cluster "
			"adopted it while this one was expired); not sent from here",
			x->deployment_id ? x->deployment_id : "-", x->trigger_name, x->event, x->target);
		delivery_free(x);
		return -1;
	}
	if (r < 0) {
		rd_logt(LOG_WARNING, TAG, "%s %s: cannot check that %s to %s is still this daemon's: %s; retrying",
			x->deployment_id ? x->deployment_id : "-", x->trigger_name, x->event, x->target, strerror(-r));
		requeue(x, rd_mono_ms() + FENCED_WAIT_MS);
		return 0;
	}
	return 1;
}

static void attempt(struct delivery *x)
{
	char err[1024] = "", response[256] = "";
	int64_t base = env_int("ROLLOUTD_TRIGGER_RETRY_BASE_MS", 1000, 1, MAX_DELAY_MS);
	int max = (int)env_int("ROLLOUTD_TRIGGER_MAX_ATTEMPTS", 6, 1, 100);
	int r;

	if (may_send(x) <= 0)
		return;
	if (x->id == 0)
		record(x, NULL, NULL, NULL);
	x->attempts++;
	r = is_webhook(x->target) ? deliver_webhook(x, response, sizeof(response), err, sizeof(err))
				  : deliver_sns(x, response, sizeof(response), err, sizeof(err));
	if (r == 0) {
		record(x, "Delivered", NULL, response);
		rd_logt(LOG_INFO, TAG, "%s %s: %s delivered to %s (%s)", x->deployment_id ? x->deployment_id : "-",
			x->trigger_name, x->event, x->target, response);
		delivery_free(x);
		return;
	}
	if (r < 0 || x->attempts >= max) {
		record(x, "Failed", err, response[0] ? response : NULL);
		rd_logt(LOG_WARNING, TAG, "%s %s: %s NOT delivered to %s after %d attempt(s): %s",
			x->deployment_id ? x->deployment_id : "-", x->trigger_name, x->event, x->target, x->attempts,
			err);
		delivery_free(x);
		return;
	}
	record(x, "Pending", err, response[0] ? response : NULL);
	{
		int64_t delay = base;
		for (int i = 1; i < x->attempts && delay < MAX_DELAY_MS; i++)
			delay *= 2;
		if (delay > MAX_DELAY_MS)
			delay = MAX_DELAY_MS;
		rd_logt(LOG_NOTICE, TAG, "%s %s: %s to %s failed (attempt %d, retry in %lld ms): %s",
			x->deployment_id ? x->deployment_id : "-", x->trigger_name, x->event, x->target, x->attempts,
			(long long)delay, err);
		requeue(x, rd_mono_ms() + delay);
	}
}

static void adopt_orphans(struct rd_daemon *d);

static void *delivery_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&T.lock);
	while (!T.quit) {
		struct delivery *x = T.queue;
		int64_t now = rd_mono_ms(), wake = x ? x->due : INT64_MAX;

		if (T.d && now >= T.next_adopt) {
			struct rd_daemon *d = T.d;
			T.next_adopt = now + ADOPT_EVERY_MS;
			pthread_mutex_unlock(&T.lock);
			adopt_orphans(d);
			pthread_mutex_lock(&T.lock);
			continue;
		}
		if (T.d && T.next_adopt < wake)
			wake = T.next_adopt;
		if (wake == INT64_MAX) {
			pthread_cond_wait(&T.cond, &T.lock);
			continue;
		}
		if (wake > now) {
			struct timespec ts;
			int64_t w = wake - now;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += w / 1000;
			ts.tv_nsec += (w % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&T.cond, &T.lock, &ts);
			continue;
		}
		T.queue = x->next;
		T.in_flight++;
		pthread_mutex_unlock(&T.lock);
		attempt(x);
		pthread_mutex_lock(&T.lock);
		T.in_flight--;
		pthread_cond_broadcast(&T.cond);
	}
	pthread_mutex_unlock(&T.lock);
	return NULL;
}

/* Under T.lock. */
static int ensure_thread_locked(void)
{
	int r;

	if (T.thread_started)
		return 0;
	T.quit = false;
	r = pthread_create(&T.thread, NULL, delivery_main, NULL);
	if (r)
		return -r;
	T.thread_started = true;
	return 0;
}

/* ---------------------------------------------------------------- API */

/* The deliveries of event to the triggers of group_doc subscribed to it, in
 * *ret (a list in the groups' order; NULL when none). */
static int build(struct rd_daemon *d, const char *event, const json_t *group_doc, const json_t *info,
		 struct delivery **ret)
{
	const json_t *tc;
	struct delivery *list = NULL, **tail = &list, *x;
	size_t i;
	int r = 0;

	pthread_once(&T.once, module_init);
	*ret = NULL;
	if (!triggers_event_valid(event))
		return -EINVAL;
	json_array_foreach(json_object_get(group_doc, "triggerConfigurations"), i, tc)
	{
		const char *name = json_string_value(json_object_get(tc, "triggerName"));
		const char *target = json_string_value(json_object_get(tc, "triggerTargetArn"));
		const json_t *ev;
		size_t k;
		bool wanted = false;

		json_array_foreach(json_object_get(tc, "triggerEvents"), k, ev)
		{
			if (json_string_value(ev) && strcmp(json_string_value(ev), event) == 0)
				wanted = true;
		}
		if (!wanted || !target || !*target)
			continue;
		x = calloc(1, sizeof(*x));
		if (!x) {
			r = -ENOMEM;
			break;
		}
		x->d = d;
		x->event = strdup(event);
		x->trigger_name = strdup(name ? name : "");
		x->target = strdup(target);
		x->deployment_id = xstrdup(json_string_value(json_object_get(info, "deploymentId")));
		x->instance_id = xstrdup(json_string_value(json_object_get(info, "instanceId")));
		r = triggers_message(event, name, d && d->cfg ? d->cfg->region : "us-east-1",
				     d && d->cfg ? d->cfg->account_id : "000000000000", group_doc, info, &x->message,
				     &x->subject);
		if (r < 0 || !x->event || !x->trigger_name || !x->target) {
			delivery_free(x);
			r = r < 0 ? r : -ENOMEM;
			break;
		}
		*tail = x;
		tail = &x->next;
	}
	if (r < 0) {
		free_list(list);
		return r;
	}
	*ret = list;
	return 0;
}

/* Queues list (taken), due now. */
static int enqueue_list(struct delivery *list)
{
	struct delivery *x;
	int r;

	if (!list)
		return 0;
	pthread_mutex_lock(&T.lock);
	r = ensure_thread_locked();
	while (list) {
		x = list->next;
		if (r < 0) {
			delivery_free(list);
		} else {
			list->due = rd_mono_ms();
			enqueue_locked(list);
		}
		list = x;
	}
	pthread_mutex_unlock(&T.lock);
	return r;
}

int triggers_fire(struct rd_daemon *d, const char *event, const json_t *group_doc, const json_t *info)
{
	struct delivery *list = NULL;
	int r = build(d, event, group_doc, info, &list);

	return r < 0 ? r : enqueue_list(list);
}

struct triggers_batch {
	struct delivery *head, **tail;
};

int triggers_fire_tx(struct rd_daemon *d, struct store_tx *tx, const char *event, const json_t *group_doc,
		     const json_t *info, struct triggers_batch **batch)
{
	struct delivery *list = NULL, *x;
	const char *owner = cluster_self_id(d);
	int r = build(d, event, group_doc, info, &list);

	if (r < 0 || !list)
		return r;
	if (!*batch) {
		*batch = calloc(1, sizeof(**batch));
		if (!*batch) {
			free_list(list);
			return -ENOMEM;
		}
		(*batch)->tail = &(*batch)->head;
	}
	for (x = list; x; x = x->next) {
		struct store_trigger_delivery td = delivery_row(x, owner);
		/* on a cluster: the id the transaction's fence check found alive */
		snprintf(x->owner, sizeof(x->owner), "%s", owner ? owner : "");
		r = store_eng_trigger_delivery_insert(tx, &td, &x->id);
		if (r < 0)
			break;
	}
	/* kept even when one insert failed: the batch is freed with the rolled-back turn */
	*(*batch)->tail = list;
	while (*(*batch)->tail)
		(*batch)->tail = &(*(*batch)->tail)->next;
	return r;
}

void triggers_batch_send(struct triggers_batch *b)
{
	if (!b)
		return;
	enqueue_list(b->head);
	free(b);
}

void triggers_batch_free(struct triggers_batch *b)
{
	if (!b)
		return;
	free_list(b->head);
	free(b);
}

int triggers_fire_status(struct rd_daemon *d, const char *event, const json_t *group_doc, const char *deployment_id,
			 const char *status, const char *instance_id, const char *instance_status,
			 const char *error_code, const char *error_message)
{
	char up[32];
	size_t n = 0;
	json_t *info;
	int r;

	if (json_array_size(json_object_get(group_doc, "triggerConfigurations")) == 0)
		return 0;
	/* "InProgress" -> "IN_PROGRESS" */
	for (const char *p = status ? status : ""; *p && n + 2 < sizeof(up); p++) {
		if (p != status && isupper((unsigned char)*p))
			up[n++] = '_';
		up[n++] = (char)toupper((unsigned char)*p);
	}
	up[n] = '\0';
	info = json_pack("{s:s,s:s,s:I}", "deploymentId", deployment_id ? deployment_id : "", "status", up, "eventTime",
			 (json_int_t)(rd_wall_ms() / 1000));
	if (!info)
		return -ENOMEM;
	if (instance_id)
		json_object_set_new(info, "instanceId", json_string(instance_id));
	if (instance_status)
		json_object_set_new(info, "instanceStatus", json_string(instance_status));
	if (error_code)
		json_object_set_new(
		    info, "errorInformation",
		    json_pack("{s:s,s:s}", "code", error_code, "message", error_message ? error_message : ""));
	r = triggers_fire(d, event, group_doc, info);
	json_decref(info);
	return r;
}

/* Queues the deliveries of rows (store_trigger_delivery_list's shape) as
 * owner's (NULL on SQLite); the number queued. */
static size_t queue_rows(struct rd_daemon *d, const json_t *rows, const char *owner)
{
	const json_t *row;
	size_t i, n = 0;

	pthread_mutex_lock(&T.lock);
	json_array_foreach(rows, i, row)
	{
		struct delivery *x = calloc(1, sizeof(*x));
		if (!x)
			break;
		x->d = d;
		x->id = json_integer_value(json_object_get(row, "id"));
		x->attempts = (int)json_integer_value(json_object_get(row, "attempts"));
		snprintf(x->owner, sizeof(x->owner), "%s", owner ? owner : "");
		x->deployment_id = xstrdup(json_string_value(json_object_get(row, "deploymentId")));
		x->instance_id = xstrdup(json_string_value(json_object_get(row, "instanceId")));
		x->event = xstrdup(json_string_value(json_object_get(row, "event")));
		x->trigger_name = xstrdup(json_string_value(json_object_get(row, "triggerName")));
		x->target = xstrdup(json_string_value(json_object_get(row, "target")));
		x->subject = xstrdup(json_string_value(json_object_get(row, "subject")) ?: "");
		x->message = xstrdup(json_string_value(json_object_get(row, "message")));
		if (!x->event || !x->trigger_name || !x->target || !x->subject || !x->message ||
		    ensure_thread_locked() < 0) {
			delivery_free(x);
			continue;
		}
		x->due = rd_mono_ms();
		enqueue_locked(x);
		n++;
	}
	pthread_mutex_unlock(&T.lock);
	return n;
}

/* On a cluster, on the delivery thread: the daemon holding the "triggers"
 * lease takes the Pending deliveries of daemons that are gone (killed,
 * stopped, expired; this daemon's own earlier incarnations too) and
 * delivers them. A live daemon keeps retrying its own. */
static void adopt_orphans(struct rd_daemon *d)
{
	static bool warned;
	char self[64];
	json_t *rows = NULL;
	size_t n;
	int r;

	if (!cluster_is_leader(d, "triggers"))
		return;
	snprintf(self, sizeof(self), "%s", cluster_self_id(d));
	r = store_trigger_delivery_adopt(d->store, self, &rows);
	if (r < 0) {
		if (!warned)
			rd_logt(LOG_WARNING, TAG, "cannot look for trigger deliveries left by stopped daemons: %s",
				strerror(-r));
		warned = true;
		return;
	}
	warned = false;
	n = queue_rows(d, rows, self);
	if (n > 0)
		rd_logt(LOG_NOTICE, TAG, "adopted %zu pending trigger deliveries left by daemons that are gone", n);
	json_decref(rows);
}

int triggers_resume(struct rd_daemon *d)
{
	json_t *rows = NULL;
	int r;

	pthread_once(&T.once, module_init);
	if (!d || !d->store)
		return 0;
	{
		int64_t n = 0;
		int64_t keep_ms = env_int("ROLLOUTD_TRIGGER_KEEP_DAYS", 30, 0, 3650) * 86400000LL;
		if (store_trigger_delivery_prune(d->store, rd_wall_ms() - keep_ms, &n) == 0 && n > 0)
			rd_logt(LOG_INFO, TAG, "forgot %lld trigger deliveries older than the retention", (long long)n);
	}
	if (cluster_enabled(d)) {
		/* the other daemons may be delivering what is Pending now: only
		 * the "triggers" leader takes what the gone ones left, from now
		 * on (the delivery thread looks every ADOPT_EVERY_MS) */
		pthread_mutex_lock(&T.lock);
		T.d = d;
		T.next_adopt = rd_mono_ms();
		r = ensure_thread_locked();
		pthread_cond_broadcast(&T.cond);
		pthread_mutex_unlock(&T.lock);
		return r;
	}
	r = store_trigger_delivery_list(d->store, NULL, true, &rows);
	if (r < 0)
		return r;
	if (queue_rows(d, rows, NULL) > 0)
		rd_logt(LOG_INFO, TAG, "resuming %zu pending trigger deliveries", json_array_size(rows));
	json_decref(rows);
	return 0;
}

int triggers_drain(struct rd_daemon *d, int64_t timeout_ms)
{
	int64_t end = rd_mono_ms() + timeout_ms;
	int r = 0;

	(void)d;
	pthread_once(&T.once, module_init);
	pthread_mutex_lock(&T.lock);
	while (T.queue || T.in_flight) {
		int64_t now = rd_mono_ms();
		struct timespec ts;
		if (now >= end) {
			r = -ETIMEDOUT;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (end - now) / 1000;
		ts.tv_nsec += ((end - now) % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&T.cond, &T.lock, &ts);
	}
	pthread_mutex_unlock(&T.lock);
	return r;
}

void triggers_shutdown(struct rd_daemon *d)
{
	struct delivery *q;
	bool join;

	pthread_once(&T.once, module_init);
	pthread_mutex_lock(&T.lock);
	T.quit = true;
	T.d = NULL;
	join = T.thread_started;
	T.thread_started = false;
	pthread_cond_broadcast(&T.cond);
	pthread_mutex_unlock(&T.lock);
	if (join)
		pthread_join(T.thread, NULL);
	pthread_mutex_lock(&T.lock);
	q = T.queue;
	T.queue = NULL;
	pthread_mutex_unlock(&T.lock);
	while (q) {
		struct delivery *next = q->next;
		if (q->d == d || !d)
			record(q, NULL, NULL, NULL); /* make sure it is in the store, Pending */
		delivery_free(q);
		q = next;
	}
}
