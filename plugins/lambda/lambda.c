/* lambda: the platform plugin for AWS Lambda deployments (computePlatform
 * "Lambda"). It owns the deployment's one target, the function's alias,
 * and shifts its traffic from CurrentVersion to TargetVersion with
 * UpdateAlias (RoutingConfig.AdditionalVersionWeights), as CodeDeploy does:
 *
 *   weight p (0 < p < 100)  FunctionVersion = Current, {Target: p / 100}
 *   weight 100, commit      FunctionVersion = Target, no routing config
 *   weight 0, route back    FunctionVersion = Current, no routing config
 *
 * Hooks are invoked with {"DeploymentId", "LifecycleEventHookExecutionId"};
 * the function reports with PutLifecycleEventHookExecutionStatus.
 *
 *     plugins:
 *       lambda:
 *         endpoint: http://127.0.0.1:5000   default https://lambda.<region>.amazonaws.com
 *         region: eu-west-1                 default the daemon's
 *         access_key_id / secret_access_key / session_token / profile / credentials_file
 *         timeout: 30s                      one Lambda API call
 *         max_attempts: 3                   per call, on throttling, 5xx and transport errors
 *         hook_invocation: RequestResponse  or Event
 *
 * Every call goes through the host's HTTP client, which signs it (SigV4,
 * service "lambda") and resolves the credentials. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "appspecres.h"
#include "awsjson.h"
#include "uri.h"

#define LAM_API "/2015-03-31/functions/"
#define LAM_NAME_MAX 256 /* a name, a partial ARN or a full ARN (140) with a qualifier */

struct lam {
	const struct rollout_host *host;
	struct rollout_handle *h;
	int64_t timeout_ms;
	int64_t max_attempts;
	const char *hook_invocation;
	const char *region; /* NULL: the daemon's */
	struct awsj q;
	struct awsj_service svc; /* endpoint NULL: AWS's */
	char endpoint_buf[1024];
};

static const struct rollout_option lam_options[] = {
    ROLLOUT_AWS_OPTIONS,
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct lam, timeout_ms),
     .min = 1000,
     .max = 300000,
     .def = "30s",
     .help = "how long one Lambda API call may take"},
    {.name = "max_attempts",
     .type = ROLLOUT_OPT_INT,
     .offset = offsetof(struct lam, max_attempts),
     .min = 1,
     .max = 10,
     .def = "3",
     .help = "attempts per Lambda API call on throttling, 5xx and transport errors"},
    {.name = "hook_invocation",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct lam, hook_invocation),
     .def = "RequestResponse",
     .help = "RequestResponse (a failing hook fails its event at once) or Event"},
    ROLLOUT_OPTION_END,
};

/* The one resource of a Lambda AppSpec. */
struct lam_res {
	char name[LAM_NAME_MAX];
	char alias[129];
	char current[16];
	char target[16];
};

/* The plugin state the engine stores between steps. */
struct lam_state {
	struct lam_res res;
	char alias_arn[512];
	unsigned weight; /* percent on the target version, as last set */
};

/* ------------------------------------------------------------------------ */
/* JSON and AppSpec helpers                                                   */
/* ------------------------------------------------------------------------ */

static int copy_str(char *dst, size_t n, const char *s)
{
	if (!s || strlen(s) >= n)
		return -ENAMETOOLONG;
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

/* A Lambda version "must be a valid positive integer". */
static bool lam_version_ok(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n > 10 || v[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	return true;
}

/* One property of the resource as a non-empty string; numbers are
 * accepted too (JSON AppSpecs write versions as 1 as often as "1"). */
static int prop_str(const json_t *props, const char *logical, const char *key, const char *example, char *out,
		    size_t outlen, struct rollout_error *err)
{
	json_t *v = appspec_get(props, key);
	char buf[64];
	const char *s = NULL;

	if (json_is_string(v))
		s = json_string_value(v);
	else if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
		s = buf;
	}
	if (!v || json_is_null(v) || (s && !*s))
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION",
					 "AppSpec Resources %s.Properties.%s is missing; name it (e.g. %s: %s)",
					 logical, key, key, example);
	if (!s)
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION",
					 "AppSpec Resources %s.Properties.%s must be a string, e.g. %s: %s", logical,
					 key, key, example);
	if (copy_str(out, outlen, s) < 0)
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION",
					 "AppSpec Resources %s.Properties.%s is too long (at most %zu characters)",
					 logical, key, outlen - 1);
	return 0;
}

