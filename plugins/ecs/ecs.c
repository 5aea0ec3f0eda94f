/* ecs: the platform plugin for Amazon ECS blue/green deployments
 * (computePlatform "ECS"). It owns the deployment's one target, the
 * service "<cluster>:<service>", and replaces its primary task set the way
 * CodeDeploy does, with task sets on a service whose deployment controller
 * is EXTERNAL (on AWS only CodeDeploy itself may manage the task sets of a
 * CODE_DEPLOY service):
 *
 *   install      CreateTaskSet (externalId = the deployment id, scale 100 %)
 *                on the target group of the pair the primary does not use
 *   wait ready   DescribeTaskSets until STEADY_STATE
 *   test route   ModifyListener: the test listener forwards to the
 *                replacement's target group
 *   weight p     ModifyListener: the production listener forwards 100 - p to
 *                the original's target group and p to the replacement's
 *   commit       UpdateServicePrimaryTaskSet(replacement)
 *   remove       DeleteTaskSet(original), after the termination wait
 *   route back   both listeners to the original's target group, the
 *                original primary again, DeleteTaskSet(replacement)
 *
 * Hooks are Lambda functions invoked with {"DeploymentId",
 * "LifecycleEventHookExecutionId"}, as for Lambda deployments.
 *
 *     plugins:
 *       ecs:
 *         endpoint: http://127.0.0.1:5000   ECS; default https://ecs.<region>.amazonaws.com
 *         elbv2_endpoint: ...               default https://elasticloadbalancing.<region>.amazonaws.com
 *         lambda_endpoint: ...              default https://lambda.<region>.amazonaws.com
 *         region / access_key_id / secret_access_key / session_token / profile / credentials_file
 *         timeout: 30s                      one API call
 *         max_attempts: 3                   per call, on throttling, 5xx and transport errors
 *         hook_invocation: RequestResponse  or Event
 *
 * Every call goes through the host's HTTP client, which signs it (SigV4)
 * and resolves the credentials; ELBv2 answers are read with the host's XML
 * helper. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <rollout/plugin.h>

#include "appspecres.h"
#include "awsjson.h"
#include "awsquery.h"
#include "ecs_spec.h"

struct ecs {
	const struct rollout_host *host;
	struct rollout_handle *h;
	int64_t timeout_ms;
	int64_t max_attempts;
	const char *hook_invocation;
	const char *region; /* NULL: the daemon's */
	struct awsj q;	    /* ECS and Lambda (JSON) */
	struct awsq qq;	    /* ELBv2 (query API) */
	/* endpoint NULL: AWS's own for the region */
	struct awsj_service svc_ecs, svc_lambda;
	struct awsq_service svc_elb;
	char buf_ecs[1024], buf_elb[1024], buf_lambda[1024];
};

static const struct rollout_option ecs_options[] = {
    ROLLOUT_AWS_OPTIONS,
    {.name = "elbv2_endpoint",
     .type = ROLLOUT_OPT_STRING,
     .offset = ROLLOUT_OPT_NOSTORE,
     .help = "Elastic Load Balancing (v2) endpoint, when not AWS's own"},
    {.name = "lambda_endpoint",
     .type = ROLLOUT_OPT_STRING,
     .offset = ROLLOUT_OPT_NOSTORE,
     .help = "Lambda endpoint for the hook functions, when not AWS's own"},
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct ecs, timeout_ms),
     .min = 1000,
     .max = 300000,
     .def = "30s",
     .help = "how long one API call may take"},
    {.name = "max_attempts",
     .type = ROLLOUT_OPT_INT,
     .offset = offsetof(struct ecs, max_attempts),
     .min = 1,
     .max = 10,
     .def = "3",
     .help = "attempts per API call on throttling, 5xx and transport errors"},
    {.name = "hook_invocation",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct ecs, hook_invocation),
     .def = "RequestResponse",
     .help = "RequestResponse (a failing hook fails its event at once) or Event"},
    ROLLOUT_OPTION_END,
};

/* ------------------------------------------------------------------------ */
/* JSON helpers                                                               */
/* ------------------------------------------------------------------------ */

static const char *sget(const json_t *o, const char *k)
{
	const char *s = ecs_jstr(o, k);
	return s ? s : "";
}

static const char *dep_id(const struct rollout_shift_call *call)
{
	return call && call->dep && call->dep->deployment_id ? call->dep->deployment_id : "-";
}

/* ------------------------------------------------------------------------ */
/* API calls (retries, backoff and error naming: awsjson, awsquery)          */
/* ------------------------------------------------------------------------ */

/* A failed ECS or Lambda answer as a deployment error. */
static int answer_fail(const struct awsj_answer *a, const char *what, const char *code, struct rollout_error *err)
{
	return awsj_fail(a, what, code, "(see the IAM permissions the ecs plugin needs in docs/ecs.md)", err);
}

/* One ECS call (JSON 1.1). *ret: the answer's JSON body on success. */
static int ecs_call(struct ecs *s, const struct rollout_shift_call *call, const char *op, json_t *in, bool idempotent,
		    json_t **ret, struct awsj_answer *ans, struct rollout_error *err)
{
	return awsj_call(&s->q, &s->svc_ecs, call, op, in, idempotent, "ECS_UPDATE_ERROR", ret, ans, err);
}

/* The parameters of an ELBv2 call under construction ("&k=v..."). */
struct form {
	char buf[8192];
	int r;
};

static void form_add(struct form *f, const char *k, const char *v)
{
	if (f->r == 0)
		f->r = awsq_param(f->buf, sizeof(f->buf), k, v);
}

static void form_addf(struct form *f, const char *v, const char *kfmt, ...) ROLLOUT_PRINTF(3, 4);
static void form_addf(struct form *f, const char *v, const char *kfmt, ...)
{
	char k[256];
	va_list ap;

	va_start(ap, kfmt);
	vsnprintf(k, sizeof(k), kfmt, ap);
	va_end(ap);
	form_add(f, k, v);
}

