/* CodeDeploy output shapes from store rows (see api_info.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_info.h"
#include "api/api_util.h"
#include "core/daemon.h"

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

/* A stored time; 0 means unset and is left out. */
static void set_time(json_t *o, const char *k, int64_t ms)
{
	if (ms)
		json_object_set_new(o, k, api_time(ms));
}

static void set_json(json_t *o, const char *k, json_t *v)
{
	if (v)
		json_object_set(o, k, v);
}

json_t *api_app_info(const struct store_app *a)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	set_str(o, "applicationId", a->id);
	set_str(o, "applicationName", a->name);
	set_time(o, "createTime", a->create_time);
	json_object_set_new(o, "linkedToGitHub", json_boolean(a->github_account != NULL));
	set_str(o, "gitHubAccountName", a->github_account);
	set_str(o, "computePlatform", a->compute_platform);
	return o;
}

json_t *api_config_info(const struct store_config *cf)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	set_str(o, "deploymentConfigId", cf->id);
	set_str(o, "deploymentConfigName", cf->name);
	if (json_is_object(cf->doc))
		json_object_update(o, cf->doc);
	set_time(o, "createTime", cf->create_time);
	set_str(o, "computePlatform", cf->compute_platform);
	return o;
}

/* LastDeploymentInfo, NULL when the group has none. */
static json_t *last_deployment(const struct store_last_deployment *l)
{
	json_t *o;

	if (!l->id[0] || !(o = json_object()))
		return NULL;
	set_str(o, "deploymentId", l->id);
	set_str(o, "status", l->status);
	set_time(o, "endTime", l->complete_time);
	set_time(o, "createTime", l->create_time);
	return o;
}

json_t *api_group_info(const struct store_group *g)
{
	json_t *o = json_object(), *v;

	if (!o)
		return NULL;
	set_str(o, "applicationName", g->app);
	set_str(o, "deploymentGroupId", g->id);
	set_str(o, "deploymentGroupName", g->name);
	set_str(o, "deploymentConfigName", g->config);
	if (json_is_object(g->doc))
		json_object_update(o, g->doc);
	set_str(o, "computePlatform", g->compute_platform);
	if ((v = last_deployment(&g->last_attempted)))
		json_object_set_new(o, "lastAttemptedDeployment", v);
	if ((v = last_deployment(&g->last_successful)))
		json_object_set_new(o, "lastSuccessfulDeployment", v);
	/* the revision of the latest deployment */
	if (json_is_object(g->last_attempted.revision))
		json_object_set(o, "targetRevision", g->last_attempted.revision);
	return o;
}

json_t *api_revision_info(const struct store_revision *rv)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	set_str(o, "description", rv->description);
	set_json(o, "deploymentGroups", rv->deployment_groups);
	set_time(o, "firstUsedTime", rv->first_used_time);
	set_time(o, "lastUsedTime", rv->last_used_time);
	set_time(o, "registerTime", rv->register_time);
	return o;
}

json_t *api_deployment_info(const struct store_deployment *dp)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	set_str(o, "applicationName", dp->app);
	set_str(o, "deploymentGroupName", dp->group);
	set_str(o, "deploymentConfigName", dp->config);
	set_str(o, "deploymentId", dp->id);
	set_json(o, "previousRevision", dp->previous_revision);
	set_json(o, "revision", dp->revision);
	set_str(o, "status", dp->status);
	if (dp->error_code || dp->error_message) {
		json_t *e = json_object();
		set_str(e, "code", dp->error_code);
		set_str(e, "message", dp->error_message);
		json_object_set_new(o, "errorInformation", e);
	}
	set_time(o, "createTime", dp->create_time);
	set_time(o, "startTime", dp->start_time);
	set_time(o, "completeTime", dp->complete_time);
	set_str(o, "creator", dp->creator);
	set_json(o, "deploymentStatusMessages", dp->status_messages);
	set_json(o, "rollbackInfo", dp->rollback_info);
	set_str(o, "computePlatform", dp->compute_platform);
	set_str(o, "externalId", dp->external_id);
	if (json_is_object(dp->doc))
		json_object_update_missing(o, dp->doc);
	if (dp->overview)
		json_object_set(o, "deploymentOverview", dp->overview);
	else
		json_object_set_new(
		    o, "deploymentOverview",
		    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "Pending", (json_int_t)dp->counts.pending, "InProgress",
			      (json_int_t)dp->counts.in_progress, "Succeeded", (json_int_t)dp->counts.succeeded,
			      "Failed", (json_int_t)dp->counts.failed, "Skipped", (json_int_t)dp->counts.skipped,
			      "Ready", (json_int_t)dp->counts.ready));
	if (!json_object_get(o, "deploymentStatusMessages"))
		json_object_set_new(o, "deploymentStatusMessages", json_array());
	return o;
}

