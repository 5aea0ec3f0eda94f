/* Traffic control for server deployments: see traffic.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/metrics.h"
#include "core/plugins.h"
#include "jsonutil.h"
#include "traffic/traffic.h"

#define ERR_INIT                                                                                                       \
	{                                                                                                              \
		.size = sizeof(struct rollout_error)                                                                   \
	}

/* ------------------------------------------------------------------------ */
/* Group settings                                                             */
/* ------------------------------------------------------------------------ */

struct traffic_group *traffic_group_free(struct traffic_group *g)
{
	if (!g)
		return NULL;
	for (size_t i = 0; i < g->nbackends; i++)
		free(g->backends[i]);
	free(g);
	return NULL;
}

static int add_backend(struct traffic_group *g, const char *name, struct rollout_error *err)
{
	if (!name || !*name)
		return rollout_error_set(err, -EINVAL, "MISSING_ELB_INFORMATION",
					 "loadBalancerInfo lists a target group without a name; give every entry a "
					 "name (the HAProxy backend)");
	for (size_t i = 0; i < g->nbackends; i++)
		if (strcmp(g->backends[i], name) == 0)
			return 0;
	if (g->nbackends >= TRAFFIC_MAX_BACKENDS)
		return rollout_error_set(err, -E2BIG, "ELASTIC_LOAD_BALANCING_INVALID",
					 "loadBalancerInfo lists more than %d target groups; use at most %d",
					 TRAFFIC_MAX_BACKENDS, TRAFFIC_MAX_BACKENDS);
	if (!(g->backends[g->nbackends] = strdup(name)))
		return -ENOMEM;
	g->nbackends++;
	return 0;
}

static int64_t minutes_ms(const json_t *o, const char *k, int64_t def)
{
	const json_t *v = json_object_get(o, k);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return def;
	return json_integer_value(v) * traffic_minute_ms();
}

int traffic_group_parse_lb(const struct traffic_lb *lb, const char *group_json, struct traffic_group **ret,
			   struct rollout_error *err)
{
	struct traffic_group *g = NULL;
	json_t *doc = NULL, *lbi, *style, *bg, *v;
	const char *s;
	size_t i, j;
	int r;

	doc = json_loads(group_json ? group_json : "{}", 0, NULL);
	if (!json_is_object(doc)) {
		r = rollout_error_set(err, -EINVAL, "INTERNAL_ERROR", "deployment group is not a JSON object");
		goto out;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		r = -ENOMEM;
		goto out;
	}
	style = json_object_get(doc, "deploymentStyle");
	g->traffic_control = (s = rd_json_str(style, "deploymentOption")) && strcmp(s, "WITH_TRAFFIC_CONTROL") == 0;
	g->blue_green = (s = rd_json_str(style, "deploymentType")) && strcmp(s, "BLUE_GREEN") == 0;

	lbi = json_object_get(doc, "loadBalancerInfo");
	json_array_foreach(json_object_get(lbi, "targetGroupInfoList"), i,
			   v) if ((r = add_backend(g, rd_json_str(v, "name"), err)) < 0) goto out;
	json_array_foreach(json_object_get(lbi, "elbInfoList"), i,
			   v) if ((r = add_backend(g, rd_json_str(v, "name"), err)) < 0) goto out;
	json_array_foreach(json_object_get(lbi, "targetGroupPairInfoList"), i, v)
	{
		json_t *tg;
		json_array_foreach(json_object_get(v, "targetGroups"), j,
				   tg) if ((r = add_backend(g, rd_json_str(tg, "name"), err)) < 0) goto out;
	}