/* One ELBv2 call. *ret: the parsed answer. -ENOENT (err set) when ELBv2
 * answered *NotFound. */
static int elb_call(struct ecs *s, const struct rollout_shift_call *call, const char *action, const struct form *f,
		    struct rollout_xml **ret, struct rollout_error *err)
{
	*ret = NULL;
	if (f->r < 0)
		return rollout_error_set(err, f->r, "ELASTIC_LOAD_BALANCING_INVALID",
					 "the parameters of ELBv2 %s are too long", action);
	return awsq_call(&s->qq, &s->svc_elb, call ? call->dep : NULL, action, f->buf, "ELASTIC_LOAD_BALANCING_INVALID",
			 ret, err);
}

/* ------------------------------------------------------------------------ */
/* The state the engine stores                                                */
/* ------------------------------------------------------------------------ */
/*
 * {"cluster", "service", "serviceArn", "tg": [name0, name1], "tgArn": [arn0,
 *  arn1], "orig": index of the original's target group, "prod", "test",
 *  "origSet"/"origId": the original task set ("" on a first deployment),
 *  "replSet"/"replId": the replacement once created, "taskDefinition",
 *  "container", "port", "launchType", "capacityProviderStrategy",
 *  "platformVersion", "networkConfiguration", "testRouted", "committed",
 *  "removed", "info": {"orig": counts, "repl": counts}}
 */

static json_t *state_load(const struct rollout_shift_call *call, struct rollout_error *err)
{
	json_t *st = json_loads(call->state_json ? call->state_json : "", 0, NULL);
	json_int_t o = json_integer_value(json_object_get(st, "orig"));

	if (!json_is_object(st) || !ecs_jstr(st, "cluster") || !ecs_jstr(st, "service") ||
	    json_array_size(json_object_get(st, "tgArn")) != 2 || (o != 0 && o != 1) || !ecs_jstr(st, "prod")) {
		json_decref(st);
		rollout_error_set(err, -EINVAL, "INTERNAL_ERROR",
				  "the stored state of this ECS deployment is damaged: %.200s",
				  call->state_json ? call->state_json : "(none)");
		return NULL;
	}
	return st;
}

static int state_out(json_t *st, char **ret_state_json)
{
	*ret_state_json = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
	return *ret_state_json ? 0 : -ENOMEM;
}

static const char *tg_arn(const json_t *st, int i)
{
	return json_string_value(json_array_get(json_object_get(st, "tgArn"), (size_t)i));
}

static int orig_idx(const json_t *st)
{
	return (int)json_integer_value(json_object_get(st, "orig"));
}

static bool first_deployment(const json_t *st)
{
	return !*sget(st, "origSet");
}

/* The replacement's target group: the other one, or on a first deployment
 * the one the production listener already serves. */
static int repl_idx(const json_t *st)
{
	return first_deployment(st) ? orig_idx(st) : 1 - orig_idx(st);
}

/* ------------------------------------------------------------------------ */
/* ECS and ELBv2 steps                                                        */
/* ------------------------------------------------------------------------ */

static json_t *svc_req(const json_t *st)
{
	return json_pack("{s:s, s:s}", "cluster", sget(st, "cluster"), "service", sget(st, "service"));
}

/* The service's task sets (DescribeTaskSets without a list: all of them). */
static int task_sets(struct ecs *s, const struct rollout_shift_call *call, const json_t *st, json_t **ret,
		     struct rollout_error *err)
{
	struct awsj_answer a = {0};
	json_t *out = NULL;
	char what[600];
	int r = ecs_call(s, call, "DescribeTaskSets", svc_req(st), true, &out, &a, err);

	if (r == 0 && a.status >= 300) {
		snprintf(what, sizeof(what), "DescribeTaskSets of service %s in cluster %s", sget(st, "service"),
			 sget(st, "cluster"));
		r = answer_fail(&a, what, "ECS_UPDATE_ERROR", err);
	}
	awsj_answer_clear(&a);
	if (r == 0) {
		*ret = json_incref(json_object_get(out, "taskSets"));
		if (!*ret)
			*ret = json_array();
	}
	json_decref(out);
	return r;
}

static const json_t *find_set(const json_t *sets, const char *key, const char *value)
{
	const json_t *t;
	size_t i;

	json_array_foreach(sets, i,
			   t) if (value && *value && ecs_jstr(t, key) && !strcmp(ecs_jstr(t, key), value)) return t;
	return NULL;
}

/* The counts shown in taskSetsInfo. moto, and ECS before the first
 * describe, may leave the counts out. */
static json_t *set_info(const json_t *t)
{
	json_t *o = json_pack("{s:s, s:s}", "identifer", sget(t, "id"), "status", sget(t, "status"));
	const char *keys[] = {"computedDesiredCount", "pendingCount", "runningCount"};
	const char *names[] = {"desiredCount", "pendingCount", "runningCount"};

	for (int i = 0; i < 3; i++)
		if (json_is_integer(json_object_get(t, keys[i])))
			json_object_set(o, names[i], json_object_get(t, keys[i]));
	return o;
}

static void info_put(json_t *st, const char *which, const json_t *t)
{
	json_t *info = json_object_get(st, "info");

	if (!json_is_object(info)) {
		info = json_object();
		json_object_set_new(st, "info", info);
	}
	if (t)
		json_object_set_new(info, which, set_info(t));
	else
		json_object_del(info, which);
}

/* What taskSetsInfo shows as status, without another describe. */
static void set_status(json_t *st, const char *which, const char *status)
{
	json_t *in = json_object_get(json_object_get(st, "info"), which);

	if (json_is_object(in))
		json_object_set_new(in, "status", json_string(status));
}

/* The shares of the listener's default forward action, in percent, for
 * the pair's two target groups; -ENOENT without such an action. */