static json_t *lifecycle_events(const struct store_target *t)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < t->n_events; i++) {
		const struct store_event *ev = &t->events[i];
		json_t *e = json_object();
		set_str(e, "lifecycleEventName", ev->name);
		set_json(e, "diagnostics", ev->diagnostics);
		set_time(e, "startTime", ev->start_time);
		set_time(e, "endTime", ev->end_time);
		set_str(e, "status", ev->status);
		json_array_append_new(arr, e);
	}
	return arr;
}

static const char *target_key(const char *type)
{
	return !strcmp(type, "LambdaTarget")	       ? "lambdaTarget"
	       : !strcmp(type, "ECSTarget")	       ? "ecsTarget"
	       : !strcmp(type, "CloudFormationTarget") ? "cloudFormationTarget"
						       : "instanceTarget";
}

/* A target's members but its lifecycle events. */
static json_t *target_fields(const struct store_target *t, const char *type)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	set_str(o, "deploymentId", t->deployment_id);
	set_str(o, "targetId", t->target_id);
	set_str(o, "targetArn", t->arn);
	set_str(o, "status", t->status);
	set_time(o, "lastUpdatedAt", t->last_updated);
	if (!strcmp(target_key(type), "instanceTarget"))
		set_str(o, "instanceLabel", t->label);
	if (json_is_object(t->doc))
		json_object_update_missing(o, t->doc);
	return o;
}

json_t *api_target_info(const struct store_target *t)
{
	const char *type = t->type ? t->type : "InstanceTarget";
	json_t *o = target_fields(t, type);

	if (!o)
		return NULL;
	json_object_set_new(o, "lifecycleEvents", lifecycle_events(t));
	return json_pack("{s:s, s:o}", "deploymentTargetType", type, target_key(type), o);
}

/* A JSON string (the text is the daemon's own, valid UTF-8). */
static void text_str(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			putc('\\', f);
			putc(ch, f);
		} else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			putc(ch, f);
	}
	putc('"', f);
}

/* ,"key":seconds as httpd_call_reply prints api_time(ms) (%.15g, and .0
 * for a whole number). */
static void text_time(FILE *f, const char *key, int64_t ms)
{
	int frac;

	if (!ms)
		return;
	fputs(",\"", f);
	fputs(key, f);
	fputs("\":", f);
	if (ms < 0 || ms >= 1000000000000000LL) {
		/* not a time the daemon writes: the general way */
		json_t *j = api_time(ms);
		char *txt = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15)) : NULL;
		fputs(txt ? txt : "null", f);
		free(txt);
		json_decref(j);
		return;
	}
	/* digits by hand: printf's formatting was a tenth of the reply's time */
	char buf[24], *p = buf + sizeof(buf);
	int64_t secs = ms / 1000;
	frac = (int)(ms % 1000);
	*--p = '\0';
	if (!frac)
		*--p = '0';
	else {
		int digits = frac % 10 ? 3 : frac % 100 ? 2 : 1;
		for (int k = 3; k > digits; k--)
			frac /= 10;
		for (int k = 0; k < digits; k++, frac /= 10)
			*--p = (char)('0' + frac % 10);
	}
	*--p = '.';
	do
		*--p = (char)('0' + secs % 10);
	while ((secs /= 10) > 0);
	fputs(p, f);
}