/* Reads the one AWS::Lambda::Function of an AppSpec (JSON, as the daemon
 * passes it). Exposed for the unit test. */
int lam_parse_appspec(const char *appspec_json, struct lam_res *ret, struct rollout_error *err);
int lam_parse_appspec(const char *appspec_json, struct lam_res *ret, struct rollout_error *err)
{
	static const struct appspec_kind kind = {.platform = "a Lambda",
						 .type = "AWS::Lambda::Function",
						 .what = "the function's",
						 .example = "myLambdaFunction",
						 .properties = "Name, Alias, CurrentVersion and TargetVersion"};
	json_t *doc = NULL, *props = NULL;
	struct lam_res r = {0};
	const char *logical = NULL;
	int rc;

	if ((rc = appspec_resource(appspec_json, &kind, &doc, &logical, &props, err)) < 0)
		goto out;
	if ((rc = prop_str(props, logical, "Name", "my-function", r.name, sizeof(r.name), err)) < 0 ||
	    (rc = prop_str(props, logical, "Alias", "live", r.alias, sizeof(r.alias), err)) < 0 ||
	    (rc = prop_str(props, logical, "CurrentVersion", "\"1\"", r.current, sizeof(r.current), err)) < 0 ||
	    (rc = prop_str(props, logical, "TargetVersion", "\"2\"", r.target, sizeof(r.target), err)) < 0)
		goto out;
	if (!lam_version_ok(r.current) || !lam_version_ok(r.target)) {
		rc = rollout_error_set(err, -EINVAL, "INVALID_REVISION",
				       "AppSpec Resources %s: CurrentVersion (%s) and TargetVersion (%s) must be "
				       "published version numbers (1, 2, ...), not $LATEST or an alias",
				       logical, r.current, r.target);
		goto out;
	}
	if (strcmp(r.current, r.target) == 0) {
		rc =
		    rollout_error_set(err, -EINVAL, "INVALID_LAMBDA_CONFIGURATION",
				      "AppSpec Resources %s: CurrentVersion and TargetVersion are both %s; there is no "
				      "traffic to shift (publish a new version and make it the TargetVersion)",
				      logical, r.current);
		goto out;
	}
	*ret = r;
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

/* The function's name out of a name, a partial ARN (123:function:NAME) or
 * a full ARN, without a qualifier. */
static void lam_short_name(const char *fn, char *out, size_t outlen)
{
	const char *p = strstr(fn, "function:");
	size_t n;

	p = p ? p + strlen("function:") : fn;
	n = strcspn(p, ":");
	snprintf(out, outlen, "%.*s", (int)n, p);
}

static int state_load(const char *state_json, struct lam_state *ret, struct rollout_error *err)
{
	json_t *o = json_loads(state_json ? state_json : "", 0, NULL);
	struct lam_state s = {0};
	const char *name = json_string_value(json_object_get(o, "function"));
	const char *alias = json_string_value(json_object_get(o, "alias"));
	const char *cur = json_string_value(json_object_get(o, "currentVersion"));
	const char *tgt = json_string_value(json_object_get(o, "targetVersion"));
	const char *arn = json_string_value(json_object_get(o, "aliasArn"));
	json_int_t w = json_integer_value(json_object_get(o, "weight"));
	int r = 0;

	if (copy_str(s.res.name, sizeof(s.res.name), name) < 0 ||
	    copy_str(s.res.alias, sizeof(s.res.alias), alias) < 0 ||
	    copy_str(s.res.current, sizeof(s.res.current), cur) < 0 ||
	    copy_str(s.res.target, sizeof(s.res.target), tgt) < 0 || w < 0 || w > 100)
		r = rollout_error_set(err, -EINVAL, "INTERNAL_ERROR",
				      "the stored state of this Lambda deployment is damaged: %.200s",
				      state_json ? state_json : "(none)");
	else {
		snprintf(s.alias_arn, sizeof(s.alias_arn), "%s", arn ? arn : "");
		s.weight = (unsigned)w;
		*ret = s;
	}
	json_decref(o);
	return r;
}

static char *state_dump(const struct lam_state *s)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "function", s->res.name, "alias", s->res.alias,
			      "currentVersion", s->res.current, "targetVersion", s->res.target, "aliasArn",
			      s->alias_arn, "weight", (int)s->weight);
	char *txt = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	return txt;
}