static int listener_shares(struct ecs *s, const struct rollout_xml_node *l, const json_t *st, int share[2])
{
	const struct rollout_xml_node *act, *fc, *m;
	long w[2] = {0, 0}, total = 0;
	bool any = false;

	for (act = s->host->xml_first(s->host->xml_find(l, "DefaultActions"), "member"); act;
	     act = s->host->xml_next(act, "member")) {
		const char *type = s->host->xml_text(act, "Type");
		if (!type || strcmp(type, "forward"))
			continue;
		fc = s->host->xml_find(act, "ForwardConfig/TargetGroups");
		if (fc && s->host->xml_first(fc, "member")) {
			for (m = s->host->xml_first(fc, "member"); m; m = s->host->xml_next(m, "member")) {
				const char *arn = s->host->xml_text(m, "TargetGroupArn"),
					   *wt = s->host->xml_text(m, "Weight");
				long v = wt ? strtol(wt, NULL, 10) : 1;
				total += v;
				for (int i = 0; i < 2; i++)
					if (arn && !strcmp(arn, tg_arn(st, i)))
						w[i] += v;
			}
		} else {
			const char *arn = s->host->xml_text(act, "TargetGroupArn");
			total += 1;
			for (int i = 0; i < 2; i++)
				if (arn && !strcmp(arn, tg_arn(st, i)))
					w[i] += 1;
		}
		any = true;
		break;
	}
	if (!any)
		return -ENOENT;
	for (int i = 0; i < 2; i++)
		share[i] = total > 0 ? (int)((w[i] * 100 + total / 2) / total) : 0;
	return 0;
}

/* DescribeListeners of one listener: its shares for the pair. */
static int listener_get(struct ecs *s, const struct rollout_shift_call *call, const json_t *st, const char *arn,
			const char *role, int share[2], struct rollout_error *err)
{
	struct form f = {0};
	struct rollout_xml *doc = NULL;
	const struct rollout_xml_node *l;
	int r;

	form_add(&f, "ListenerArns.member.1", arn);
	r = elb_call(s, call, "DescribeListeners", &f, &doc, err);
	if (r == -ENOENT)
		rollout_error_set(
		    err, -ENOENT, "ELASTIC_LOAD_BALANCING_INVALID",
		    "the %s listener %s does not exist; fix the deployment group's targetGroupPairInfoList", role, arn);
	if (r == 0) {
		l = s->host->xml_find(s->host->xml_root(doc), "DescribeListenersResult/Listeners/member");
		if (!l)
			r = rollout_error_set(err, -ENOENT, "ELASTIC_LOAD_BALANCING_INVALID",
					      "the %s listener %s does not exist; fix the deployment group's "
					      "targetGroupPairInfoList",
					      role, arn);
		else if (listener_shares(s, l, st, share) < 0)
			share[0] = share[1] = 0;
	}
	s->host->xml_free(doc);
	return r;
}

/* Routes the listener: p % to target group `to`, the rest to the other
 * one. Reads first: a step repeated after a restart changes nothing. */
static int listener_route(struct ecs *s, const struct rollout_shift_call *call, const json_t *st, const char *arn,
			  const char *role, int to, unsigned p, struct rollout_error *err)
{
	struct form f = {0};
	struct rollout_xml *doc = NULL;
	int share[2], r;
	char ws[16];

	if ((r = listener_get(s, call, st, arn, role, share, err)) < 0)
		return r;
	if (share[to] == (int)p && share[1 - to] == 100 - (int)p)
		return 0;
	form_add(&f, "ListenerArn", arn);
	form_add(&f, "DefaultActions.member.1.Type", "forward");
	if (p >= 100 || p == 0) {
		form_add(&f, "DefaultActions.member.1.TargetGroupArn", tg_arn(st, p >= 100 ? to : 1 - to));
	} else {
		int k = 1;
		for (int i = 0; i < 2; i++, k++) {
			int idx = i == 0 ? 1 - to : to;
			snprintf(ws, sizeof(ws), "%u", i == 0 ? 100 - p : p);
			form_addf(&f, tg_arn(st, idx),
				  "DefaultActions.member.1.ForwardConfig.TargetGroups.member.%d.TargetGroupArn", k);
			form_addf(&f, ws, "DefaultActions.member.1.ForwardConfig.TargetGroups.member.%d.Weight", k);
		}
	}
	r = elb_call(s, call, "ModifyListener", &f, &doc, err);
	if (r == 0)
		s->host->log(s->h, LOG_INFO, "%s: %s listener sends %u%% to target group %s", dep_id(call), role, p,
			     json_string_value(json_array_get(json_object_get(st, "tg"), (size_t)to)));
	s->host->xml_free(doc);
	return r;
}

/* ------------------------------------------------------------------------ */
/* The ops                                                                    */
/* ------------------------------------------------------------------------ */

static const char *dep_appspec(const struct rollout_deployment *dep)
{
	return dep && ROLLOUT_HAS(dep, struct rollout_deployment, appspec_json) ? dep->appspec_json : NULL;
}

static int ecs_resolve(void *state, const struct rollout_deployment *dep, const char *group_json,
		       char **ret_targets_json, struct rollout_error *err)
{
	struct ecs_group g;
	char id[600], arn[1200];
	json_t *out;
	int r;

	(void)state;
	if ((r = ecs_parse_group(group_json, &g, err)) < 0)
		return r;
	snprintf(id, sizeof(id), "%s:%s", g.cluster, g.service);
	snprintf(arn, sizeof(arn), "arn:aws:ecs:%s:%s:service/%s/%s", dep && dep->region ? dep->region : "us-east-1",
		 dep && dep->account_id ? dep->account_id : "000000000000", g.cluster, g.service);
	out = json_pack("[{s:s, s:s, s:s}]", "targetId", id, "targetArn", arn, "instanceType", "ECS");
	*ret_targets_json = out ? json_dumps(out, JSON_COMPACT) : NULL;
	json_decref(out);
	return *ret_targets_json ? 0 : -ENOMEM;
}