	bg = json_object_get(doc, "blueGreenDeploymentConfiguration");
	v = json_object_get(bg, "deploymentReadyOption");
	g->ready_action = (s = rd_json_str(v, "actionOnTimeout")) && strcmp(s, "STOP_DEPLOYMENT") == 0
			      ? TRAFFIC_READY_STOP
			      : TRAFFIC_READY_CONTINUE;
	g->ready_wait_ms = minutes_ms(v, "waitTimeInMinutes", 0);
	v = json_object_get(bg, "terminateBlueInstancesOnDeploymentSuccess");
	g->terminate_action = (s = rd_json_str(v, "action")) && strcmp(s, "KEEP_ALIVE") == 0 ? TRAFFIC_BLUE_KEEP_ALIVE
											     : TRAFFIC_BLUE_TERMINATE;
	/* CodeDeploy's default termination wait is 5 minutes... for EC2; AWS
	 * documents 0..2880 with a default of 5. */
	g->terminate_wait_ms = minutes_ms(v, "terminationWaitTimeInMinutes", 5 * traffic_minute_ms());

	if ((g->traffic_control || g->blue_green) && g->nbackends == 0) {
		r = rollout_error_set(err, -EINVAL, "MISSING_ELB_INFORMATION",
				      "the deployment group uses %s but loadBalancerInfo names no target group; add "
				      "loadBalancerInfo {targetGroupInfoList: [{name: BACKEND}]}",
				      g->blue_green ? "BLUE_GREEN" : "WITH_TRAFFIC_CONTROL");
		goto out;
	}
	if (g->traffic_control || g->blue_green) {
		if (!lb || !lb->ops) {
			r = rollout_error_set(err, -ENOENT, "ELASTIC_LOAD_BALANCING_INVALID",
					      "the deployment group uses traffic control but no traffic plugin is "
					      "loaded; add one (e.g. haproxy: {socket: ...}) under plugins: in the "
					      "rolloutd config");
			goto out;
		}
		g->lb = *lb;
	}
	*ret = g;
	g = NULL;
	r = 0;
out:
	traffic_group_free(g);
	json_decref(doc);
	return r;
}

int traffic_group_parse(const struct plugin_registry *reg, const char *group_json, struct traffic_group **ret,
			struct rollout_error *err)
{
	const struct plugin *p = reg ? plugins_nth_of_kind(reg, ROLLOUT_KIND_TRAFFIC, 0) : NULL;
	struct traffic_lb lb = {0};

	if (p) {
		lb.name = p->name;
		lb.ops = p->desc->ops.traffic;
		lb.state = p->state;
	}
	return traffic_group_parse_lb(p ? &lb : NULL, group_json, ret, err);
}

int64_t traffic_minute_ms(void)
{
	const char *s = getenv("ROLLOUTD_TRAFFIC_MINUTE_MS");
	long long v;
	char *end;

	if (s && *s) {
		v = strtoll(s, &end, 10);
		if (!*end && v > 0 && v <= 60000)
			return v;
	}
	return 60000;
}

int64_t traffic_drain_timeout_ms(void)
{
	const char *s = getenv("ROLLOUTD_TRAFFIC_DRAIN_TIMEOUT_MS");
	long long v;
	char *end;

	if (s && *s) {
		v = strtoll(s, &end, 10);
		if (!*end && v > 0 && v <= 3600 * 1000)
			return v;
	}
	return TRAFFIC_DRAIN_TIMEOUT_MS;
}

/* ------------------------------------------------------------------------ */
/* Plugin calls                                                               */
/* ------------------------------------------------------------------------ */

static bool has_op(const struct traffic_lb *lb, size_t off)
{
	return lb->ops && lb->ops->size >= off + sizeof(void *) && *(void *const *)((const char *)lb->ops + off);
}
#define HAS_OP(lb, m) has_op(lb, offsetof(struct rollout_traffic_ops, m))

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	if (ms > 0)
		nanosleep(&ts, NULL);
}

static int check_ready(const struct traffic_group *g, struct rollout_error *err)
{
	if (!g || !g->lb.ops)
		return rollout_error_set(err, -ENOENT, "ELASTIC_LOAD_BALANCING_INVALID",
					 "no traffic plugin for this deployment group; load one under plugins: in "
					 "the rolloutd config");
	if (g->nbackends == 0)
		return rollout_error_set(err, -EINVAL, "MISSING_ELB_INFORMATION",
					 "loadBalancerInfo names no target group");
	return 0;
}