/* ------------------------------------------------------------------------ */
/* Lambda API calls                                                           */
/* ------------------------------------------------------------------------ */

/* One Lambda API call below /2015-03-31/functions/; path already encoded.
 * 0 when an answer arrived (look at ans->status). */
static int lam_request(struct lam *s, const struct rollout_shift_call *call, const char *method, const char *path,
		       const char *body, struct awsj_answer *ans, struct rollout_error *err)
{
	char full[sizeof(LAM_API) + 4096];

	snprintf(full, sizeof(full), "%s%s", LAM_API, path);
	return awsj_rest(&s->q, &s->svc, call, method, full, body, NULL, ans, err);
}

/* A failed answer as a deployment error: code and a message naming what. */
static int lam_fail(const struct awsj_answer *a, const char *what, struct rollout_error *err)
{
	if (a->status == 404)
		return rollout_error_set(err, -ENOENT, "INVALID_LAMBDA_CONFIGURATION", "%s failed: HTTP 404 %s%s%s",
					 what, a->type, a->type[0] ? ": " : "", a->text);
	return awsj_fail(a, what, "INTERNAL_ERROR",
			 "(the daemon's credentials need lambda:GetFunctionConfiguration, lambda:GetAlias, "
			 "lambda:UpdateAlias and lambda:InvokeFunction)",
			 err);
}

static int enc(const char *in, char *out, size_t outlen)
{
	return uri_encode(in, false, out, outlen);
}

/* GetFunctionConfiguration; qualifier NULL for the unpublished function. */
static int lam_get_config(struct lam *s, const struct rollout_shift_call *call, const char *fn, const char *qualifier,
			  struct awsj_answer *ans, struct rollout_error *err)
{
	char efn[3 * LAM_NAME_MAX], eq[64], path[4096];

	if (enc(fn, efn, sizeof(efn)) < 0 || (qualifier && enc(qualifier, eq, sizeof(eq)) < 0))
		return rollout_error_set(err, -ENAMETOOLONG, "INVALID_REVISION", "function name %.100s is too long",
					 fn);
	snprintf(path, sizeof(path), "%s/configuration%s%s", efn, qualifier ? "?Qualifier=" : "", qualifier ? eq : "");
	return lam_request(s, call, "GET", path, NULL, ans, err);
}

static int alias_path(const struct lam_res *res, char *path, size_t n, struct rollout_error *err)
{
	char efn[3 * LAM_NAME_MAX], ea[3 * 129];

	if (enc(res->name, efn, sizeof(efn)) < 0 || enc(res->alias, ea, sizeof(ea)) < 0)
		return rollout_error_set(err, -ENAMETOOLONG, "INVALID_REVISION", "function or alias name too long");
	snprintf(path, n, "%s/aliases/%s", efn, ea);
	return 0;
}

/* The weights of an alias: its primary version, and the one additional
 * version with its weight (NULL when the alias is not split). */
struct lam_alias {
	const char *version;
	const char *extra_version;
	double extra_weight;
	size_t n_extra;
	const char *arn;
};

static void alias_read(const json_t *body, struct lam_alias *ret)
{
	json_t *w = json_object_get(json_object_get(body, "RoutingConfig"), "AdditionalVersionWeights");
	const char *k;
	json_t *v;

	memset(ret, 0, sizeof(*ret));
	ret->version = json_string_value(json_object_get(body, "FunctionVersion"));
	ret->arn = json_string_value(json_object_get(body, "AliasArn"));
	json_object_foreach(w, k, v)
	{
		ret->n_extra++;
		ret->extra_version = k;
		ret->extra_weight = json_number_value(v);
	}
}

