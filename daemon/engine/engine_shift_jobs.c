/* The plugin work of Lambda and ECS deployments, on workers (see
 * engine_shift.h): the start (AppSpec, target, pre-checks) and one step. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <strings.h>

#include <openssl/sha.h>

#include "appspec_shift.h"
#include "bundles/bundles.h"
#include "core/conf.h"
#include "core/daemon.h"
#include "core/metrics.h"
#include "core/plugins.h"
#include "engine/engine_context.h"
#include "engine/engine_jobs.h"
#include "engine/engine_shift.h"
#include "health/alarm_check.h"
#include "jsonutil.h"
#include "util.h"

static struct rollout_deployment job_dep(const struct engine *e, const struct eng_job *j, const char *appspec)
{
	return (struct rollout_deployment)
	    ROLLOUT_DEPLOYMENT_INIT(.deployment_id = j->dep, .application_name = j->app,
				    .deployment_group_name = j->group, .compute_platform = j->platform,
				    .region = e->d->cfg ? e->d->cfg->region : NULL,
				    .account_id = e->d->cfg ? e->d->cfg->account_id : NULL, .appspec_json = appspec);
}

static bool job_stopping(const struct rollout_shift_call *c)
{
	const struct eng_shiftctl *ctl = c->engine_data;

	return ctl && __atomic_load_n(&ctl->stop, __ATOMIC_SEQ_CST);
}

static void set_result(struct eng_input *in, json_t *result)
{
	json_decref(in->result);
	in->result = result ? result : json_object();
}

/* ---------------------------------------------------------------- the AppSpec */

static int read_cached(struct rd_daemon *d, const struct cached_bundle *cb, char **ret, struct rd_error *err)
{
	char path[4096], *buf = NULL;
	ssize_t n = 0, k;
	int fd;

	if (!bundles_cache(d) || bcache_path(bundles_cache(d), cb->sha256, path, sizeof(path)) < 0)
		return rd_error_set(err, -ENOENT, "REVISION_MISSING", "the AppSpec file %s left the bundle cache",
				    cb->sha256);
	if (cb->size > APPSPEC_SHIFT_MAX_BYTES)
		return rd_error_set(err, -EFBIG, "INVALID_REVISION", "the AppSpec file is %llu bytes; at most %d",
				    (unsigned long long)cb->size, APPSPEC_SHIFT_MAX_BYTES);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return rd_error_set(err, -errno, "REVISION_MISSING", "cannot open the cached AppSpec %s: %s", path,
				    strerror(errno));
	buf = malloc(cb->size + 1);
	while (buf && (k = read(fd, buf + n, cb->size - (size_t)n)) > 0)
		n += k;
	close(fd);
	if (!buf)
		return -ENOMEM;
	buf[n] = '\0';
	*ret = buf;
	return 0;
}

/* The AppSpec text of a revision: inline (String, AppSpecContent with its
 * sha256 checked) or an S3 YAML/JSON object through the source plugins. */