/* The traffic plugin's calls, each timed and counted on /metrics. */
static int lb_block(const struct traffic_group *g, const char *be, const char *instance, struct rollout_error *err)
{
	int64_t t0 = now_ms();
	int r = g->lb.ops->block(g->lb.state, be, instance, err);
	metric_plugin_op(g->lb.name, "block", t0, r);
	return r;
}

static int lb_allow(const struct traffic_group *g, const char *be, const char *instance, struct rollout_error *err)
{
	int64_t t0 = now_ms();
	int r = g->lb.ops->allow(g->lb.state, be, instance, err);
	metric_plugin_op(g->lb.name, "allow", t0, r);
	return r;
}

int traffic_lb_get_state(const struct traffic_group *g, const char *be, const char *instance,
			 enum rollout_traffic_state *ret, struct rollout_error *err)
{
	int64_t t0 = now_ms();
	int r = g->lb.ops->get_state(g->lb.state, be, instance, ret, err);
	metric_plugin_op(g->lb.name, "get_state", t0, r);
	return r;
}

/* Fills an empty plugin error so that callers always have a message. */
static int plugin_fail(const struct traffic_group *g, int r, const char *what, const char *backend,
		       const char *instance, struct rollout_error *err)
{
	if (err && !err->message[0])
		rollout_error_set(err, r, "ELASTIC_LOAD_BALANCING_INVALID", "%s: %s of %s in %s failed: %s",
				  g->lb.name ? g->lb.name : "traffic plugin", what, instance, backend,
				  strerror(r < 0 ? -r : EIO));
	if (err && !err->code[0])
		snprintf(err->code, sizeof(err->code), "ELASTIC_LOAD_BALANCING_INVALID");
	return r < 0 ? r : -EIO;
}

static int wait_drained_one(const struct traffic_group *g, const char *be, const char *instance, int64_t timeout_ms,
			    struct rollout_error *err)
{
	const struct rollout_traffic_ops *o = g->lb.ops;
	int64_t deadline = now_ms() + timeout_ms;
	enum rollout_traffic_state st;
	int r;

	if (HAS_OP(&g->lb, wait_drained)) {
		int64_t t0 = now_ms();
		r = o->wait_drained(g->lb.state, be, instance, timeout_ms, err);
		metric_plugin_op(g->lb.name, "wait_drained", t0, r);
		return r < 0 ? plugin_fail(g, r, "draining", be, instance, err) : 0;
	}
	for (;;) {
		r = traffic_lb_get_state(g, be, instance, &st, err);
		if (r < 0)
			return plugin_fail(g, r, "reading the state", be, instance, err);
		if (st == ROLLOUT_TRAFFIC_BLOCKED)
			return 0;
		if (st == ROLLOUT_TRAFFIC_ABSENT)
			return rollout_error_set(err, -ENOENT, "ELB_INVALID_INSTANCE",
						 "%s is not in %s; add it to the load balancer's pool", instance, be);
		if (st == ROLLOUT_TRAFFIC_ALLOWED)
			return rollout_error_set(err, -EINVAL, "ELASTIC_LOAD_BALANCING_INVALID",
						 "%s is in service in %s again while it should drain; block it again",
						 instance, be);
		if (now_ms() >= deadline)
			return rollout_error_set(err, -ETIMEDOUT, "ELASTIC_LOAD_BALANCING_INVALID",
						 "%s did not drain from %s within %lld ms; raise the drain timeout",
						 instance, be, (long long)timeout_ms);
		sleep_ms(100);
	}
}

int traffic_block(const struct traffic_group *g, const char *instance, int64_t drain_timeout_ms,
		  struct rollout_error *err)
{
	int r;