static int lam_get_alias(struct lam *s, const struct rollout_shift_call *call, const struct lam_res *res,
			 struct awsj_answer *ans, struct rollout_error *err)
{
	char path[4096];
	int r;

	if ((r = alias_path(res, path, sizeof(path), err)) < 0)
		return r;
	return lam_request(s, call, "GET", path, NULL, ans, err);
}

/* UpdateAlias to percent % on the target version (see the file's head). */
static int lam_set_weight(struct lam *s, const struct rollout_shift_call *call, struct lam_state *st, unsigned percent,
			  struct rollout_error *err)
{
	struct awsj_answer a = {0};
	struct lam_alias al;
	json_t *body, *weights = json_object();
	char path[4096], what[512], *txt = NULL;
	int r;

	/* Refuse to overwrite an alias someone else moved meanwhile: it would
	 * silently take their version out of service. */
	if ((r = lam_get_alias(s, call, &st->res, &a, err)) < 0)
		goto out;
	if (a.status >= 300) {
		snprintf(what, sizeof(what), "GetAlias %s of function %s", st->res.alias, st->res.name);
		r = lam_fail(&a, what, err);
		goto out;
	}
	alias_read(a.json, &al);
	if (!al.version || (strcmp(al.version, st->res.current) && strcmp(al.version, st->res.target)) ||
	    al.n_extra > 1 ||
	    (al.n_extra == 1 && strcmp(al.extra_version, st->res.target) &&
	     strcmp(al.extra_version, st->res.current))) {
		r = rollout_error_set(
		    err, -ESTALE, "INVALID_LAMBDA_CONFIGURATION",
		    "alias %s of function %s was changed outside this deployment (it points at version "
		    "%s%s%s); expected versions %s and %s only",
		    st->res.alias, st->res.name, al.version ? al.version : "(none)",
		    al.n_extra ? " and routes to " : "", al.n_extra ? al.extra_version : "", st->res.current,
		    st->res.target);
		goto out;
	}
	{
		/* already there (a repeated step after a restart, or the commit
		 * after the last weight): no second UpdateAlias */
		const char *want = percent >= 100 ? st->res.target : st->res.current;
		bool split = percent > 0 && percent < 100;
		if (!strcmp(al.version, want) &&
		    (split ? al.n_extra == 1 && !strcmp(al.extra_version, st->res.target) &&
				 (unsigned)(al.extra_weight * 100 + 0.5) == percent
			   : al.n_extra == 0)) {
			st->weight = percent > 100 ? 100 : percent;
			r = 0;
			goto out;
		}
	}
	if (percent > 0 && percent < 100)
		json_object_set_new(weights, st->res.target, json_real(percent / 100.0));
	body = json_pack("{s:s, s:{s:o}}", "FunctionVersion", percent >= 100 ? st->res.target : st->res.current,
			 "RoutingConfig", "AdditionalVersionWeights", weights);
	weights = NULL;
	txt = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(body);
	if (!txt) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = alias_path(&st->res, path, sizeof(path), err)) < 0)
		goto out;
	if ((r = lam_request(s, call, "PUT", path, txt, &a, err)) < 0)
		goto out;
	if (a.status >= 300) {
		snprintf(what, sizeof(what), "UpdateAlias %s of function %s to %u%% on version %s", st->res.alias,
			 st->res.name, percent, st->res.target);
		r = lam_fail(&a, what, err);
		goto out;
	}
	if ((al.arn = json_string_value(json_object_get(a.json, "AliasArn"))))
		snprintf(st->alias_arn, sizeof(st->alias_arn), "%s", al.arn);
	st->weight = percent > 100 ? 100 : percent;
	s->host->log(s->h, LOG_INFO, "%s: alias %s of %s now sends %u%% to version %s",
		     call && call->dep ? call->dep->deployment_id : "-", st->res.alias, st->res.name, st->weight,
		     st->res.target);
	r = 0;
out:
	json_decref(weights);
	free(txt);
	awsj_answer_clear(&a);
	return r;
}

/* ------------------------------------------------------------------------ */
/* The ops                                                                    */
/* ------------------------------------------------------------------------ */