int api_targets_text(struct store_target *const *v, size_t n, char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r = 0;

	if (!f)
		return -ENOMEM;
	fputs("{\"deploymentTargets\":[", f);
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct store_target *t = v[i];
		const char *type = t->type ? t->type : "InstanceTarget";
		json_t *o = target_fields(t, type);
		char *fields = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
		size_t flen = fields ? strlen(fields) : 0;

		json_decref(o);
		if (flen < 2) {
			free(fields);
			r = -ENOMEM;
			break;
		}
		fputs(i ? ",{\"deploymentTargetType\":" : "{\"deploymentTargetType\":", f);
		text_str(f, type);
		fprintf(f, ",\"%s\":", target_key(type));
		/* the members, then the events before the closing brace */
		fwrite(fields, 1, flen - 1, f);
		fputs(flen > 2 ? ",\"lifecycleEvents\":[" : "\"lifecycleEvents\":[", f);
		free(fields);
		for (size_t j = 0; j < t->n_events; j++) {
			const struct store_event *ev = &t->events[j];
			fputs(j ? ",{\"lifecycleEventName\":" : "{\"lifecycleEventName\":", f);
			text_str(f, ev->name ? ev->name : "");
			if (ev->diagnostics_text) {
				fputs(",\"diagnostics\":", f);
				fputs(ev->diagnostics_text, f);
			}
			text_time(f, "startTime", ev->start_time);
			text_time(f, "endTime", ev->end_time);
			if (ev->status) {
				fputs(",\"status\":", f);
				text_str(f, ev->status);
			}
			putc('}', f);
		}
		fputs("]}}", f);
	}
	fputs("]}", f);
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

json_t *api_instance_summary(const struct store_target *t)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	set_str(o, "deploymentId", t->deployment_id);
	set_str(o, "instanceId", t->target_id);
	set_str(o, "status", t->status);
	set_time(o, "lastUpdatedAt", t->last_updated);
	json_object_set_new(o, "lifecycleEvents", lifecycle_events(t));
	set_str(o, "instanceType", t->label);
	return o;
}

json_t *api_tags_json(const struct store_tags *tags)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < tags->n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:s}", "Key", tags->v[i].key, "Value", tags->v[i].value));
	return arr;
}

json_t *api_instance_info(const struct store_instance *in)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	set_str(o, "instanceName", in->name);
	set_str(o, "iamSessionArn", in->iam_session_arn);
	set_str(o, "iamUserArn", in->iam_user_arn);
	set_str(o, "instanceArn", in->instance_arn);
	set_time(o, "registerTime", in->register_time);
	set_time(o, "deregisterTime", in->deregister_time);
	json_object_set_new(o, "tags", api_tags_json(&in->tags));
	return o;
}

json_t *api_hook_logs_json(const struct store_hook_logs *logs)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < logs->n; i++) {
		const struct store_hook_log *l = &logs->v[i];
		json_t *o = json_object();
		set_str(o, "InstanceId", l->target_id);
		set_str(o, "LifecycleEventName", l->event);
		json_object_set_new(o, "Sequence", json_integer(l->seq));
		set_time(o, "Time", l->time);
		set_str(o, "Data", l->data);
		json_array_append_new(arr, o);
	}
	return arr;
}

json_t *api_access_key_json(const struct store_access_key *k)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "AccessKeyId", k->id, "Name", k->name, "Policy", k->policy,
			      "CreateTime", api_time(k->create_time));

	if (o && k->instance[0])
		json_object_set_new(o, "InstanceName", json_string(k->instance));
	if (!o)
		return NULL;
	json_object_set_new(o, "Status", json_string(k->status[0] ? k->status : "Active"));
	if (k->applications[0])
		json_object_set_new(o, "Applications", json_loads(k->applications, 0, NULL));
	if (k->last_used)
		json_object_set_new(o, "LastUsed", api_time(k->last_used));
	if (k->rotate_time)
		json_object_set_new(o, "RotateTime", api_time(k->rotate_time));
	/* during a rotation: the previous secret is still accepted (until when, if set) */
	json_object_set_new(o, "PreviousSecretActive", json_boolean(k->rotating));
	if (k->rotating && k->old_secret_expires)
		json_object_set_new(o, "PreviousSecretExpires", api_time(k->old_secret_expires));
	return o;
}