/* The service exists, is ACTIVE and has the EXTERNAL controller. */
static int check_service(struct ecs *s, const struct rollout_shift_call *call, const struct ecs_group *g,
			 json_t **ret_service, struct rollout_error *err)
{
	struct awsj_answer a = {0};
	json_t *out = NULL, *svc;
	const char *ctl;
	char what[600];
	int r = ecs_call(s, call, "DescribeServices",
			 json_pack("{s:s, s:[s]}", "cluster", g->cluster, "services", g->service), true, &out, &a, err);

	if (r < 0)
		goto out;
	if (a.status >= 300) {
		if (strstr(a.type, "ClusterNotFound"))
			r = rollout_error_set(err, -ENOENT, "INVALID_ECS_SERVICE",
					      "ECS cluster %s does not exist in region %s; fix ecsServices in the "
					      "deployment group",
					      g->cluster, awsj_region(&s->q, call));
		else {
			snprintf(what, sizeof(what), "DescribeServices %s in cluster %s", g->service, g->cluster);
			r = answer_fail(&a, what, "INVALID_ECS_SERVICE", err);
		}
		goto out;
	}
	svc = json_array_get(json_object_get(out, "services"), 0);
	if (!svc || strcmp(sget(svc, "status"), "ACTIVE")) {
		r = rollout_error_set(err, -ENOENT, "INVALID_ECS_SERVICE",
				      "ECS service %s does not exist in cluster %s%s%s; create it with the EXTERNAL "
				      "deployment controller, or fix ecsServices in the deployment group",
				      g->service, g->cluster, svc ? " (it is " : "", svc ? sget(svc, "status") : "");
		if (svc)
			snprintf(err->message + strlen(err->message), sizeof(err->message) - strlen(err->message), ")");
		goto out;
	}
	ctl = sget(json_object_get(svc, "deploymentController"), "type");
	if (strcmp(ctl, "EXTERNAL") != 0) {
		r = rollout_error_set(
		    err, -EPERM, "INVALID_ECS_SERVICE",
		    "ECS service %s in cluster %s uses the %s deployment controller; rolloutd manages task sets "
		    "and needs the EXTERNAL controller (on AWS only CodeDeploy itself may change the task sets "
		    "of a CODE_DEPLOY service). Create the service with --deployment-controller type=EXTERNAL "
		    "(the controller cannot be changed on an existing service: create a new service and move "
		    "the listeners to it); see docs/ecs.md",
		    g->service, g->cluster, *ctl ? ctl : "ECS");
		goto out;
	}
	*ret_service = json_incref(svc);
out:
	json_decref(out);
	awsj_answer_clear(&a);
	return r;
}

/* The task definition has the container, with the port mapped. */
static int check_task_definition(struct ecs *s, const struct rollout_shift_call *call, const struct ecs_spec *spec,
				 struct rollout_error *err)
{
	struct awsj_answer a = {0};
	json_t *out = NULL, *cd, *pm;
	const json_t *c = NULL;
	size_t i;
	char what[2200];
	int r = ecs_call(s, call, "DescribeTaskDefinition", json_pack("{s:s}", "taskDefinition", spec->task_definition),
			 true, &out, &a, err);

	if (r < 0)
		goto out;
	if (a.status >= 300) {
		if (a.status == 400 && (strstr(a.type, "ClientException") || strstr(a.text, "not found") ||
					strstr(a.text, "Unable to describe")))
			r = rollout_error_set(err, -ENOENT, "INVALID_REVISION",
					      "task definition %s does not exist (%s); register it or fix "
					      "TaskDefinition in the AppSpec",
					      spec->task_definition, a.text);
		else {
			snprintf(what, sizeof(what), "DescribeTaskDefinition %s", spec->task_definition);
			r = answer_fail(&a, what, "ECS_UPDATE_ERROR", err);
		}
		goto out;
	}
	cd = json_object_get(json_object_get(out, "taskDefinition"), "containerDefinitions");
	json_array_foreach(cd, i, pm) if (!strcmp(sget(pm, "name"), spec->container)) c = pm;
	if (!c) {
		r = rollout_error_set(err, -ENOENT, "INVALID_REVISION",
				      "task definition %s has no container named %s; fix "
				      "LoadBalancerInfo.ContainerName in the AppSpec",
				      spec->task_definition, spec->container);
		goto out;
	}
	json_array_foreach(json_object_get(c, "portMappings"), i, pm)
	{
		if (json_integer_value(json_object_get(pm, "containerPort")) == spec->port) {
			r = 0;
			goto out;
		}
	}
	r = rollout_error_set(err, -ENOENT, "INVALID_REVISION",
			      "container %s of task definition %s maps no containerPort %lld; fix "
			      "LoadBalancerInfo.ContainerPort in the AppSpec or the task definition's portMappings",
			      spec->container, spec->task_definition, spec->port);
out:
	json_decref(out);
	awsj_answer_clear(&a);
	return r;
}

/* DescribeTargetGroups of the pair: their ARNs. */
static int check_target_groups(struct ecs *s, const struct rollout_shift_call *call, const struct ecs_group *g,
			       json_t *st, struct rollout_error *err)
{
	json_t *arns = json_array();
	int r = 0;

	for (int i = 0; i < 2 && r == 0; i++) {
		struct form f = {0};
		struct rollout_xml *doc = NULL;
		const char *arn;

		form_add(&f, "Names.member.1", g->tg[i]);
		r = elb_call(s, call, "DescribeTargetGroups", &f, &doc, err);
		if (r == -ENOENT)
			rollout_error_set(
			    err, -ENOENT, "ELASTIC_LOAD_BALANCING_INVALID",
			    "target group %s does not exist; create it (target type ip for Fargate) or fix "
			    "the deployment group's targetGroupPairInfoList",
			    g->tg[i]);
		if (r == 0) {
			arn = s->host->xml_text(s->host->xml_root(doc),
						"DescribeTargetGroupsResult/TargetGroups/member/TargetGroupArn");
			if (!arn)
				r = rollout_error_set(err, -ENOENT, "ELASTIC_LOAD_BALANCING_INVALID",
						      "target group %s does not exist", g->tg[i]);
			else
				json_array_append_new(arns, json_string(arn));
		}
		s->host->xml_free(doc);
	}
	if (r == 0)
		json_object_set(st, "tgArn", arns);
	json_decref(arns);
	return r;
}