static const char *dep_appspec(const struct rollout_deployment *dep)
{
	return dep && ROLLOUT_HAS(dep, struct rollout_deployment, appspec_json) ? dep->appspec_json : NULL;
}

static int lam_resolve(void *state, const struct rollout_deployment *dep, const char *group_json,
		       char **ret_targets_json, struct rollout_error *err)
{
	const char *appspec = dep_appspec(dep);
	struct lam_res res;
	char name[LAM_NAME_MAX], arn[1024];
	json_t *out;
	int r;

	(void)state;
	(void)group_json;
	/* A Lambda group names no function: the AppSpec does. Without one
	 * (a preview of the group) there is no target yet. */
	if (!appspec) {
		*ret_targets_json = strdup("[]");
		return *ret_targets_json ? 0 : -ENOMEM;
	}
	if ((r = lam_parse_appspec(appspec, &res, err)) < 0)
		return r;
	lam_short_name(res.name, name, sizeof(name));
	if (strncmp(res.name, "arn:", 4) == 0)
		snprintf(arn, sizeof(arn), "%.*s:%s", (int)(strstr(res.name, name) - res.name + strlen(name)), res.name,
			 res.alias);
	else
		snprintf(arn, sizeof(arn), "arn:aws:lambda:%s:%s:function:%s:%s",
			 dep->region ? dep->region : "us-east-1", dep->account_id ? dep->account_id : "000000000000",
			 name, res.alias);
	out = json_pack("[{s:s, s:s, s:s}]", "targetId", name, "targetArn", arn, "instanceType", "Lambda");
	*ret_targets_json = out ? json_dumps(out, JSON_COMPACT) : NULL;
	json_decref(out);
	return *ret_targets_json ? 0 : -ENOMEM;
}

/* Version `v` of the function exists and can take traffic. */
static int check_version(struct lam *s, const struct rollout_shift_call *call, const struct lam_res *res,
			 const char *which, const char *v, struct rollout_error *err)
{
	struct awsj_answer a = {0};
	char what[512];
	const char *st;
	int r;

	if ((r = lam_get_config(s, call, res->name, v, &a, err)) < 0)
		goto out;
	if (a.status == 404) {
		r = rollout_error_set(err, -ENOENT, "INVALID_LAMBDA_CONFIGURATION",
				      "version %s (%s) of function %s does not exist; publish it (aws lambda "
				      "publish-version --function-name %s) or fix %s in the AppSpec",
				      v, which, res->name, res->name, which);
		goto out;
	}
	if (a.status >= 300) {
		snprintf(what, sizeof(what), "GetFunctionConfiguration %s:%s", res->name, v);
		r = lam_fail(&a, what, err);
		goto out;
	}
	st = json_string_value(json_object_get(a.json, "State"));
	if (st && strcmp(st, "Failed") == 0) {
		r = rollout_error_set(err, -EINVAL, "INVALID_LAMBDA_FUNCTION",
				      "version %s (%s) of function %s is in state Failed (%s); fix the function and "
				      "publish a new version",
				      v, which, res->name,
				      json_string_value(json_object_get(a.json, "StateReason"))
					  ? json_string_value(json_object_get(a.json, "StateReason"))
					  : "no reason given");
		goto out;
	}
	r = 0;
out:
	awsj_answer_clear(&a);
	return r;
}

static int lam_prepare(void *state, const struct rollout_shift_call *call, char **ret_state_json,
		       struct rollout_error *err)
{
	struct lam *s = state;
	struct lam_state st = {0};
	struct awsj_answer a = {0};
	struct lam_alias al;
	char what[512];
	int r;