static int appspec_text(struct engine *e, const struct eng_job *j, char **ret, struct rd_error *err)
{
	json_t *rev = json_loads(j->revision_json ? j->revision_json : "", 0, NULL);
	const char *type = rd_json_str(rev, "revisionType"), *content = NULL, *sha = NULL;
	struct cached_bundle cb;
	int r;

	if (!type) {
		json_decref(rev);
		return rd_error_set(err, -EINVAL, "INVALID_REVISION", "the deployment has no revision");
	}
	if (!strcmp(type, "String")) {
		content = rd_json_str(json_object_get(rev, "string"), "content");
	} else if (!strcmp(type, "AppSpecContent")) {
		content = rd_json_str(json_object_get(rev, "appSpecContent"), "content");
		sha = rd_json_str(json_object_get(rev, "appSpecContent"), "sha256");
	} else {
		json_decref(rev);
		r = bundles_ensure_platform(e->d, j->revision_json, j->platform, &cb, err);
		if (r < 0)
			return r;
		if (strcmp(cb.bundle_type, "YAML") && strcmp(cb.bundle_type, "JSON"))
			return rd_error_set(err, -EINVAL, "INVALID_REVISION",
					    "a %s deployment needs an AppSpec file (bundleType YAML or JSON), not a %s "
					    "bundle",
					    j->platform, cb.bundle_type);
		return read_cached(e->d, &cb, ret, err);
	}
	if (!content) {
		json_decref(rev);
		return rd_error_set(err, -EINVAL, "INVALID_REVISION", "the %s revision has no content", type);
	}
	if (sha && *sha) {
		unsigned char md[SHA256_DIGEST_LENGTH];
		char hex[2 * SHA256_DIGEST_LENGTH + 1];
		SHA256((const unsigned char *)content, strlen(content), md);
		rd_hex(md, sizeof(md), hex);
		if (strcasecmp(hex, sha) != 0) {
			r = rd_error_set(err, -EINVAL, "INVALID_REVISION",
					 "appSpecContent.sha256 is %.64s but the content's sha256 is %s; send the "
					 "sha256 of exactly the content given",
					 sha, hex);
			json_decref(rev);
			return r;
		}
	}
	*ret = strdup(content);
	json_decref(rev);
	return *ret ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- JOB_SHIFT_START */

void eng_job_shift_start(struct engine *e, struct eng_job *j, struct eng_input *in)
{
	const struct plugin *p = e->d->plugins ? plugins_shift_owner(e->d->plugins, j->platform) : NULL;
	struct rollout_error perr = {.size = sizeof(perr)};
	char *text = NULL, *appspec_txt = NULL, *targets = NULL, *state = NULL, aerr[1024];
	json_t *appspec = NULL, *arr = NULL, *st = NULL;
	const json_t *t;
	int r;

	set_result(in, json_pack("{s:b}", "start", 1));
	if ((r = appspec_text(e, j, &text, &in->err)) < 0)
		goto out;
	if ((r = appspec_shift_parse(text, strlen(text), "the AppSpec", j->platform, &appspec, aerr, sizeof(aerr))) <
	    0) {
		rd_error_set(&in->err, r, "INVALID_REVISION", "%s", aerr);
		goto out;
	}
	if (!p) {
		rd_error_set(&in->err, -ENOENT, "INTERNAL_ERROR",
			     "no plugin deploys to compute platform %s; enable the '%s' plugin under 'plugins:' in the "
			     "rolloutd config",
			     j->platform, strcmp(j->platform, "ECS") == 0 ? "ecs" : "lambda");
		goto out;
	}
	appspec_txt = json_dumps(appspec, JSON_COMPACT);
	struct rollout_deployment dep = job_dep(e, j, appspec_txt);
	int64_t t0 = rd_mono_ms();
	r = p->desc->ops.platform->resolve(p->state, &dep, j->group_json ? j->group_json : "{}", &targets, &perr);
	metric_plugin_op(p->name, "resolve", t0, r);
	arr = r == 0 && targets ? json_loads(targets, 0, NULL) : NULL;
	if (r < 0) {
		rd_error_from_plugin(&in->err, r, &perr, "INTERNAL_ERROR");
		goto out;
	}
	t = json_array_get(arr, 0);
	if (json_array_size(arr) != 1 || !rd_json_str(t, "targetId")) {
		rd_error_set(&in->err, -EINVAL, "INTERNAL_ERROR",
			     "plugin %s named %zu targets for this deployment; a %s deployment has exactly one",
			     p->name, json_array_size(arr), j->platform);
		goto out;
	}
	struct rollout_shift_call call =
	    ROLLOUT_SHIFT_CALL_INIT(.dep = &dep, .group_json = j->group_json ? j->group_json : "{}", .state_json = "{}",
				    .timeout_ms = j->timeout_ms, .stopping = job_stopping, .engine_data = j->ctl);
	t0 = rd_mono_ms();
	r = p->desc->ops.platform->shift_prepare(p->state, &call, &state, &perr);
	metric_plugin_op(p->name, "shift_prepare", t0, r);
	if (r < 0) {
		rd_error_from_plugin(&in->err, r, &perr, "INTERNAL_ERROR");
		goto out;
	}
	st = state ? json_loads(state, 0, NULL) : json_object();
	if (!json_is_object(st)) {
		rd_error_set(&in->err, -EINVAL, "INTERNAL_ERROR",
			     "plugin %s prepared a state that is not a JSON object", p->name);
		goto out;
	}
	json_object_set_new(in->result, "plugin", json_string(p->name));
	json_object_set(in->result, "appspec", appspec);
	json_object_set(in->result, "target", (json_t *)t);
	json_object_set(in->result, "state", st);
	in->ok = true;
out:
	json_decref(appspec);
	json_decref(arr);
	json_decref(st);
	free(text);
	free(appspec_txt);
	free(targets);
	free(state);
}

/* ---------------------------------------------------------------- JOB_SHIFT_OP */

/* Whether the deployment's alarms stop it before the next weight step
 * (between steps). 1 with msg, 0 to go on. */
static int alarms_say_stop(struct engine *e, const struct eng_job *j, const struct rollout_deployment *dep,
			   bool *ret_rollback, char *msg, size_t msglen)
{
	json_t *group = json_loads(j->group_json ? j->group_json : "{}", 0, NULL);
	json_t *doc = json_loads(j->deployment_json ? j->deployment_json : "{}", 0, NULL);
	const json_t *ac = alarms_effective_config(group, doc), *arc, *ev;
	struct alarm_verdict v;
	size_t i;
	int r = 0;

	if (alarms_config_active(ac) && alarm_check_config(e->d->plugins, dep, ac, &v) == 1) {
		alarm_verdict_message(&v, msg, msglen);
		arc = json_object_get(doc, "autoRollbackConfiguration");
		if (!json_is_object(arc))
			arc = json_object_get(group, "autoRollbackConfiguration");
		*ret_rollback = false;
		if (json_is_true(json_object_get(arc, "enabled")))
			json_array_foreach(json_object_get(arc, "events"), i, ev)
			{
				*ret_rollback |= json_string_value(ev) &&
						 strcmp(json_string_value(ev), "DEPLOYMENT_STOP_ON_ALARM") == 0;
			}
		r = 1;
	}
	json_decref(group);
	json_decref(doc);
	return r;
}

void eng_job_shift_op(struct engine *e, struct eng_job *j, struct eng_input *in)
{
	const struct plugin *p = e->d->plugins ? plugins_find(e->d->plugins, j->plugin) : NULL;
	const struct rollout_platform_ops *o =
	    p && p->desc->kind == ROLLOUT_KIND_PLATFORM ? p->desc->ops.platform : NULL;
	struct rollout_error perr = {.size = sizeof(perr)};
	struct rollout_deployment dep = job_dep(e, j, j->appspec_json);
	struct rollout_shift_call call =
	    ROLLOUT_SHIFT_CALL_INIT(.dep = &dep, .group_json = j->group_json ? j->group_json : "{}",
				    .state_json = j->state_json ? j->state_json : "{}", .timeout_ms = j->timeout_ms,
				    .stopping = job_stopping, .engine_data = j->ctl, .percent = j->percent,
				    .hook_event = j->hook_event, .hook_function = j->hook_function,
				    .hook_execution_id = j->hook_execution_id);
	rollout_shift_op fn = NULL;
	char *state = NULL, msg[1024];
	bool rollback = false;
	json_t *st;
	int r;

	set_result(in, json_pack("{s:s?, s:s}", "op", eng_shift_op_name((enum eng_shift_op)j->op), "exec",
				 j->hook_execution_id));
	if (!o || o->size < offsetof(struct rollout_platform_ops, shift_describe) + sizeof(o->shift_describe) ||
	    !o->shift_prepare) {
		rd_error_set(&in->err, -ENOENT, "INTERNAL_ERROR",
			     "plugin %s, which runs this deployment, is not loaded; add it under 'plugins:' again and "
			     "restart rolloutd",
			     j->plugin);
		return;
	}
	switch ((enum eng_shift_op)j->op) {
	case SHIFT_OP_INSTALL:
		fn = o->shift_install;
		break;
	case SHIFT_OP_TEST_ROUTE:
		fn = o->shift_test_route;
		break;
	case SHIFT_OP_WEIGHT:
		fn = o->shift_weight;
		break;
	case SHIFT_OP_READY:
		fn = o->shift_wait_ready;
		break;
	case SHIFT_OP_COMMIT:
		fn = o->shift_commit;
		break;
	case SHIFT_OP_REMOVE:
		fn = o->shift_remove_original;
		break;
	case SHIFT_OP_ROUTE_BACK:
		fn = o->shift_route_back;
		break;
	case SHIFT_OP_HOOK:
		fn = o->shift_invoke_hook;
		break;
	}
	if (!fn) {
		in->ok = true; /* the plugin has nothing to do for this step */
		return;
	}
	if (j->op == SHIFT_OP_WEIGHT && j->check_alarms && alarms_say_stop(e, j, &dep, &rollback, msg, sizeof(msg))) {
		json_object_set_new(in->result, "alarm", json_true());
		json_object_set_new(in->result, "alarm_rollback", json_boolean(rollback));
		rd_error_set(&in->err, -ECANCELED, "ALARM_ACTIVE", "%s", msg);
		return;
	}
	int64_t t0 = rd_mono_ms();
	r = fn(p->state, &call, &state, &perr);
	char opname[32];
	snprintf(opname, sizeof(opname), "shift_%s", eng_shift_op_name((enum eng_shift_op)j->op));
	metric_plugin_op(p->name, opname, t0, r);
	st = state ? json_loads(state, 0, NULL) : NULL;
	free(state);
	if (json_is_object(st))
		json_object_set_new(in->result, "state", st);
	else
		json_decref(st);
	if (r == -EAGAIN && j->op == SHIFT_OP_READY) {
		json_object_set_new(in->result, "again", json_true());
		in->ok = true;
		return;
	}
	if (r < 0) {
		rd_error_from_plugin(&in->err, r, &perr,
				     j->op == SHIFT_OP_HOOK ? "HOOK_EXECUTION_FAILURE" : "INTERNAL_ERROR");
		return;
	}
	in->ok = true;
}