static int ecs_prepare(void *state, const struct rollout_shift_call *call, char **ret_state_json,
		       struct rollout_error *err)
{
	struct ecs *s = state;
	struct ecs_spec spec = {0};
	struct ecs_group g;
	json_t *svc = NULL, *sets = NULL, *st = NULL, *net = NULL;
	const json_t *prim = NULL, *t;
	size_t i;
	int share[2], tshare[2], orig = 0, r;

	if ((r = ecs_parse_appspec(dep_appspec(call->dep), &spec, err)) < 0 ||
	    (r = ecs_parse_group(call->group_json, &g, err)) < 0)
		goto out;
	if ((r = check_service(s, call, &g, &svc, err)) < 0 || (r = check_task_definition(s, call, &spec, err)) < 0)
		goto out;
	st = json_pack("{s:s, s:s, s:s, s:[s,s], s:s, s:s, s:s, s:s, s:I, s:b, s:b, s:b, s:{}}", "cluster", g.cluster,
		       "service", g.service, "serviceArn", sget(svc, "serviceArn"), "tg", g.tg[0], g.tg[1], "prod",
		       g.prod, "test", g.test, "taskDefinition", spec.task_definition, "container", spec.container,
		       "port", (json_int_t)spec.port, "testRouted", 0, "committed", 0, "removed", 0, "info");
	if (!st) {
		r = -ENOMEM;
		goto out;
	}
	if ((r = check_target_groups(s, call, &g, st, err)) < 0 ||
	    (r = listener_get(s, call, st, g.prod, "production", share, err)) < 0 ||
	    (g.test[0] && (r = listener_get(s, call, st, g.test, "test", tshare, err)) < 0))
		goto out;
	if ((r = task_sets(s, call, st, &sets, err)) < 0)
		goto out;
	json_array_foreach(sets, i, t) if (!strcmp(sget(t, "status"), "PRIMARY")) prim = t;
	json_array_foreach(sets, i, t)
	{
		if (t == prim || !strcmp(sget(t, "status"), "DRAINING"))
			continue;
		r = rollout_error_set(err, -EBUSY, "ECS_UPDATE_ERROR",
				      "ECS service %s has task set %s (externalId %s) besides its primary one, left "
				      "by another deployment; delete it (aws ecs delete-task-set --cluster %s "
				      "--service %s --task-set %s) and deploy again",
				      g.service, sget(t, "id"), *sget(t, "externalId") ? sget(t, "externalId") : "none",
				      g.cluster, g.service, sget(t, "id"));
		goto out;
	}
	if (prim) {
		const char *ptg = sget(json_array_get(json_object_get(prim, "loadBalancers"), 0), "targetGroupArn");
		if (!strcmp(ptg, tg_arn(st, 0)))
			orig = 0;
		else if (!strcmp(ptg, tg_arn(st, 1)))
			orig = 1;
		else {
			r = rollout_error_set(err, -EINVAL, "ELASTIC_LOAD_BALANCING_INVALID",
					      "the primary task set %s of service %s serves target group %s, which is "
					      "not one of the deployment group's pair (%s, %s); fix "
					      "targetGroupPairInfoList",
					      sget(prim, "id"), g.service, *ptg ? ptg : "(none)", g.tg[0], g.tg[1]);
			goto out;
		}
		json_object_set_new(st, "origSet", json_string(sget(prim, "taskSetArn")));
		json_object_set_new(st, "origId", json_string(sget(prim, "id")));
		info_put(st, "orig", prim);
	} else {
		/* a first deployment: the replacement goes where production
		 * traffic already goes */
		orig = share[1] > share[0] ? 1 : 0;
		json_object_set_new(st, "origSet", json_string(""));
	}
	json_object_set_new(st, "orig", json_integer(orig));
	/* launch type, platform version and network: the AppSpec's, else the
	 * primary task set's (an EXTERNAL service has none of its own) */
	if (spec.cps)
		json_object_set(st, "capacityProviderStrategy", spec.cps);
	else if (spec.launch_type[0])
		json_object_set_new(st, "launchType", json_string(spec.launch_type));
	else if (prim && json_array_size(json_object_get(prim, "capacityProviderStrategy")))
		json_object_set(st, "capacityProviderStrategy", json_object_get(prim, "capacityProviderStrategy"));
	else if (prim && *sget(prim, "launchType"))
		json_object_set_new(st, "launchType", json_string(sget(prim, "launchType")));
	net = spec.network ? json_incref(spec.network)
	      : prim && json_is_object(
			    json_object_get(json_object_get(prim, "networkConfiguration"), "awsvpcConfiguration"))
		  ? json_incref(json_object_get(prim, "networkConfiguration"))
		  : NULL;
	if (net)
		json_object_set(st, "networkConfiguration", net);
	if (spec.platform_version[0])
		json_object_set_new(st, "platformVersion", json_string(spec.platform_version));
	else if (prim && *sget(prim, "platformVersion"))
		json_object_set_new(st, "platformVersion", json_string(sget(prim, "platformVersion")));
	if (!prim && (!net || (!spec.launch_type[0] && !spec.cps))) {
		r = rollout_error_set(
		    err, -EINVAL, "INVALID_REVISION",
		    "ECS service %s has no task set yet, and a service with the EXTERNAL controller has no launch "
		    "type or network configuration of its own: the first deployment's AppSpec must give %s%s%s "
		    "(later deployments take them from the current task set)",
		    g.service,
		    !spec.launch_type[0] && !spec.cps ? "LaunchType (FARGATE, EC2) or CapacityProviderStrategy" : "",
		    !net && !spec.launch_type[0] && !spec.cps ? " and " : "",
		    !net ? "NetworkConfiguration.AwsvpcConfiguration {Subnets, SecurityGroups, AssignPublicIp}" : "");
		goto out;
	}
	r = state_out(st, ret_state_json);
out:
	ecs_spec_clear(&spec);
	json_decref(svc);
	json_decref(sets);
	json_decref(st);
	json_decref(net);
	return r;
}

