/* example-shift: the smallest platform plugin that shifts traffic itself
 * (plugin ABI 1.1), for the "Lambda" compute platform.
 *
 * Instead of a Lambda alias it routes a "route file": DIR/NAME.route holds
 * {"version": "1", "weights": {"2": 0.1}}, the same shape as an alias's
 * FunctionVersion and AdditionalVersionWeights. Instead of invoking a Lambda
 * function it drops each hook invocation into DIR/hooks/ as
 * <execution id>.json; whatever runs the hooks (a script, a test) reads it
 * and answers with PutLifecycleEventHookExecutionStatus.
 *
 *     plugins:
 *       example-shift:
 *         dir: /var/lib/example-shift
 *
 * The AppSpec names the route:
 *
 *     version: 0.0
 *     Resources:
 *       - web:
 *           Type: Example::Route
 *           Properties: {Name: web, CurrentVersion: "1", TargetVersion: "2"}
 *     Hooks:
 *       - BeforeAllowTraffic: check-web
 *
 * What every such plugin does, shown here: prepare checks and changes
 * nothing; every op that changes the world is idempotent (the engine calls
 * it again after a crash) and returns the state it leaves; describe only
 * formats the state. A real plugin (plugins/lambda) calls its cloud API
 * through host->http_request instead of writing files.
 *
 * Build: cc -shared -fPIC $(pkg-config --cflags rollout-plugin) -o example-shift.so example-shift.c -ljansson */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <jansson.h>
#include <rollout/plugin.h>

struct state {
	const struct rollout_host *host;
	struct rollout_handle *h;
	const char *dir; /* borrowed from the config until destroy */
};

static const struct rollout_option options[] = {
    {.name = "dir",
     .type = ROLLOUT_OPT_PATH,
     .required = true,
     .offset = offsetof(struct state, dir),
     .help = "where the route files and the hooks/ spool live"},
    ROLLOUT_OPTION_END,
};

/* What the deployment moves: route NAME from version current to target. */
struct route {
	char name[128];
	char current[32];
	char target[32];
	unsigned percent; /* share of the target version, as last set */
};

static int init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err, size_t errlen)
{
	struct state *s = calloc(1, sizeof(*s));
	char spool[4096];
	int r;

	if (!s)
		return -ENOMEM;
	s->host = host;
	s->h = h;
	r = rollout_config_parse(host, h, options, s, err, errlen);
	if (r < 0) {
		free(s);
		return r;
	}
	snprintf(spool, sizeof(spool), "%s/hooks", s->dir);
	if (mkdir(spool, 0750) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "plugins.example-shift.dir: cannot create %s: %s", spool, strerror(errno));
		free(s);
		return r;
	}
	*ret_state = s;
	return 0;
}

static void destroy(void *state)
{
	free(state);
}

/* AWS's examples spell AppSpec keys in either case, so read them so. */
static json_t *get(const json_t *o, const char *key)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v)
	{
		if (!strcasecmp(k, key))
			return v;
	}
	return NULL;
}

static int copy(char *dst, size_t n, const json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || !*s || strlen(s) >= n || strchr(s, '/'))
		return -EINVAL;
	strcpy(dst, s);
	return 0;
}

/* The route out of the AppSpec the daemon validated. */
static int route_from_appspec(const struct rollout_deployment *dep, struct route *ret, struct rollout_error *err)
{
	const char *text = ROLLOUT_HAS(dep, struct rollout_deployment, appspec_json) ? dep->appspec_json : NULL;
	json_t *doc = json_loads(text ? text : "", 0, NULL);
	json_t *res = json_array_get(get(doc, "Resources"), 0);
	json_t *body = json_object_iter_value(json_object_iter(res));
	json_t *props = get(body, "Properties");
	struct route rt = {0};
	int r = 0;

	if (!json_is_string(get(body, "Type")) || strcmp(json_string_value(get(body, "Type")), "Example::Route") ||
	    copy(rt.name, sizeof(rt.name), get(props, "Name")) < 0 ||
	    copy(rt.current, sizeof(rt.current), get(props, "CurrentVersion")) < 0 ||
	    copy(rt.target, sizeof(rt.target), get(props, "TargetVersion")) < 0)
		r = rollout_error_set(err, -EINVAL, "INVALID_REVISION",
				      "the AppSpec needs one resource {Type: Example::Route, Properties: {Name, "
				      "CurrentVersion, TargetVersion}}");
	else if (!strcmp(rt.current, rt.target))
		r = rollout_error_set(err, -EINVAL, "INVALID_LAMBDA_CONFIGURATION",
				      "CurrentVersion and TargetVersion are both %s; nothing to shift", rt.current);
	json_decref(doc);
	if (r == 0)
		*ret = rt;
	return r;
}