	if ((r = lam_parse_appspec(dep_appspec(call->dep), &st.res, err)) < 0)
		return r;
	if ((r = lam_get_config(s, call, st.res.name, NULL, &a, err)) < 0)
		goto out;
	if (a.status == 404) {
		r = rollout_error_set(err, -ENOENT, "INVALID_LAMBDA_FUNCTION",
				      "function %s does not exist in region %s; create it or fix Name in the AppSpec",
				      st.res.name, awsj_region(&s->q, call));
		goto out;
	}
	if (a.status >= 300) {
		snprintf(what, sizeof(what), "GetFunctionConfiguration %s", st.res.name);
		r = lam_fail(&a, what, err);
		goto out;
	}
	if ((r = check_version(s, call, &st.res, "CurrentVersion", st.res.current, err)) < 0 ||
	    (r = check_version(s, call, &st.res, "TargetVersion", st.res.target, err)) < 0)
		goto out;
	if ((r = lam_get_alias(s, call, &st.res, &a, err)) < 0)
		goto out;
	if (a.status == 404) {
		r = rollout_error_set(err, -ENOENT, "INVALID_LAMBDA_CONFIGURATION",
				      "alias %s of function %s does not exist; create it on the current version (aws "
				      "lambda create-alias --function-name %s --name %s --function-version %s)",
				      st.res.alias, st.res.name, st.res.name, st.res.alias, st.res.current);
		goto out;
	}
	if (a.status >= 300) {
		snprintf(what, sizeof(what), "GetAlias %s of function %s", st.res.alias, st.res.name);
		r = lam_fail(&a, what, err);
		goto out;
	}
	alias_read(a.json, &al);
	if (al.n_extra > 0) {
		r = rollout_error_set(err, -EBUSY, "INVALID_LAMBDA_CONFIGURATION",
				      "alias %s of function %s already splits traffic (version %s and %.0f%% to "
				      "version %s); route all of it to one version first (aws lambda update-alias "
				      "--routing-config AdditionalVersionWeights={})",
				      st.res.alias, st.res.name, al.version ? al.version : "?", al.extra_weight * 100,
				      al.extra_version);
		goto out;
	}
	if (!al.version || strcmp(al.version, st.res.current) != 0) {
		r = rollout_error_set(err, -EINVAL, "INVALID_LAMBDA_CONFIGURATION",
				      "The Lambda function alias version does not match the current version in AppSpec "
				      "file: alias %s of function %s points at version %s, the AppSpec's "
				      "CurrentVersion is %s",
				      st.res.alias, st.res.name, al.version ? al.version : "(none)", st.res.current);
		goto out;
	}
	snprintf(st.alias_arn, sizeof(st.alias_arn), "%s", al.arn ? al.arn : "");
	if (!(*ret_state_json = state_dump(&st)))
		r = -ENOMEM;
out:
	awsj_answer_clear(&a);
	return r;
}

/* Runs fn on the stored state and hands the updated state back, also on
 * failure (a failed UpdateAlias may still have been applied). */
static int with_state(void *state, const struct rollout_shift_call *call, char **ret_state_json,
		      struct rollout_error *err, unsigned percent)
{
	struct lam_state st;
	int r;

	if ((r = state_load(call->state_json, &st, err)) < 0)
		return r;
	r = lam_set_weight(state, call, &st, percent, err);
	if (r == 0 && !(*ret_state_json = state_dump(&st)))
		return -ENOMEM;
	return r;
}

static int lam_weight(void *state, const struct rollout_shift_call *call, char **ret_state_json,
		      struct rollout_error *err)
{
	return with_state(state, call, ret_state_json, err, call->percent > 100 ? 100 : call->percent);
}

static int lam_commit(void *state, const struct rollout_shift_call *call, char **ret_state_json,
		      struct rollout_error *err)
{
	return with_state(state, call, ret_state_json, err, 100);
}

static int lam_route_back(void *state, const struct rollout_shift_call *call, char **ret_state_json,
			  struct rollout_error *err)
{
	return with_state(state, call, ret_state_json, err, 0);
}

/* The target version is ready once Lambda says so (a just-published
 * version may be Pending for a while, e.g. with VPC or SnapStart). */
static int lam_wait_ready(void *state, const struct rollout_shift_call *call, char **ret_state_json,
			  struct rollout_error *err)
{
	struct lam *s = state;
	struct lam_state st;
	struct awsj_answer a = {0};
	const char *fs, *us;
	char what[512];
	int r;