/* ---------------------------------------------------------------- install and readiness */

static int ecs_install(void *state, const struct rollout_shift_call *call, char **ret_state_json,
		       struct rollout_error *err)
{
	struct ecs *s = state;
	json_t *st = state_load(call, err), *sets = NULL, *req, *out = NULL;
	const json_t *mine;
	struct awsj_answer a = {0};
	char what[600];
	int r;

	if (!st)
		return -EINVAL;
	/* created before a restart (externalId = this deployment): use it */
	if ((r = task_sets(s, call, st, &sets, err)) < 0)
		goto out;
	mine = find_set(sets, "externalId", dep_id(call));
	if (!mine) {
		req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:O}], s:{s:f, s:s}}", "cluster",
				sget(st, "cluster"), "service", sget(st, "service"), "externalId", dep_id(call),
				"clientToken", dep_id(call), "taskDefinition", sget(st, "taskDefinition"),
				"loadBalancers", "targetGroupArn", tg_arn(st, repl_idx(st)), "containerName",
				sget(st, "container"), "containerPort", json_object_get(st, "port"), "scale", "value",
				100.0, "unit", "PERCENT");
		if (json_object_get(st, "networkConfiguration"))
			json_object_set(req, "networkConfiguration", json_object_get(st, "networkConfiguration"));
		if (json_object_get(st, "capacityProviderStrategy"))
			json_object_set(req, "capacityProviderStrategy",
					json_object_get(st, "capacityProviderStrategy"));
		else if (ecs_jstr(st, "launchType"))
			json_object_set(req, "launchType", json_object_get(st, "launchType"));
		if (ecs_jstr(st, "platformVersion"))
			json_object_set(req, "platformVersion", json_object_get(st, "platformVersion"));
		r = ecs_call(s, call, "CreateTaskSet", req, false, &out, &a, err);
		if (r == 0 && a.status >= 300) {
			snprintf(what, sizeof(what), "CreateTaskSet for service %s in cluster %s", sget(st, "service"),
				 sget(st, "cluster"));
			r = answer_fail(&a, what, "ECS_UPDATE_ERROR", err);
		}
		if (r == 0)
			mine = json_object_get(out, "taskSet");
		if (r < 0) {
			/* a failed create may have left a task set behind: remember it
			 * for route back */
			json_decref(sets);
			sets = NULL;
			if (task_sets(s, call, st, &sets, NULL) == 0)
				mine = find_set(sets, "externalId", dep_id(call));
		}
	}
	if (mine) {
		json_object_set_new(st, "replSet", json_string(sget(mine, "taskSetArn")));
		json_object_set_new(st, "replId", json_string(sget(mine, "id")));
		info_put(st, "repl", mine);
		if (r == 0)
			s->host->log(s->h, LOG_INFO, "%s: replacement task set %s on target group %s", dep_id(call),
				     sget(mine, "id"), tg_arn(st, repl_idx(st)));
	}
	if (state_out(st, ret_state_json) < 0 && r == 0)
		r = -ENOMEM;
out:
	json_decref(st);
	json_decref(sets);
	json_decref(out);
	awsj_answer_clear(&a);
	return r;
}

static int ecs_wait_ready(void *state, const struct rollout_shift_call *call, char **ret_state_json,
			  struct rollout_error *err)
{
	struct ecs *s = state;
	json_t *st = state_load(call, err), *sets = NULL;
	const json_t *repl, *orig;
	int r;

	if (!st)
		return -EINVAL;
	if ((r = task_sets(s, call, st, &sets, err)) < 0)
		goto out;
	repl = find_set(sets, "taskSetArn", sget(st, "replSet"));
	orig = find_set(sets, "taskSetArn", sget(st, "origSet"));
	if (orig)
		info_put(st, "orig", orig);
	if (!repl) {
		r = rollout_error_set(err, -ENOENT, "ECS_UPDATE_ERROR",
				      "the replacement task set %s of service %s is gone (deleted outside this "
				      "deployment?)",
				      *sget(st, "replId") ? sget(st, "replId") : "(never created)",
				      sget(st, "service"));
		goto out;
	}
	info_put(st, "repl", repl);
	/* stable: ECS says so and every task runs (counts absent: ECS has not
	 * counted yet, moto never does) */
	if (strcmp(sget(repl, "stabilityStatus"), "STEADY_STATE") != 0 ||
	    (json_is_integer(json_object_get(repl, "runningCount")) &&
	     json_integer_value(json_object_get(repl, "runningCount")) <
		 json_integer_value(json_object_get(repl, "computedDesiredCount"))))
		r = -EAGAIN;
	if (state_out(st, ret_state_json) < 0)
		r = -ENOMEM;
out:
	json_decref(st);
	json_decref(sets);
	return r;
}

/* ---------------------------------------------------------------- traffic */

static int ecs_test_route(void *state, const struct rollout_shift_call *call, char **ret_state_json,
			  struct rollout_error *err)
{
	struct ecs *s = state;
	json_t *st = state_load(call, err);
	int r = 0;