	if ((r = check_ready(g, err)) < 0)
		return r;
	if (drain_timeout_ms <= 0)
		drain_timeout_ms = TRAFFIC_DRAIN_TIMEOUT_MS;
	/* block everywhere first, so no backend keeps feeding the instance
	 * while another drains */
	for (size_t i = 0; i < g->nbackends; i++) {
		r = lb_block(g, g->backends[i], instance, err);
		if (r < 0)
			return plugin_fail(g, r, "blocking", g->backends[i], instance, err);
	}
	for (size_t i = 0; i < g->nbackends; i++)
		if ((r = wait_drained_one(g, g->backends[i], instance, drain_timeout_ms, err)) < 0)
			return r;
	return 0;
}

static int set_weight(const struct traffic_group *g, const char *be, const char *instance, unsigned w,
		      struct rollout_error *err)
{
	int r;

	if (!HAS_OP(&g->lb, set_weight))
		return rollout_error_set(err, -ENOTSUP, "ELASTIC_LOAD_BALANCING_INVALID",
					 "traffic plugin %s cannot set weights; weighted (canary/linear) deployments "
					 "need a plugin with set_weight such as haproxy",
					 g->lb.name ? g->lb.name : "?");
	int64_t t0 = now_ms();
	r = g->lb.ops->set_weight(g->lb.state, be, instance, w, err);
	metric_plugin_op(g->lb.name, "set_weight", t0, r);
	return r < 0 ? plugin_fail(g, r, "setting the weight", be, instance, err) : 0;
}

int traffic_allow(const struct traffic_group *g, const char *instance, struct rollout_error *err)
{
	int r;

	if ((r = check_ready(g, err)) < 0)
		return r;
	for (size_t i = 0; i < g->nbackends; i++) {
		r = lb_allow(g, g->backends[i], instance, err);
		if (r < 0)
			return plugin_fail(g, r, "allowing", g->backends[i], instance, err);
	}
	return 0;
}

void traffic_weights(size_t nblue, size_t ngreen, unsigned percent, unsigned *ret_blue, unsigned *ret_green)
{
	unsigned long long gsh, bsh, big;

	if (percent > 100)
		percent = 100;
	if (ngreen == 0 || percent == 0) {
		*ret_blue = TRAFFIC_FULL_WEIGHT;
		*ret_green = 0;
		return;
	}
	if (nblue == 0 || percent == 100) {
		*ret_blue = 0;
		*ret_green = TRAFFIC_FULL_WEIGHT;
		return;
	}
	/* green share p / (100 - p) spread over ng resp. nb servers */
	gsh = (unsigned long long)percent * nblue;
	bsh = (unsigned long long)(100 - percent) * ngreen;
	big = gsh > bsh ? gsh : bsh;
	*ret_green = (unsigned)((gsh * TRAFFIC_FULL_WEIGHT + big / 2) / big);
	*ret_blue = (unsigned)((bsh * TRAFFIC_FULL_WEIGHT + big / 2) / big);
	if (*ret_green == 0)
		*ret_green = 1;
	if (*ret_blue == 0)
		*ret_blue = 1;
}