int api_tags_parse(json_t *tags, struct store_tags *ret)
{
	struct store_tags out = {0};
	size_t i;
	json_t *t;

	out.v = calloc(json_array_size(tags) + 1, sizeof(*out.v));
	if (!out.v)
		return -ENOMEM;
	json_array_foreach(tags, i, t)
	{
		const char *k = api_str(t, "Key"), *v = api_str(t, "Value");
		if (!k)
			continue;
		out.v[out.n].key = strdup(k);
		out.v[out.n].value = v ? strdup(v) : NULL;
		if (!out.v[out.n].key || (v && !out.v[out.n].value)) {
			out.n++;
			store_tags_clear(&out);
			return -ENOMEM;
		}
		out.n++;
	}
	*ret = out;
	return 0;
}

int api_tags_store(struct rd_daemon *d, const char *arn, json_t *tags)
{
	struct store_tags st = {0};
	int r = api_tags_parse(tags, &st);

	if (r == 0)
		r = store_tags_set(d->store, arn, st.v, st.n);
	store_tags_clear(&st);
	return r;
}

/* ---- read a row, make its shape ---- */

/* r, or -ENOMEM when the shape could not be made. */
static int shaped(int r, json_t *shape, json_t **ret)
{
	if (r < 0)
		return r;
	if (!shape)
		return -ENOMEM;
	*ret = shape;
	return 0;
}

int api_app_get(struct rd_daemon *d, const char *name, json_t **ret)
{
	struct store_app *a = NULL;
	int r = store_app_get(d->store, name, &a);

	r = shaped(r, r < 0 ? NULL : api_app_info(a), ret);
	store_app_free(a);
	return r;
}

int api_config_get(struct rd_daemon *d, const char *name, json_t **ret)
{
	struct store_config *cf = NULL;
	int r = store_config_get(d->store, name, &cf);

	r = shaped(r, r < 0 ? NULL : api_config_info(cf), ret);
	store_config_free(cf);
	return r;
}

int api_group_get(struct rd_daemon *d, const char *app, const char *name, json_t **ret)
{
	struct store_group *g = NULL;
	int r = store_group_get(d->store, app, name, &g);

	r = shaped(r, r < 0 ? NULL : api_group_info(g), ret);
	store_group_free(g);
	return r;
}

int api_revision_get(struct rd_daemon *d, const char *app, json_t *revision, json_t **ret)
{
	struct store_revision *rv = NULL;
	int r = store_revision_get(d->store, app, revision, &rv);

	r = shaped(r, r < 0 ? NULL : api_revision_info(rv), ret);
	store_revision_free(rv);
	return r;
}

int api_deployment_get(struct rd_daemon *d, const char *id, json_t **ret)
{
	struct store_deployment *dp = NULL;
	int r = store_deployment_get(d->store, id, &dp);

	r = shaped(r, r < 0 ? NULL : api_deployment_info(dp), ret);
	store_deployment_free(dp);
	return r;
}

int api_target_get(struct rd_daemon *d, const char *deployment_id, const char *target_id, json_t **ret)
{
	struct store_target *t = NULL;
	int r = store_target_get(d->store, deployment_id, target_id, &t);

	r = shaped(r, r < 0 ? NULL : api_target_info(t), ret);
	store_target_free(t);
	return r;
}

int api_instance_summary_get(struct rd_daemon *d, const char *deployment_id, const char *instance_id, json_t **ret)
{
	struct store_target *t = NULL;
	int r = store_target_get(d->store, deployment_id, instance_id, &t);

	r = shaped(r, r < 0 ? NULL : api_instance_summary(t), ret);
	store_target_free(t);
	return r;
}

int api_instance_get(struct rd_daemon *d, const char *name, json_t **ret)
{
	struct store_instance *in = NULL;
	int r = store_instance_get(d->store, name, &in);

	r = shaped(r, r < 0 ? NULL : api_instance_info(in), ret);
	store_instance_free(in);
	return r;
}