	if (!st)
		return -EINVAL;
	if (*sget(st, "test")) {
		r = listener_route(s, call, st, sget(st, "test"), "test", repl_idx(st), 100, err);
		if (r == 0) {
			json_object_set_new(st, "testRouted", json_true());
			r = state_out(st, ret_state_json);
		}
	}
	json_decref(st);
	return r;
}

static int ecs_weight(void *state, const struct rollout_shift_call *call, char **ret_state_json,
		      struct rollout_error *err)
{
	struct ecs *s = state;
	json_t *st = state_load(call, err);
	unsigned p = call->percent > 100 ? 100 : call->percent;
	int r;

	if (!st)
		return -EINVAL;
	/* a first deployment has nothing to shift from: all of it at once */
	r = listener_route(s, call, st, sget(st, "prod"), "production", repl_idx(st), first_deployment(st) ? 100 : p,
			   err);
	if (r == 0)
		r = state_out(st, ret_state_json);
	json_decref(st);
	return r;
}

static int set_primary(struct ecs *s, const struct rollout_shift_call *call, const json_t *st, const char *set,
		       struct rollout_error *err)
{
	struct awsj_answer a = {0};
	json_t *out = NULL, *req = svc_req(st);
	char what[700];
	int r;

	json_object_set_new(req, "primaryTaskSet", json_string(set));
	r = ecs_call(s, call, "UpdateServicePrimaryTaskSet", req, true, &out, &a, err);
	if (r == 0 && a.status >= 300) {
		snprintf(what, sizeof(what), "UpdateServicePrimaryTaskSet %s of service %s", set, sget(st, "service"));
		r = answer_fail(&a, what, "ECS_UPDATE_ERROR", err);
	}
	json_decref(out);
	awsj_answer_clear(&a);
	return r;
}

static int ecs_commit(void *state, const struct rollout_shift_call *call, char **ret_state_json,
		      struct rollout_error *err)
{
	struct ecs *s = state;
	json_t *st = state_load(call, err);
	int r;

	if (!st)
		return -EINVAL;
	r = set_primary(s, call, st, sget(st, "replSet"), err);
	if (r == 0) {
		json_object_set_new(st, "committed", json_true());
		set_status(st, "repl", "PRIMARY");
		set_status(st, "orig", "ACTIVE");
		s->host->log(s->h, LOG_INFO, "%s: task set %s is the primary of service %s", dep_id(call),
			     sget(st, "replId"), sget(st, "service"));
		r = state_out(st, ret_state_json);
	}
	json_decref(st);
	return r;
}

/* DeleteTaskSet; one that is gone already counts as deleted. */
static int delete_set(struct ecs *s, const struct rollout_shift_call *call, const json_t *st, const char *set,
		      struct rollout_error *err)
{
	struct awsj_answer a = {0};
	json_t *out = NULL, *req = svc_req(st);
	char what[700];
	int r;

	json_object_set_new(req, "taskSet", json_string(set));
	json_object_set_new(req, "force", json_true());
	r = ecs_call(s, call, "DeleteTaskSet", req, true, &out, &a, err);
	if (r == 0 && a.status >= 300 && !strstr(a.type, "TaskSetNotFound") && !strstr(a.text, "does not exist")) {
		snprintf(what, sizeof(what), "DeleteTaskSet %s of service %s", set, sget(st, "service"));
		r = answer_fail(&a, what, "ECS_UPDATE_ERROR", err);
	}
	if (r == 0)
		s->host->log(s->h, LOG_INFO, "%s: task set %s of service %s deleted", dep_id(call), set,
			     sget(st, "service"));
	json_decref(out);
	awsj_answer_clear(&a);
	return r;
}

static int ecs_remove_original(void *state, const struct rollout_shift_call *call, char **ret_state_json,
			       struct rollout_error *err)
{
	struct ecs *s = state;
	json_t *st = state_load(call, err);
	int r = 0;

	if (!st)
		return -EINVAL;
	if (!first_deployment(st))
		r = delete_set(s, call, st, sget(st, "origSet"), err);
	if (r == 0) {
		json_object_set_new(st, "removed", json_true());
		info_put(st, "orig", NULL);
		r = state_out(st, ret_state_json);
	}
	json_decref(st);
	return r;
}

static int ecs_route_back(void *state, const struct rollout_shift_call *call, char **ret_state_json,
			  struct rollout_error *err)
{
	struct ecs *s = state;
	json_t *st = state_load(call, err), *sets = NULL;
	const json_t *mine;
	int r = 0;

	if (!st)
		return -EINVAL;
	if (json_is_true(json_object_get(st, "removed"))) {
		r = rollout_error_set(err, -ESTALE, "ECS_UPDATE_ERROR",
				      "the original task set %s of service %s was already deleted; there is nothing "
				      "to route back to (deploy the previous task definition again)",
				      sget(st, "origId"), sget(st, "service"));
		goto out;
	}
	if (!first_deployment(st)) {
		int o = orig_idx(st);
		if (json_is_true(json_object_get(st, "committed")) &&
		    (r = set_primary(s, call, st, sget(st, "origSet"), err)) < 0)
			goto out;
		json_object_set_new(st, "committed", json_false());
		set_status(st, "orig", "PRIMARY");
		if ((r = listener_route(s, call, st, sget(st, "prod"), "production", o, 100, err)) < 0)
			goto out;
		if (*sget(st, "test") && (r = listener_route(s, call, st, sget(st, "test"), "test", o, 100, err)) < 0)
			goto out;
		json_object_set_new(st, "testRouted", json_false());
	}
	/* the replacement, also one a failed create left without our knowing */
	if (!*sget(st, "replSet") && task_sets(s, call, st, &sets, err) == 0 &&
	    (mine = find_set(sets, "externalId", dep_id(call)))) {
		json_object_set_new(st, "replSet", json_string(sget(mine, "taskSetArn")));
		json_object_set_new(st, "replId", json_string(sget(mine, "id")));
	}
	if (*sget(st, "replSet")) {
		if ((r = delete_set(s, call, st, sget(st, "replSet"), err)) < 0)
			goto out;
		json_object_set_new(st, "replSet", json_string(""));
		info_put(st, "repl", NULL);
	}
out:
	if (state_out(st, ret_state_json) < 0 && r == 0)
		r = -ENOMEM;
	json_decref(st);
	json_decref(sets);
	return r;
}