int traffic_shift(const struct traffic_group *g, const char *const *blue, size_t nblue, const char *const *green,
		  size_t ngreen, unsigned percent, struct rollout_error *err)
{
	unsigned wb, wg;
	int r;

	if ((r = check_ready(g, err)) < 0)
		return r;
	traffic_weights(nblue, ngreen, percent, &wb, &wg);
	/* raise first, lower second: the pool never has less capacity than
	 * either end of the step */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t b = 0; b < g->nbackends; b++) {
			bool green_first = wg >= wb;
			const char *const *v = (pass == 0) == green_first ? green : blue;
			size_t n = (pass == 0) == green_first ? ngreen : nblue;
			unsigned w = (pass == 0) == green_first ? wg : wb;
			for (size_t i = 0; i < n; i++)
				if ((r = set_weight(g, g->backends[b], v[i], w, err)) < 0)
					return r;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Blue/green                                                                 */
/* ------------------------------------------------------------------------ */

static int block_all(const struct traffic_group *g, const char *const *v, size_t n, int64_t drain_ms,
		     struct rollout_error *err)
{
	int r;

	if ((r = check_ready(g, err)) < 0)
		return r;
	if (drain_ms <= 0)
		drain_ms = TRAFFIC_DRAIN_TIMEOUT_MS;
	/* all blocked first, then drained together: the wait is the longest
	 * drain, not their sum */
	for (size_t b = 0; b < g->nbackends; b++)
		for (size_t i = 0; i < n; i++)
			if ((r = lb_block(g, g->backends[b], v[i], err)) < 0)
				return plugin_fail(g, r, "blocking", g->backends[b], v[i], err);
	for (size_t b = 0; b < g->nbackends; b++)
		for (size_t i = 0; i < n; i++)
			if ((r = wait_drained_one(g, g->backends[b], v[i], drain_ms, err)) < 0)
				return r;
	return 0;
}

static int allow_all(const struct traffic_group *g, const char *const *v, size_t n, struct rollout_error *err)
{
	int r;

	/* a fleet member may carry weight 0 from an earlier weighted shift:
	 * fleets swap roles with full, equal weights */
	for (size_t b = 0; b < g->nbackends && HAS_OP(&g->lb, set_weight); b++)
		for (size_t i = 0; i < n; i++)
			if ((r = set_weight(g, g->backends[b], v[i], TRAFFIC_FULL_WEIGHT, err)) < 0)
				return r;
	for (size_t i = 0; i < n; i++)
		if ((r = traffic_allow(g, v[i], err)) < 0)
			return r;
	return 0;
}

int traffic_bg_prepare(const struct traffic_group *g, const char *const *green, size_t ngreen, int64_t drain_ms,
		       struct rollout_error *err)
{
	return block_all(g, green, ngreen, drain_ms, err);
}

int traffic_bg_reroute(const struct traffic_group *g, const char *const *blue, size_t nblue, const char *const *green,
		       size_t ngreen, int64_t drain_ms, struct rollout_error *err)
{
	int r;

	if ((r = check_ready(g, err)) < 0)
		return r;
	if (ngreen == 0)
		return rollout_error_set(err, -EINVAL, "NO_INSTANCES",
					 "the replacement (green) fleet is empty; nothing to reroute traffic to");
	/* green in service before blue leaves: no moment without servers */
	if ((r = allow_all(g, green, ngreen, err)) < 0)
		return r;
	return block_all(g, blue, nblue, drain_ms, err);
}

int traffic_bg_flip_back(const struct traffic_group *g, const char *const *blue, size_t nblue, const char *const *green,
			 size_t ngreen, int64_t drain_ms, struct rollout_error *err)
{
	int r;

	if ((r = check_ready(g, err)) < 0)
		return r;
	if ((r = allow_all(g, blue, nblue, err)) < 0)
		return r;
	return block_all(g, green, ngreen, drain_ms, err);
}

int traffic_bg_retire(const struct traffic_group *g, const char *const *blue, size_t nblue, struct rollout_error *err)
{
	/* blocked and drained already; block again is a no-op for HAProxy
	 * (drain -> maint happened in wait_drained) */
	return block_all(g, blue, nblue, 1000, err);
}

int traffic_green_selector(const char *deployment_json, const char *group_json, char **ret_json,
			   struct rollout_error *err)
{
	json_t *dep = json_loads(deployment_json ? deployment_json : "{}", 0, NULL);
	json_t *grp = json_loads(group_json ? group_json : "{}", 0, NULL);
	json_t *ti = json_object_get(dep, "targetInstances"), *gf, *sel = NULL, *out = NULL, *v;
	int r;

	gf = json_object_get(json_object_get(grp, "blueGreenDeploymentConfiguration"), "greenFleetProvisioningOption");
	sel = json_object();
	if (!sel) {
		r = -ENOMEM;
		goto out;
	}
	if (json_array_size(json_object_get(ti, "tagFilters")) ||
	    json_array_size(json_object_get(json_object_get(ti, "ec2TagSet"), "ec2TagSetList")) ||
	    json_array_size(json_object_get(ti, "autoScalingGroups"))) {
		if ((v = json_object_get(ti, "tagFilters")) && json_array_size(v))
			json_object_set(sel, "tagFilters", v);
		if ((v = json_object_get(ti, "ec2TagSet")))
			json_object_set(sel, "ec2TagSet", v);
		/* EC2: the replacement instances of Auto Scaling groups
		 * (DISCOVER_EXISTING, or the group a platform copied) */
		if ((v = json_object_get(ti, "autoScalingGroups")) && json_array_size(v))
			json_object_set(sel, "autoScalingGroups", v);
	} else if (json_array_size(json_object_get(gf, "onPremisesInstanceTagFilters")) ||
		   json_array_size(json_object_get(json_object_get(gf, "onPremisesTagSet"), "onPremisesTagSetList"))) {
		/* same shapes: TagFilter == EC2TagFilter, and the tag set's list
		 * is renamed */
		if ((v = json_object_get(gf, "onPremisesInstanceTagFilters")) && json_array_size(v))
			json_object_set(sel, "tagFilters", v);
		if ((v = json_object_get(json_object_get(gf, "onPremisesTagSet"), "onPremisesTagSetList")))
			json_object_set_new(sel, "ec2TagSet", json_pack("{s:O}", "ec2TagSetList", v));
	} else {
		r = rollout_error_set(err, -ENOENT, "MISSING_BLUE_GREEN_DEPLOYMENT_CONFIGURATION",
				      "no replacement (green) fleet is named: give targetInstances {tagFilters: "
				      "[{Key, Value, Type}]} in CreateDeployment, or blueGreenDeploymentConfiguration."
				      "greenFleetProvisioningOption.onPremisesInstanceTagFilters in the group");
		goto out;
	}
	out = json_pack("{s:O}", "targetInstances", sel);
	if (!out || !(*ret_json = json_dumps(out, JSON_COMPACT))) {
		r = -ENOMEM;
		goto out;
	}
	r = 0;
out:
	json_decref(out);
	json_decref(sel);
	json_decref(dep);
	json_decref(grp);
	return r;
}

int traffic_split_fleets(const struct traffic_group *g, const char *const *names, size_t n, size_t *ret_blue,
			 size_t *ret_nblue, size_t *ret_green, size_t *ret_ngreen, struct rollout_error *err)
{
	size_t nb = 0, ng = 0;
	int r;

	if ((r = check_ready(g, err)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		bool serving = false;
		for (size_t b = 0; b < g->nbackends && !serving; b++) {
			enum rollout_traffic_state st;
			if ((r = traffic_lb_get_state(g, g->backends[b], names[i], &st, err)) < 0)
				return plugin_fail(g, r, "reading the state", g->backends[b], names[i], err);
			serving = st == ROLLOUT_TRAFFIC_ALLOWED || st == ROLLOUT_TRAFFIC_DRAINING;
		}
		if (serving)
			ret_blue[nb++] = i;
		else
			ret_green[ng++] = i;
	}
	if (nb == 0 || ng == 0)
		return rollout_error_set(err, -ENOENT, "NO_INSTANCES",
					 "cannot tell the fleets apart by traffic: %zu of %zu instances serve traffic; "
					 "take the idle (green) fleet out of the load balancer, or name it with "
					 "targetInstances tag filters",
					 nb, n);
	*ret_nblue = nb;
	*ret_ngreen = ng;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Weighted routing                                                           */
/* ------------------------------------------------------------------------ */

int traffic_routing_parse(const char *config_json, struct traffic_routing *ret, bool *ret_present,
			  struct rollout_error *err)
{
	json_t *doc = json_loads(config_json ? config_json : "{}", 0, NULL), *trc, *sub;
	struct traffic_routing rt = {.type = TRAFFIC_ALL_AT_ONCE};
	const char *type, *pk, *ik;
	int r;

	trc = json_object_get(doc, "trafficRoutingConfig");
	if (!trc && json_object_get(doc, "type"))
		trc = doc; /* a bare TrafficRoutingConfig */
	if (!json_is_object(trc)) {
		*ret = rt;
		if (ret_present)
			*ret_present = false;
		r = 0;
		goto out;
	}
	type = rd_json_str(trc, "type");
	if (!type || strcmp(type, "AllAtOnce") == 0) {
		r = 0;
		goto done;
	}
	if (strcmp(type, "TimeBasedCanary") == 0) {
		rt.type = TRAFFIC_CANARY;
		sub = json_object_get(trc, "timeBasedCanary");
		pk = "canaryPercentage";
		ik = "canaryInterval";
	} else if (strcmp(type, "TimeBasedLinear") == 0) {
		rt.type = TRAFFIC_LINEAR;
		sub = json_object_get(trc, "timeBasedLinear");
		pk = "linearPercentage";
		ik = "linearInterval";
	} else {
		r = rollout_error_set(err, -EINVAL, "INVALID_TRAFFIC_ROUTING",
				      "trafficRoutingConfig.type '%s' is unknown; use TimeBasedCanary, "
				      "TimeBasedLinear or AllAtOnce",
				      type);
		goto out;
	}
	{
		char isk[64];
		json_t *p = json_object_get(sub, pk), *i = json_object_get(sub, ik), *is;
		snprintf(isk, sizeof(isk), "%sInSeconds", ik);
		is = json_object_get(sub, isk);
		if (!json_is_integer(p) || json_integer_value(p) < 1 || json_integer_value(p) > 99) {
			r = rollout_error_set(err, -EINVAL, "INVALID_TRAFFIC_ROUTING",
					      "%s must be a whole percentage between 1 and 99", pk);
			goto out;
		}
		if (is) {
			/* rolloutd's extension: the interval in seconds */
			if (!json_is_integer(is) || json_integer_value(is) < 1 || json_integer_value(is) > 2880 * 60) {
				r = rollout_error_set(err, -EINVAL, "INVALID_TRAFFIC_ROUTING",
						      "%s must be a number of seconds between 1 and 172800", isk);
				goto out;
			}
			rt.interval_s = (unsigned)json_integer_value(is);
			rt.in_seconds = true;
		} else {
			if (!json_is_integer(i) || json_integer_value(i) < 0 || json_integer_value(i) > 2880) {
				r = rollout_error_set(err, -EINVAL, "INVALID_TRAFFIC_ROUTING",
						      "%s must be a number of minutes between 0 and 2880", ik);
				goto out;
			}
			rt.interval = (unsigned)json_integer_value(i);
			rt.interval_s = rt.interval * 60;
		}
		rt.percent = (unsigned)json_integer_value(p);
	}
	r = 0;
done:
	*ret = rt;
	if (ret_present)
		*ret_present = true;
out:
	json_decref(doc);
	return r;
}

size_t traffic_routing_steps(const struct traffic_routing *rt, struct traffic_step *out, size_t max)
{
	size_t n = 0;

	if (max == 0)
		return 0;
	switch (rt->type) {
	case TRAFFIC_CANARY:
		if (max < 2)
			break;
		out[n++] = (struct traffic_step){rt->percent, rt->interval, rt->interval_s};
		break;
	case TRAFFIC_LINEAR:
		for (unsigned p = rt->percent; p < 100 && n + 1 < max; p += rt->percent)
			out[n++] = (struct traffic_step){p, rt->interval, rt->interval_s};
		break;
	default:
		break;
	}
	out[n++] = (struct traffic_step){100, 0, 0};
	return n;
}

/* Waits ms, calling check every poll_ms. 1 when check asked to stop. */
static int wait_checking(const struct traffic_shift_opts *o, int64_t ms, char *reason, size_t rlen)
{
	int64_t end = now_ms() + ms, poll = o->poll_ms > 0 ? o->poll_ms : 10000;
	int r;

	for (;;) {
		if (o->check && (r = o->check(o->userdata, reason, rlen)) != 0)
			return r;
		int64_t left = end - now_ms();
		if (left <= 0)
			return 0;
		sleep_ms(left < poll ? left : poll);
	}
}

int traffic_shift_run(const struct traffic_group *g, const char *const *blue, size_t nblue, const char *const *green,
		      size_t ngreen, const struct traffic_routing *rt, const struct traffic_shift_opts *opts,
		      struct rollout_error *err)
{
	struct traffic_shift_opts o = opts ? *opts : (struct traffic_shift_opts){0};
	struct traffic_step steps[TRAFFIC_MAX_STEPS];
	size_t n = traffic_routing_steps(rt, steps, TRAFFIC_MAX_STEPS);
	char reason[512] = "";
	int r, c;

	if (o.minute_ms <= 0)
		o.minute_ms = traffic_minute_ms();
	if (o.drain_timeout_ms <= 0)
		o.drain_timeout_ms = TRAFFIC_DRAIN_TIMEOUT_MS;
	if ((r = check_ready(g, err)) < 0)
		return r;
	if (ngreen == 0)
		return rollout_error_set(err, -EINVAL, "NO_INSTANCES",
					 "the replacement (green) fleet is empty; nothing to shift traffic to");
	if (!HAS_OP(&g->lb, set_weight))
		return set_weight(g, g->backends[0], green[0], 0, err);
	/* green joins the pool at weight 0 */
	for (size_t b = 0; b < g->nbackends; b++)
		for (size_t i = 0; i < ngreen; i++) {
			if ((r = set_weight(g, g->backends[b], green[i], 0, err)) < 0)
				goto flip;
			if ((r = lb_allow(g, g->backends[b], green[i], err)) < 0) {
				r = plugin_fail(g, r, "allowing", g->backends[b], green[i], err);
				goto flip;
			}
		}
	for (size_t s = 0; s < n; s++) {
		if ((r = traffic_shift(g, blue, nblue, green, ngreen, steps[s].percent, err)) < 0)
			goto flip;
		if (o.progress)
			o.progress(o.userdata, steps[s].percent);
		c = wait_checking(
		    &o, rt->in_seconds ? (int64_t)steps[s].wait_s * 1000 : (int64_t)steps[s].wait_min * o.minute_ms,
		    reason, sizeof(reason));
		if (c > 0)
			goto alarm;
		if (c < 0) {
			r = rollout_error_set(err, c, "ALARM_ACTIVE",
					      "checking the alarms failed: %s; set ignorePollAlarmFailure to go on "
					      "regardless",
					      reason[0] ? reason : strerror(-c));
			goto flip;
		}
	}
	/* all traffic on green: blue leaves the pool */
	if ((r = block_all(g, blue, nblue, o.drain_timeout_ms, err)) < 0)
		return r;
	return 0;
alarm:
	rollout_error_set(err, -ECANCELED, "ALARM_ACTIVE", "traffic shift stopped and flipped back to blue: %s",
			  reason[0] ? reason : "an alarm is in ALARM state");
	r = -ECANCELED;
flip : {
	struct rollout_error e2 = ERR_INIT;
	unsigned wb, wg;
	traffic_weights(nblue, ngreen, 0, &wb, &wg);
	/* blue back to full weight and in service, green out */
	for (size_t b = 0; b < g->nbackends; b++)
		for (size_t i = 0; i < nblue; i++) {
			set_weight(g, g->backends[b], blue[i], wb, &e2);
			lb_allow(g, g->backends[b], blue[i], &e2);
		}
	if (o.progress)
		o.progress(o.userdata, 0);
	if (block_all(g, green, ngreen, o.drain_timeout_ms, &e2) < 0 && err && err->size >= sizeof(*err)) {
		size_t l = strlen(err->message);
		snprintf(err->message + l, sizeof(err->message) - l, "; flipping back also failed: %s", e2.message);
	}
}
	return r;
}