static int route_from_state(const char *state_json, struct route *ret, struct rollout_error *err)
{
	json_t *o = json_loads(state_json ? state_json : "", 0, NULL);
	struct route rt = {0};
	int r = 0;

	if (copy(rt.name, sizeof(rt.name), json_object_get(o, "name")) < 0 ||
	    copy(rt.current, sizeof(rt.current), json_object_get(o, "current")) < 0 ||
	    copy(rt.target, sizeof(rt.target), json_object_get(o, "target")) < 0)
		r = rollout_error_set(err, -EINVAL, "INTERNAL_ERROR", "damaged state: %.200s", state_json);
	rt.percent = (unsigned)json_integer_value(json_object_get(o, "percent"));
	json_decref(o);
	if (r == 0)
		*ret = rt;
	return r;
}

static char *state_text(const struct route *rt)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:i}", "name", rt->name, "current", rt->current, "target", rt->target,
			      "percent", (int)rt->percent);
	char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(o);
	return t;
}

/* Writes path atomically (a reader never sees half a file). */
static int write_json(const char *path, json_t *o, struct rollout_error *err)
{
	char tmp[4200];
	int r;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	r = json_dump_file(o, tmp, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6));
	if (r == 0 && rename(tmp, path) < 0)
		r = -1;
	if (r < 0)
		return rollout_error_set(err, -EIO, "INTERNAL_ERROR", "cannot write %s: %s", path, strerror(errno));
	return 0;
}

static void route_path(const struct state *s, const struct route *rt, char *out, size_t n)
{
	snprintf(out, n, "%s/%s.route", s->dir, rt->name);
}

static int resolve(void *state, const struct rollout_deployment *dep, const char *group_json, char **ret_targets_json,
		   struct rollout_error *err)
{
	struct route rt;
	json_t *o;
	int r;

	(void)state;
	(void)group_json;
	if (!ROLLOUT_HAS(dep, struct rollout_deployment, appspec_json) || !dep->appspec_json) {
		*ret_targets_json = strdup("[]"); /* no AppSpec, no route yet */
		return *ret_targets_json ? 0 : -ENOMEM;
	}
	if ((r = route_from_appspec(dep, &rt, err)) < 0)
		return r;
	o = json_pack("[{s:s, s:s}]", "targetId", rt.name, "instanceType", "Lambda");
	*ret_targets_json = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return *ret_targets_json ? 0 : -ENOMEM;
}

/* The route file must exist and send everything to CurrentVersion. */
static int prepare(void *state, const struct rollout_shift_call *call, char **ret_state_json, struct rollout_error *err)
{
	struct state *s = state;
	struct route rt;
	char path[4096];
	json_t *f;
	const char *v;
	int r;

	if ((r = route_from_appspec(call->dep, &rt, err)) < 0)
		return r;
	route_path(s, &rt, path, sizeof(path));
	if (!(f = json_load_file(path, 0, NULL)))
		return rollout_error_set(err, -ENOENT, "INVALID_LAMBDA_CONFIGURATION",
					 "route %s does not exist; create %s with {\"version\": \"%s\"}", rt.name, path,
					 rt.current);
	v = json_string_value(json_object_get(f, "version"));
	if (!v || strcmp(v, rt.current) || json_object_size(json_object_get(f, "weights")) > 0)
		r = rollout_error_set(err, -EINVAL, "INVALID_LAMBDA_CONFIGURATION",
				      "route %s must send all traffic to version %s (the AppSpec's CurrentVersion)",
				      rt.name, rt.current);
	json_decref(f);
	if (r == 0 && !(*ret_state_json = state_text(&rt)))
		r = -ENOMEM;
	return r;
}