/* ---------------------------------------------------------------- hooks */

static int ecs_invoke_hook(void *state, const struct rollout_shift_call *call, char **ret_state_json,
			   struct rollout_error *err)
{
	struct ecs *s = state;

	(void)ret_state_json;
	return awsj_invoke_hook(&s->q, &s->svc_lambda, call, strcmp(s->hook_invocation, "Event") == 0, err);
}

/* ---------------------------------------------------------------- GetDeploymentTarget */

static int ecs_describe(void *state, const struct rollout_shift_call *call, char **ret_target_json,
			struct rollout_error *err)
{
	json_t *st = state_load(call, err), *sets, *o, *info;
	unsigned p = call->percent > 100 ? 100 : call->percent;

	(void)state;
	if (!st)
		return -EINVAL;
	info = json_object_get(st, "info");
	sets = json_array();
	for (int k = 0; k < 2; k++) {
		bool repl = k == 1;
		const json_t *in = json_object_get(info, repl ? "repl" : "orig");
		int idx = repl ? repl_idx(st) : orig_idx(st);
		json_t *ts;
		if (!json_is_object(in) || (!repl && first_deployment(st)))
			continue;
		ts = json_deep_copy(in);
		json_object_set_new(ts, "trafficWeight",
				    json_real(first_deployment(st) ? 100.0
					      : repl		   ? (double)p
								   : (double)(100 - p)));
		json_object_set_new(
		    ts, "targetGroup",
		    json_pack("{s:s}", "name",
			      json_string_value(json_array_get(json_object_get(st, "tg"), (size_t)idx))
				  ? json_string_value(json_array_get(json_object_get(st, "tg"), (size_t)idx))
				  : ""));
		json_object_set_new(ts, "taskSetLabel", json_string(repl ? "Green" : "Blue"));
		json_array_append_new(sets, ts);
	}
	o = json_pack("{s:s, s:o}", "targetArn", sget(st, "serviceArn"), "taskSetsInfo", sets);
	*ret_target_json = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
	json_decref(o);
	json_decref(st);
	return *ret_target_json ? 0 : -ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* init / destroy and the descriptor                                          */
/* ------------------------------------------------------------------------ */

static int ecs_init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
		    size_t errlen)
{
	struct ecs *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->host = host;
	s->h = h;
	if ((r = ROLLOUT_HOST_NEED(host, xml_aws_error, err, errlen)) < 0 ||
	    (r = rollout_config_parse(host, h, ecs_options, s, err, errlen)) < 0 ||
	    (r = host->config_string(h, "region", NULL, &s->region, err, errlen)) < 0 ||
	    (r = awsj_endpoint_option(host, h, "ecs", "endpoint", s->buf_ecs, sizeof(s->buf_ecs), &s->svc_ecs.endpoint,
				      err, errlen)) < 0 ||
	    (r = awsj_endpoint_option(host, h, "ecs", "elbv2_endpoint", s->buf_elb, sizeof(s->buf_elb),
				      &s->svc_elb.endpoint, err, errlen)) < 0 ||
	    (r = awsj_endpoint_option(host, h, "ecs", "lambda_endpoint", s->buf_lambda, sizeof(s->buf_lambda),
				      &s->svc_lambda.endpoint, err, errlen)) < 0)
		goto fail;
	if (s->region && !*s->region)
		s->region = NULL;
	s->q = (struct awsj){
	    .host = host, .h = h, .region = s->region, .timeout_ms = s->timeout_ms, .max_attempts = s->max_attempts};
	s->qq = (struct awsq){
	    .host = host, .h = h, .region = s->region, .timeout_ms = s->timeout_ms, .max_attempts = s->max_attempts};
	s->svc_ecs.sigv4 = "ecs";
	s->svc_ecs.target = "AmazonEC2ContainerServiceV20141113.";
	s->svc_lambda.sigv4 = "lambda";
	s->svc_elb.sigv4 = "elasticloadbalancing";
	s->svc_elb.version = "2015-12-01";
	if (strcmp(s->hook_invocation, "RequestResponse") && strcmp(s->hook_invocation, "Event")) {
		snprintf(err, errlen, "plugins.ecs.hook_invocation: '%s' is not RequestResponse or Event",
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

static void ecs_destroy(void *state)
{
	free(state);
}

static const struct rollout_platform_ops ecs_ops =
    ROLLOUT_PLATFORM_OPS_INIT(.compute_platforms = ROLLOUT_COMPUTE_ECS, .resolve = ecs_resolve,
			      .shift_prepare = ecs_prepare, .shift_install = ecs_install,
			      .shift_test_route = ecs_test_route, .shift_weight = ecs_weight,
			      .shift_wait_ready = ecs_wait_ready, .shift_commit = ecs_commit,
			      .shift_remove_original = ecs_remove_original, .shift_route_back = ecs_route_back,
			      .shift_invoke_hook = ecs_invoke_hook, .shift_describe = ecs_describe);

static const struct rollout_plugin ecs_plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_PLATFORM, .name = "ecs", .version = "1.0.0",
			.description = "Amazon ECS blue/green: replacement task sets, listener weights (ECS, ELBv2, "
				       "Lambda hooks; SigV4)",
			.init = ecs_init, .destroy = ecs_destroy, .ops.platform = &ecs_ops);

ROLLOUT_PLUGIN_EXPORT(ecs_plugin)