	(void)ret_state_json;
	if ((r = state_load(call->state_json, &st, err)) < 0)
		return r;
	if ((r = lam_get_config(s, call, st.res.name, st.res.target, &a, err)) < 0)
		goto out;
	if (a.status >= 300) {
		snprintf(what, sizeof(what), "GetFunctionConfiguration %s:%s", st.res.name, st.res.target);
		r = lam_fail(&a, what, err);
		goto out;
	}
	fs = json_string_value(json_object_get(a.json, "State"));
	us = json_string_value(json_object_get(a.json, "LastUpdateStatus"));
	if (fs && strcmp(fs, "Failed") == 0)
		r = rollout_error_set(err, -EIO, "INVALID_LAMBDA_FUNCTION",
				      "version %s of function %s is in state Failed; fix it and publish a new version",
				      st.res.target, st.res.name);
	else if ((fs && strcmp(fs, "Pending") == 0) || (us && strcmp(us, "InProgress") == 0))
		r = -EAGAIN;
	else
		r = 0;
out:
	awsj_answer_clear(&a);
	return r;
}

static int lam_invoke_hook(void *state, const struct rollout_shift_call *call, char **ret_state_json,
			   struct rollout_error *err)
{
	struct lam *s = state;

	(void)ret_state_json;
	return awsj_invoke_hook(&s->q, &s->svc, call, strcmp(s->hook_invocation, "Event") == 0, err);
}

static int lam_describe(void *state, const struct rollout_shift_call *call, char **ret_target_json,
			struct rollout_error *err)
{
	struct lam_state st;
	char name[LAM_NAME_MAX];
	json_t *o;
	int r;

	(void)state;
	if ((r = state_load(call->state_json, &st, err)) < 0)
		return r;
	lam_short_name(st.res.name, name, sizeof(name));
	o = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:f}}", "targetArn", st.alias_arn, "lambdaFunctionInfo",
		      "functionName", name, "functionAlias", st.res.alias, "currentVersion", st.res.current,
		      "targetVersion", st.res.target, "targetVersionWeight",
		      (call->percent > 100 ? 100 : call->percent) / 100.0);
	*ret_target_json = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
	json_decref(o);
	return *ret_target_json ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* init / destroy and the descriptor                                          */
/* ------------------------------------------------------------------------ */

static int lam_init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
		    size_t errlen)
{
	struct lam *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->host = host;
	s->h = h;
	if ((r = rollout_config_parse(host, h, lam_options, s, err, errlen)) < 0 ||
	    (r = host->config_string(h, "region", NULL, &s->region, err, errlen)) < 0 ||
	    (r = awsj_endpoint_option(host, h, "lambda", "endpoint", s->endpoint_buf, sizeof(s->endpoint_buf),
				      &s->svc.endpoint, err, errlen)) < 0)
		goto fail;
	s->svc.sigv4 = "lambda";
	s->q = (struct awsj){
	    .host = host, .h = h, .region = s->region, .timeout_ms = s->timeout_ms, .max_attempts = s->max_attempts};
	if (strcmp(s->hook_invocation, "RequestResponse") && strcmp(s->hook_invocation, "Event")) {
		snprintf(err, errlen, "plugins.lambda.hook_invocation: '%s' is not RequestResponse or Event",
			 s->hook_invocation);
		r = -EINVAL;
		goto fail;
	}
	*ret_state = s;
	return 0;
fail:
	free(s);
	return r;
}

static void lam_destroy(void *state)
{
	free(state);
}

static const struct rollout_platform_ops lam_ops =
    ROLLOUT_PLATFORM_OPS_INIT(.compute_platforms = ROLLOUT_COMPUTE_LAMBDA, .resolve = lam_resolve,
			      .shift_prepare = lam_prepare, .shift_weight = lam_weight,
			      .shift_wait_ready = lam_wait_ready, .shift_commit = lam_commit,
			      .shift_route_back = lam_route_back, .shift_invoke_hook = lam_invoke_hook,
			      .shift_describe = lam_describe);

static const struct rollout_plugin lam_plugin = ROLLOUT_PLUGIN_INIT(
    ROLLOUT_KIND_PLATFORM, .name = "lambda", .version = "1.0.0",
    .description = "AWS Lambda: shifts an alias from CurrentVersion to TargetVersion (UpdateAlias, SigV4)",
    .init = lam_init, .destroy = lam_destroy, .ops.platform = &lam_ops);

ROLLOUT_PLUGIN_EXPORT(lam_plugin)