/* Writes the route for percent % on the target; 0 and 100 leave no weights. */
static int set_route(struct state *s, const struct rollout_shift_call *call, unsigned percent, char **ret_state_json,
		     struct rollout_error *err)
{
	struct route rt;
	char path[4096];
	json_t *o;
	int r;

	if ((r = route_from_state(call->state_json, &rt, err)) < 0)
		return r;
	if (call->stopping(call))
		return rollout_error_set(err, -ECANCELED, "MANUAL_STOP", "stopped before the route changed");
	o = json_pack("{s:s, s:{}}", "version", percent >= 100 ? rt.target : rt.current, "weights");
	if (percent > 0 && percent < 100)
		json_object_set_new(json_object_get(o, "weights"), rt.target, json_real(percent / 100.0));
	route_path(s, &rt, path, sizeof(path));
	r = write_json(path, o, err);
	json_decref(o);
	if (r < 0)
		return r;
	rt.percent = percent;
	s->host->log(s->h, LOG_INFO, "%s: route %s sends %u%% to version %s", call->dep->deployment_id, rt.name,
		     percent, rt.target);
	return (*ret_state_json = state_text(&rt)) ? 0 : -ENOMEM;
}

static int weight(void *state, const struct rollout_shift_call *call, char **ret_state_json, struct rollout_error *err)
{
	return set_route(state, call, call->percent, ret_state_json, err);
}

static int commit(void *state, const struct rollout_shift_call *call, char **ret_state_json, struct rollout_error *err)
{
	return set_route(state, call, 100, ret_state_json, err);
}

static int route_back(void *state, const struct rollout_shift_call *call, char **ret_state_json,
		      struct rollout_error *err)
{
	return set_route(state, call, 0, ret_state_json, err);
}

/* Drops the invocation into the spool; the same execution id overwrites
 * the same file, so a repeated call after a restart is harmless. */
static int invoke_hook(void *state, const struct rollout_shift_call *call, char **ret_state_json,
		       struct rollout_error *err)
{
	struct state *s = state;
	char path[4096];
	json_t *o;
	int r;

	(void)ret_state_json;
	if (strchr(call->hook_execution_id, '/'))
		return rollout_error_set(err, -EINVAL, "INTERNAL_ERROR", "bad execution id");
	snprintf(path, sizeof(path), "%s/hooks/%s.json", s->dir, call->hook_execution_id);
	o = json_pack("{s:s, s:s, s:s, s:s}", "DeploymentId", call->dep->deployment_id, "LifecycleEventHookExecutionId",
		      call->hook_execution_id, "Function", call->hook_function, "Event", call->hook_event);
	r = write_json(path, o, err);
	json_decref(o);
	return r;
}

static int describe(void *state, const struct rollout_shift_call *call, char **ret_target_json,
		    struct rollout_error *err)
{
	struct route rt;
	json_t *o;
	int r;

	(void)state;
	if ((r = route_from_state(call->state_json, &rt, err)) < 0)
		return r;
	o = json_pack("{s:s+, s:{s:s, s:s, s:s, s:s, s:f}}", "targetArn", "example:route:", rt.name,
		      "lambdaFunctionInfo", "functionName", rt.name, "functionAlias", "route", "currentVersion",
		      rt.current, "targetVersion", rt.target, "targetVersionWeight", call->percent / 100.0);
	*ret_target_json = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(o);
	return *ret_target_json ? 0 : -ENOMEM;
}

static const struct rollout_platform_ops ops =
    ROLLOUT_PLATFORM_OPS_INIT(.compute_platforms = ROLLOUT_COMPUTE_LAMBDA, .resolve = resolve, .shift_prepare = prepare,
			      .shift_weight = weight, .shift_commit = commit, .shift_route_back = route_back,
			      .shift_invoke_hook = invoke_hook, .shift_describe = describe);

static const struct rollout_plugin plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_PLATFORM, .name = "example-shift", .version = "1.0.0",
			.description = "shifts a route file between two versions; hooks go to a spool directory",
			.init = init, .destroy = destroy, .ops.platform = &ops);

ROLLOUT_PLUGIN_EXPORT(plugin)
