/* daemon/traffic/traffic.c against an in-memory traffic plugin that records calls:
 * group parsing, block/allow with draining, weights, blue/green building
 * blocks, routing steps and the weighted shift with alarm flip-back. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/plugins.h"
#include "traffic/traffic.h"

/* traffic_group_parse() looks the plugin up here. */
static const struct plugin *stub_plugin;
const struct plugin *plugins_nth_of_kind(const struct plugin_registry *r, enum rollout_kind kind, size_t i)
{
	return i == 0 && kind == ROLLOUT_KIND_TRAFFIC ? stub_plugin : NULL;
}

/* traffic_bg.c resolves the group with the platform plugins and checks
 * alarms with the health plugins: one stub of each. */
static const char *stub_fleet = "[]";
static int stub_resolve(void *st, const struct rollout_deployment *dep, const char *group_json, char **ret,
			struct rollout_error *err)
{
	/* the group is resolved without the deployment's targetInstances */
	assert_null(strstr(group_json, "targetInstances"));
	*ret = strdup(stub_fleet);
	return 0;
}
static const struct rollout_platform_ops stub_platform_ops = ROLLOUT_PLATFORM_OPS_INIT(.resolve = stub_resolve);
static const struct rollout_plugin stub_platform_desc =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_PLATFORM, .name = "plat", .ops.platform = &stub_platform_ops);
static const struct plugin stub_platform = {.name = "plat", .kind = ROLLOUT_KIND_PLATFORM, .desc = &stub_platform_desc};
const struct plugin *plugins_platform_nth(const struct plugin_registry *r, const char *cp, size_t i)
{
	return i == 0 ? &stub_platform : NULL;
}

static enum rollout_alarm_state stub_alarm_state = ROLLOUT_ALARM_OK;
static int stub_alarm_checks;
static int stub_check(void *st, const struct rollout_deployment *dep, const char *name, const char *settings,
		      struct rollout_alarm_result *res, struct rollout_error *err)
{
	stub_alarm_checks++;
	res->state = stub_alarm_state;
	snprintf(res->reason, sizeof(res->reason), "errors above 5%%");
	return 0;
}
static const struct rollout_health_ops stub_health_ops = ROLLOUT_HEALTH_OPS_INIT(.check = stub_check);
static const struct rollout_plugin stub_health_desc =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_HEALTH, .name = "health", .ops.health = &stub_health_ops);
static const struct plugin stub_health = {.name = "health", .kind = ROLLOUT_KIND_HEALTH, .desc = &stub_health_desc};
/* no alarm_fallback_plugin: an undefined alarm is a failed poll */
const struct plugin *plugins_alarm_fallback(const struct plugin_registry *r)
{
	return NULL;
}
int plugins_alarm(const struct plugin_registry *r, const char *name, const struct plugin **ret_plugin,
		  const char **ret_settings_json)
{
	if (strcmp(name, "errors") != 0)
		return -ENOENT;
	*ret_plugin = &stub_health;
	*ret_settings_json = "{}";
	return 0;
}

/* ---- fake plugin ---------------------------------------------------------- */

#define NS 8
static struct fake {
	struct {
		char be[32], name[32];
		bool blocked;
		int sessions; /* drop by one per get_state */
		unsigned weight;
	} s[NS];
	int ns;
	char log[256][64];
	int nlog;
	int fail_block_on; /* index of server whose block fails, -1 none */
} F;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (F.nlog < 256)
		vsnprintf(F.log[F.nlog++], sizeof(F.log[0]), fmt, ap);
	va_end(ap);
}

static int find(const char *be, const char *t)
{
	for (int i = 0; i < F.ns; i++)
		if (strcmp(F.s[i].be, be) == 0 && strcmp(F.s[i].name, t) == 0)
			return i;
	return -1;
}

static int f_block(void *st, const char *be, const char *t, struct rollout_error *err)
{
	int i = find(be, t);
	if (i < 0)
		return rollout_error_set(err, -ENOENT, "ELB_INVALID_INSTANCE", "no %s in %s", t, be);
	if (i == F.fail_block_on)
		return -EIO; /* no message: traffic.c must write one */
	F.s[i].blocked = true;
	logf_("block %s/%s", be, t);
	return 0;
}

static int f_allow(void *st, const char *be, const char *t, struct rollout_error *err)
{
	int i = find(be, t);
	if (i < 0)
		return rollout_error_set(err, -ENOENT, "ELB_INVALID_INSTANCE", "no %s in %s", t, be);
	F.s[i].blocked = false;
	logf_("allow %s/%s", be, t);
	return 0;
}

static int f_get_state(void *st, const char *be, const char *t, enum rollout_traffic_state *ret,
		       struct rollout_error *err)
{
	int i = find(be, t);
	if (i < 0) {
		*ret = ROLLOUT_TRAFFIC_ABSENT;
		return 0;
	}
	if (!F.s[i].blocked)
		*ret = ROLLOUT_TRAFFIC_ALLOWED;
	else if (F.s[i].sessions > 0) {
		F.s[i].sessions--;
		*ret = ROLLOUT_TRAFFIC_DRAINING;
	} else
		*ret = ROLLOUT_TRAFFIC_BLOCKED;
	return 0;
}

static int f_set_weight(void *st, const char *be, const char *t, uint32_t w, struct rollout_error *err)
{
	int i = find(be, t);
	if (i < 0)
		return rollout_error_set(err, -ENOENT, "ELB_INVALID_INSTANCE", "no %s in %s", t, be);
	F.s[i].weight = w;
	logf_("weight %s/%s %u", be, t, w);
	return 0;
}

/* Without wait_drained: traffic.c polls get_state. */
static const struct rollout_traffic_ops ops_full =
    ROLLOUT_TRAFFIC_OPS_INIT(.block = f_block, .allow = f_allow, .get_state = f_get_state, .set_weight = f_set_weight);
static const struct rollout_traffic_ops ops_noweight =
    ROLLOUT_TRAFFIC_OPS_INIT(.block = f_block, .allow = f_allow, .get_state = f_get_state);

static const struct traffic_lb LB = {.name = "fake", .ops = &ops_full};

static int setup(void **state)
{
	const char *names[] = {"b1", "b2", "g1", "g2"};
	memset(&F, 0, sizeof(F));
	F.fail_block_on = -1;
	for (int i = 0; i < 4; i++) {
		snprintf(F.s[i].be, sizeof(F.s[i].be), "web");
		snprintf(F.s[i].name, sizeof(F.s[i].name), "%s", names[i]);
		F.s[i].weight = 1;
	}
	for (int i = 0; i < 2; i++) {
		snprintf(F.s[4 + i].be, sizeof(F.s[0].be), "api");
		snprintf(F.s[4 + i].name, sizeof(F.s[0].name), "%s", names[i]);
		F.s[4 + i].weight = 1;
	}
	F.ns = 6;
	setenv("ROLLOUTD_TRAFFIC_MINUTE_MS", "50", 1);
	return 0;
}

#define ERR_INIT                                                                                                       \
	{                                                                                                              \
		.size = sizeof(struct rollout_error)                                                                   \
	}

static const char *IN_PLACE = "{\"deploymentStyle\":{\"deploymentType\":\"IN_PLACE\",\"deploymentOption\":"
			      "\"WITH_TRAFFIC_CONTROL\"},\"loadBalancerInfo\":{\"targetGroupInfoList\":"
			      "[{\"name\":\"web\"},{\"name\":\"api\"}]}}";
static const char *BG = "{\"deploymentStyle\":{\"deploymentType\":\"BLUE_GREEN\",\"deploymentOption\":"
			"\"WITH_TRAFFIC_CONTROL\"},\"loadBalancerInfo\":{\"targetGroupInfoList\":[{\"name\":\"web\"}]},"
			"\"blueGreenDeploymentConfiguration\":{\"deploymentReadyOption\":{\"actionOnTimeout\":"
			"\"STOP_DEPLOYMENT\",\"waitTimeInMinutes\":3},\"terminateBlueInstancesOnDeploymentSuccess\":"
			"{\"action\":\"KEEP_ALIVE\",\"terminationWaitTimeInMinutes\":2}}}";

static struct traffic_group *parse(const char *json)
{
	struct traffic_group *g = NULL;
	struct rollout_error err = ERR_INIT;
	if (traffic_group_parse_lb(&LB, json, &g, &err) < 0)
		fail_msg("parse: %s", err.message);
	return g;
}

static void test_parse(void **state)
{
	struct traffic_group *g = parse(IN_PLACE);
	struct rollout_error err = ERR_INIT;

	assert_true(traffic_group_in_place(g));
	assert_false(traffic_group_blue_green(g));
	assert_int_equal(g->nbackends, 2);
	assert_string_equal(g->backends[0], "web");
	assert_string_equal(g->backends[1], "api");
	g = traffic_group_free(g);

	g = parse(BG);
	assert_true(traffic_group_blue_green(g));
	assert_false(traffic_group_in_place(g));
	assert_int_equal(g->ready_action, TRAFFIC_READY_STOP);
	assert_int_equal(g->ready_wait_ms, 3 * 50);
	assert_int_equal(g->terminate_action, TRAFFIC_BLUE_KEEP_ALIVE);
	assert_int_equal(g->terminate_wait_ms, 2 * 50);
	g = traffic_group_free(g);

	/* no traffic control: fine, nothing to do */
	g = parse("{\"deploymentStyle\":{\"deploymentType\":\"IN_PLACE\",\"deploymentOption\":"
		  "\"WITHOUT_TRAFFIC_CONTROL\"}}");
	assert_false(traffic_group_in_place(g));
	assert_false(traffic_group_blue_green(g));
	g = traffic_group_free(g);
	g = parse("{}");
	assert_false(traffic_group_in_place(g));
	g = traffic_group_free(g);

	/* traffic control without a target group */
	assert_int_equal(traffic_group_parse_lb(
			     &LB, "{\"deploymentStyle\":{\"deploymentOption\":\"WITH_TRAFFIC_CONTROL\"}}", &g, &err),
			 -EINVAL);
	assert_string_equal(err.code, "MISSING_ELB_INFORMATION");
	assert_non_null(strstr(err.message, "targetGroupInfoList"));
	/* ... or without a plugin */
	assert_int_equal(traffic_group_parse_lb(NULL, IN_PLACE, &g, &err), -ENOENT);
	assert_non_null(strstr(err.message, "no traffic plugin is loaded"));
	/* through the registry */
	stub_plugin = NULL;
	assert_int_equal(traffic_group_parse(NULL, IN_PLACE, &g, &err), -ENOENT);
	{
		static const struct rollout_plugin desc =
		    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_TRAFFIC, .name = "fake", .ops.traffic = &ops_full);
		static const struct plugin p = {.name = "fake", .kind = ROLLOUT_KIND_TRAFFIC, .desc = &desc};
		stub_plugin = &p;
		assert_int_equal(traffic_group_parse((void *)1, IN_PLACE, &g, &err), 0);
		assert_string_equal(g->lb.name, "fake");
		g = traffic_group_free(g);
		stub_plugin = NULL;
	}
	/* duplicate names count once */
	g = parse("{\"deploymentStyle\":{\"deploymentOption\":\"WITH_TRAFFIC_CONTROL\"},\"loadBalancerInfo\":"
		  "{\"targetGroupInfoList\":[{\"name\":\"web\"}],\"elbInfoList\":[{\"name\":\"web\"}]}}");
	assert_int_equal(g->nbackends, 1);
	g = traffic_group_free(g);
}

static void test_block_allow(void **state)
{
	struct traffic_group *g = parse(IN_PLACE);
	struct rollout_error err = ERR_INIT;

	F.s[0].sessions = 3; /* b1 in web drains over three looks */
	assert_int_equal(traffic_block(g, "b1", 5000, &err), 0);
	assert_true(F.s[0].blocked);
	assert_true(F.s[4].blocked);
	assert_int_equal(F.s[0].sessions, 0);
	/* blocked in every backend before waiting for any */
	assert_string_equal(F.log[0], "block web/b1");
	assert_string_equal(F.log[1], "block api/b1");
	assert_int_equal(traffic_allow(g, "b1", &err), 0);
	assert_false(F.s[0].blocked);
	assert_false(F.s[4].blocked);
	assert_int_equal(F.s[0].weight, 1); /* in-place leaves weights alone */

	/* drain timeout */
	F.s[1].sessions = 1000000;
	assert_int_equal(traffic_block(g, "b2", 250, &err), -ETIMEDOUT);
	assert_non_null(strstr(err.message, "did not drain from web within 250 ms"));

	/* g1 is not in api: the plugin's error comes through */
	memset(&err, 0, sizeof(err));
	err.size = sizeof(err);
	assert_int_equal(traffic_block(g, "g1", 1000, &err), -ENOENT);
	assert_string_equal(err.code, "ELB_INVALID_INSTANCE");
	assert_string_equal(err.message, "no g1 in api");

	/* a plugin failing without a message still gives one */
	memset(&err, 0, sizeof(err));
	err.size = sizeof(err);
	F.fail_block_on = 2;
	assert_int_equal(traffic_block(g, "g1", 1000, &err), -EIO);
	assert_string_equal(err.code, "ELASTIC_LOAD_BALANCING_INVALID");
	assert_non_null(strstr(err.message, "fake: blocking of g1 in web failed"));
	traffic_group_free(g);
}

static void test_weights(void **state)
{
	unsigned b, g;

	traffic_weights(2, 2, 0, &b, &g);
	assert_int_equal(b, 100);
	assert_int_equal(g, 0);
	traffic_weights(2, 2, 100, &b, &g);
	assert_int_equal(b, 0);
	assert_int_equal(g, 100);
	traffic_weights(2, 2, 50, &b, &g);
	assert_int_equal(b, 100);
	assert_int_equal(g, 100);
	/* 10 % over 2 green vs 2 blue: 2g / (2g + 2b) = 0.1 */
	traffic_weights(2, 2, 10, &b, &g);
	assert_int_equal(b, 100);
	assert_int_equal(g, 11);
	/* 1 green server gets 25 % of 4 servers' traffic */
	traffic_weights(3, 1, 25, &b, &g);
	assert_int_equal(b, 100);
	assert_int_equal(g, 100);
	traffic_weights(3, 1, 75, &b, &g);
	assert_int_equal(g, 100);
	assert_int_equal(b, 11);
	/* tiny share never rounds to 0 */
	traffic_weights(100, 1, 1, &b, &g);
	assert_int_equal(b, 99); /* 100 / (100 + 100 * 99) = 1 % */
	assert_int_equal(g, 100);
	traffic_weights(1, 100, 1, &b, &g);
	assert_int_equal(g, 1);
	/* nothing green: all blue */
	traffic_weights(2, 0, 40, &b, &g);
	assert_int_equal(b, 100);
	assert_int_equal(g, 0);
}

static void test_routing(void **state)
{
	struct traffic_routing rt;
	struct traffic_step st[TRAFFIC_MAX_STEPS];
	struct rollout_error err = ERR_INIT;
	bool present;
	size_t n;

	assert_int_equal(traffic_routing_parse("{\"deploymentConfigName\":\"x\"}", &rt, &present, &err), 0);
	assert_false(present);
	assert_int_equal(rt.type, TRAFFIC_ALL_AT_ONCE);
	n = traffic_routing_steps(&rt, st, TRAFFIC_MAX_STEPS);
	assert_int_equal(n, 1);
	assert_int_equal(st[0].percent, 100);

	assert_int_equal(traffic_routing_parse("{\"trafficRoutingConfig\":{\"type\":\"TimeBasedCanary\","
					       "\"timeBasedCanary\":{\"canaryPercentage\":10,\"canaryInterval\":5}}}",
					       &rt, &present, &err),
			 0);
	assert_true(present);
	n = traffic_routing_steps(&rt, st, TRAFFIC_MAX_STEPS);
	assert_int_equal(n, 2);
	assert_int_equal(st[0].percent, 10);
	assert_int_equal(st[0].wait_min, 5);
	assert_int_equal(st[1].percent, 100);
	assert_int_equal(st[1].wait_min, 0);

	assert_int_equal(traffic_routing_parse("{\"type\":\"TimeBasedLinear\","
					       "\"timeBasedLinear\":{\"linearPercentage\":30,\"linearInterval\":1}}",
					       &rt, &present, &err),
			 0);
	n = traffic_routing_steps(&rt, st, TRAFFIC_MAX_STEPS);
	assert_int_equal(n, 4);
	assert_int_equal(st[0].percent, 30);
	assert_int_equal(st[1].percent, 60);
	assert_int_equal(st[2].percent, 90);
	assert_int_equal(st[3].percent, 100);
	/* 1 % linear: 99 steps + 100 */
	rt.percent = 1;
	assert_int_equal(traffic_routing_steps(&rt, st, TRAFFIC_MAX_STEPS), 100);

	assert_int_equal(traffic_routing_parse("{\"type\":\"TimeBasedCanary\",\"timeBasedCanary\":"
					       "{\"canaryPercentage\":0,\"canaryInterval\":5}}",
					       &rt, &present, &err),
			 -EINVAL);
	assert_string_equal(err.code, "INVALID_TRAFFIC_ROUTING");
	assert_non_null(strstr(err.message, "canaryPercentage must be a whole percentage between 1 and 99"));
	assert_int_equal(traffic_routing_parse("{\"type\":\"Sometimes\"}", &rt, &present, &err), -EINVAL);
	assert_non_null(strstr(err.message, "'Sometimes' is unknown"));
}

static const char *BLUE[] = {"b1", "b2"};
static const char *GREEN[] = {"g1", "g2"};

static void test_blue_green(void **state)
{
	struct traffic_group *g = parse(BG);
	struct rollout_error err = ERR_INIT;

	assert_int_equal(traffic_bg_prepare(g, GREEN, 2, 1000, &err), 0);
	assert_true(F.s[2].blocked && F.s[3].blocked);
	F.s[2].weight = 0; /* left at 0 by an earlier weighted shift */
	assert_int_equal(traffic_bg_reroute(g, BLUE, 2, GREEN, 2, 1000, &err), 0);
	assert_false(F.s[2].blocked || F.s[3].blocked);
	assert_true(F.s[0].blocked && F.s[1].blocked);
	assert_int_equal(F.s[2].weight, TRAFFIC_FULL_WEIGHT);
	/* green was allowed before blue was blocked */
	int ag = -1, bb = -1;
	for (int i = 0; i < F.nlog; i++) {
		if (ag < 0 && strcmp(F.log[i], "allow web/g2") == 0)
			ag = i;
		if (bb < 0 && strcmp(F.log[i], "block web/b1") == 0)
			bb = i;
	}
	assert_true(ag >= 0 && bb > ag);
	assert_int_equal(traffic_bg_flip_back(g, BLUE, 2, GREEN, 2, 1000, &err), 0);
	assert_false(F.s[0].blocked || F.s[1].blocked);
	assert_true(F.s[2].blocked && F.s[3].blocked);
	assert_int_equal(traffic_bg_retire(g, GREEN, 2, &err), 0);
	assert_int_equal(traffic_bg_reroute(g, BLUE, 2, NULL, 0, 1000, &err), -EINVAL);
	assert_string_equal(err.code, "NO_INSTANCES");
	traffic_group_free(g);
}

static void test_green_selector(void **state)
{
	struct rollout_error err = ERR_INIT;
	char *s = NULL;

	assert_int_equal(traffic_green_selector("{\"targetInstances\":{\"tagFilters\":[{\"Key\":\"color\","
						"\"Value\":\"green\",\"Type\":\"KEY_AND_VALUE\"}]}}",
						NULL, &s, &err),
			 0);
	assert_string_equal(s, "{\"targetInstances\":{\"tagFilters\":[{\"Key\":\"color\",\"Value\":\"green\","
			       "\"Type\":\"KEY_AND_VALUE\"}]}}");
	free(s);
	/* the group's extension, when the deployment names none */
	assert_int_equal(
	    traffic_green_selector("{}",
				   "{\"blueGreenDeploymentConfiguration\":{\"greenFleetProvisioningOption\":"
				   "{\"action\":\"DISCOVER_EXISTING\",\"onPremisesTagSet\":{"
				   "\"onPremisesTagSetList\":[[{\"Key\":\"fleet\",\"Value\":\"b\"}]]}}}}",
				   &s, &err),
	    0);
	assert_string_equal(s, "{\"targetInstances\":{\"ec2TagSet\":{\"ec2TagSetList\":[[{\"Key\":\"fleet\","
			       "\"Value\":\"b\"}]]}}}");
	free(s);
	assert_int_equal(traffic_green_selector("{}", NULL, &s, &err), -ENOENT);
	assert_string_equal(err.code, "MISSING_BLUE_GREEN_DEPLOYMENT_CONFIGURATION");
	assert_non_null(strstr(err.message, "targetInstances"));
}

static void test_split_fleets(void **state)
{
	struct traffic_group *g = parse(BG);
	struct rollout_error err = ERR_INIT;
	const char *names[] = {"b1", "g1", "b2", "g2", "nowhere"};
	size_t blue[5], green[5], nb = 0, ng = 0;

	F.s[2].blocked = F.s[3].blocked = true;
	assert_int_equal(traffic_split_fleets(g, names, 5, blue, &nb, green, &ng, &err), 0);
	assert_int_equal(nb, 2);
	assert_int_equal(ng, 3);
	assert_int_equal(blue[0], 0);
	assert_int_equal(blue[1], 2);
	assert_int_equal(green[0], 1);
	assert_int_equal(green[1], 3);
	assert_int_equal(green[2], 4); /* absent from the pool: idle */
	F.s[2].blocked = F.s[3].blocked = false;
	assert_int_equal(traffic_split_fleets(g, names, 4, blue, &nb, green, &ng, &err), -ENOENT);
	assert_string_equal(err.code, "NO_INSTANCES");
	assert_non_null(strstr(err.message, "4 of 4 instances serve traffic"));
	traffic_group_free(g);
}

/* ---- weighted shift ------------------------------------------------------ */

struct run {
	int checks;
	int alarm_after; /* checks before ALARM; -1 never */
	unsigned seen[16];
	int nseen;
};

static int check(void *ud, char *reason, size_t len)
{
	struct run *r = ud;
	r->checks++;
	if (r->alarm_after >= 0 && r->checks > r->alarm_after) {
		snprintf(reason, len, "alarm errors-5xx is ALARM");
		return 1;
	}
	return 0;
}

static void progress(void *ud, unsigned p)
{
	struct run *r = ud;
	if (r->nseen < 16)
		r->seen[r->nseen++] = p;
}

static void test_shift_success(void **state)
{
	struct traffic_group *g = parse(BG);
	struct rollout_error err = ERR_INIT;
	struct traffic_routing rt = {.type = TRAFFIC_LINEAR, .percent = 25, .interval = 1};
	struct run run = {.alarm_after = -1};
	struct traffic_shift_opts o = {
	    .minute_ms = 40, .poll_ms = 10, .check = check, .progress = progress, .userdata = &run};

	F.s[2].blocked = F.s[3].blocked = true;
	assert_int_equal(traffic_shift_run(g, BLUE, 2, GREEN, 2, &rt, &o, &err), 0);
	assert_int_equal(run.nseen, 4);
	assert_int_equal(run.seen[0], 25);
	assert_int_equal(run.seen[1], 50);
	assert_int_equal(run.seen[2], 75);
	assert_int_equal(run.seen[3], 100);
	assert_true(run.checks >= 4); /* polled while waiting, and after the last step */
	assert_true(F.s[0].blocked && F.s[1].blocked);
	assert_false(F.s[2].blocked || F.s[3].blocked);
	assert_int_equal(F.s[2].weight, 100);
	assert_int_equal(F.s[0].weight, 0);
	traffic_group_free(g);
}

static void test_shift_alarm(void **state)
{
	struct traffic_group *g = parse(BG);
	struct rollout_error err = ERR_INIT;
	struct traffic_routing rt = {.type = TRAFFIC_CANARY, .percent = 10, .interval = 5};
	struct run run = {.alarm_after = 2};
	struct traffic_shift_opts o = {
	    .minute_ms = 40, .poll_ms = 10, .check = check, .progress = progress, .userdata = &run};

	assert_int_equal(traffic_shift_run(g, BLUE, 2, GREEN, 2, &rt, &o, &err), -ECANCELED);
	assert_string_equal(err.code, "ALARM_ACTIVE");
	assert_non_null(strstr(err.message, "flipped back to blue: alarm errors-5xx is ALARM"));
	assert_int_equal(run.seen[0], 10);
	assert_int_equal(run.seen[run.nseen - 1], 0); /* never reached 100 */
	for (int i = 0; i < run.nseen; i++)
		assert_int_not_equal(run.seen[i], 100);
	assert_false(F.s[0].blocked || F.s[1].blocked);
	assert_int_equal(F.s[0].weight, 100);
	assert_true(F.s[2].blocked && F.s[3].blocked);
	traffic_group_free(g);

	/* a plugin without weights cannot run a weighted shift */
	struct traffic_lb lb = {.name = "noweights", .ops = &ops_noweight};
	assert_int_equal(traffic_group_parse_lb(&lb, BG, &g, &err), 0);
	assert_int_equal(traffic_shift_run(g, BLUE, 2, GREEN, 2, &rt, &o, &err), -ENOTSUP);
	assert_non_null(strstr(err.message, "noweights cannot set weights"));
	traffic_group_free(g);
}

/* ---- the blue/green traffic phase (traffic_bg.c) --------------------------- */

#define BG_GROUP                                                                                                       \
	"{\"deploymentStyle\":{\"deploymentType\":\"BLUE_GREEN\",\"deploymentOption\":\"WITH_TRAFFIC_CONTROL\"},"      \
	"\"loadBalancerInfo\":{\"targetGroupInfoList\":[{\"name\":\"web\"}]},"                                         \
	"\"targetInstances\":{\"tagFilters\":[]},"                                                                     \
	"\"alarmConfiguration\":{\"enabled\":true,\"alarms\":[{\"name\":\"errors\"}]},"                                \
	"\"blueGreenDeploymentConfiguration\":{%s}}"

static int polls, poll_answer, poll_answer_after;
static int poll_fn(void *ud)
{
	return ++polls >= poll_answer_after ? poll_answer : 0;
}

static void bg_setup_traffic_plugin(void)
{
	static const struct rollout_plugin desc =
	    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_TRAFFIC, .name = "fake", .ops.traffic = &ops_full);
	static const struct plugin p = {.name = "fake", .kind = ROLLOUT_KIND_TRAFFIC, .desc = &desc};
	stub_plugin = &p;
	stub_fleet = "[{\"targetId\":\"b1\"},{\"targetId\":\"b2\"},{\"targetId\":\"g1\"},{\"targetId\":\"g2\"}]";
	stub_alarm_state = ROLLOUT_ALARM_OK;
	stub_alarm_checks = 0;
	polls = poll_answer = poll_answer_after = 0;
}

static int run_bg(const char *bgconf, const char *config_json, size_t *nblue, struct rollout_error *err)
{
	char group[2048];
	struct rollout_deployment dep = ROLLOUT_DEPLOYMENT_INIT(.deployment_id = "d-TEST00000");
	struct traffic_bg_run run = {.reg = (void *)1,
				     .dep = &dep,
				     .group_json = group,
				     .config_json = config_json,
				     .green = GREEN,
				     .ngreen = 2,
				     .poll = poll_fn,
				     .poll_ms = 10};
	snprintf(group, sizeof(group), BG_GROUP, bgconf);
	return traffic_bg_run(&run, nblue, err);
}

/* The reroute, then (the After* events) the original fleet's end. */
static int finish_bg(const char *bgconf, struct rollout_error *err)
{
	char group[2048];
	struct rollout_deployment dep = ROLLOUT_DEPLOYMENT_INIT(.deployment_id = "d-TEST00000");
	struct traffic_bg_run run = {.reg = (void *)1,
				     .dep = &dep,
				     .group_json = group,
				     .green = GREEN,
				     .ngreen = 2,
				     .blue = BLUE,
				     .nblue = 2,
				     .poll = poll_fn,
				     .poll_ms = 10};
	int r;

	snprintf(group, sizeof(group), BG_GROUP, bgconf);
	r = traffic_bg_run(&run, NULL, err);
	return r < 0 ? r : traffic_bg_finish(&run, err);
}

static void test_bg_run_reroute_keep_alive(void **state)
{
	struct rollout_error err = ERR_INIT;
	size_t nblue = 0;

	bg_setup_traffic_plugin();
	F.s[2].blocked = F.s[3].blocked = true;
	assert_int_equal(
	    run_bg("\"terminateBlueInstancesOnDeploymentSuccess\":{\"action\":\"KEEP_ALIVE\"}", NULL, &nblue, &err), 0);
	assert_int_equal(nblue, 2);
	assert_true(F.s[0].blocked && F.s[1].blocked);
	assert_false(F.s[2].blocked || F.s[3].blocked);
	assert_int_equal(stub_alarm_checks, 1); /* checked once after the reroute */
	stub_plugin = NULL;
}

static void test_bg_run_alarm_flips_back(void **state)
{
	struct rollout_error err = ERR_INIT;

	bg_setup_traffic_plugin();
	stub_alarm_state = ROLLOUT_ALARM_ALARM;
	assert_int_equal(
	    run_bg("\"terminateBlueInstancesOnDeploymentSuccess\":{\"action\":\"KEEP_ALIVE\"}", NULL, NULL, &err),
	    -ECANCELED);
	assert_string_equal(err.code, "ALARM_ACTIVE");
	assert_non_null(strstr(err.message, "alarm errors is in ALARM: errors above 5%"));
	assert_false(F.s[0].blocked || F.s[1].blocked);
	assert_true(F.s[2].blocked && F.s[3].blocked);

	/* weighted: the canary step, then ALARM, then blue again at full weight */
	bg_setup_traffic_plugin();
	stub_alarm_state = ROLLOUT_ALARM_ALARM;
	F.nlog = 0;
	assert_int_equal(run_bg("\"terminateBlueInstancesOnDeploymentSuccess\":{\"action\":\"KEEP_ALIVE\"}",
				"{\"trafficRoutingConfig\":{\"type\":\"TimeBasedCanary\",\"timeBasedCanary\":"
				"{\"canaryPercentage\":10,\"canaryInterval\":1}}}",
				NULL, &err),
			 -ECANCELED);
	assert_string_equal(err.code, "ALARM_ACTIVE");
	assert_int_equal(F.s[0].weight, 100);
	assert_true(F.s[2].blocked && F.s[3].blocked);
	bool saw_canary = false;
	for (int i = 0; i < F.nlog; i++)
		saw_canary = saw_canary || strcmp(F.log[i], "weight web/g1 11") == 0;
	assert_true(saw_canary);
	stub_plugin = NULL;
}

/* The traffic phase follows the rule of every deployment's alarms
 * (health/alarm_check.h): INSUFFICIENT_DATA and an undefined alarm stop it
 * too, unless ignorePollAlarmFailure. */
static void test_bg_run_alarm_rule(void **state)
{
	struct rollout_error err = ERR_INIT;
	char group[2048];
	struct rollout_deployment dep = ROLLOUT_DEPLOYMENT_INIT(.deployment_id = "d-TEST00000");
	struct traffic_bg_run run = {.reg = (void *)1,
				     .dep = &dep,
				     .group_json = group,
				     .green = GREEN,
				     .ngreen = 2,
				     .poll = poll_fn,
				     .poll_ms = 10};

	bg_setup_traffic_plugin();
	stub_alarm_state = ROLLOUT_ALARM_INSUFFICIENT_DATA;
	assert_int_equal(
	    run_bg("\"terminateBlueInstancesOnDeploymentSuccess\":{\"action\":\"KEEP_ALIVE\"}", NULL, NULL, &err),
	    -ECANCELED);
	assert_string_equal(err.code, "ALARM_ACTIVE");
	assert_non_null(strstr(err.message, "alarm errors has INSUFFICIENT_DATA"));
	assert_true(F.s[2].blocked && F.s[3].blocked);

	/* an alarm nobody defined is a failed poll */
	bg_setup_traffic_plugin();
	snprintf(group, sizeof(group),
		 "{\"deploymentStyle\":{\"deploymentType\":\"BLUE_GREEN\",\"deploymentOption\":"
		 "\"WITH_TRAFFIC_CONTROL\"},\"loadBalancerInfo\":{\"targetGroupInfoList\":[{\"name\":\"web\"}]},"
		 "\"alarmConfiguration\":{\"enabled\":true,\"alarms\":[{\"name\":\"nowhere\"}]%s}}",
		 "");
	assert_int_equal(traffic_bg_run(&run, NULL, &err), -ECANCELED);
	assert_non_null(strstr(err.message, "checking alarm nowhere failed"));
	/* ... unless ignorePollAlarmFailure */
	bg_setup_traffic_plugin();
	snprintf(group, sizeof(group),
		 "{\"deploymentStyle\":{\"deploymentType\":\"BLUE_GREEN\",\"deploymentOption\":"
		 "\"WITH_TRAFFIC_CONTROL\"},\"loadBalancerInfo\":{\"targetGroupInfoList\":[{\"name\":\"web\"}]},"
		 "\"alarmConfiguration\":{\"enabled\":true,\"alarms\":[{\"name\":\"nowhere\"}]%s}}",
		 ",\"ignorePollAlarmFailure\":true");
	assert_int_equal(traffic_bg_run(&run, NULL, &err), 0);
	stub_plugin = NULL;
}

static void test_bg_run_ready_wait(void **state)
{
	struct rollout_error err = ERR_INIT;
	int64_t t0;
	struct timespec ts;

	/* STOP_DEPLOYMENT without ContinueDeployment: TIMEOUT after the wait, no traffic moved */
	bg_setup_traffic_plugin();
	F.s[2].blocked = F.s[3].blocked = true;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	assert_int_equal(run_bg("\"deploymentReadyOption\":{\"actionOnTimeout\":\"STOP_DEPLOYMENT\","
				"\"waitTimeInMinutes\":2}",
				NULL, NULL, &err),
			 -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	assert_true(ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - t0 >= 100); /* 2 minutes of 50 ms */
	assert_string_equal(err.code, "TIMEOUT");
	assert_non_null(strstr(err.message, "ContinueDeployment"));
	assert_false(F.s[0].blocked);
	assert_true(F.s[2].blocked);
	/* ContinueDeployment on the third poll: rerouted, then TERMINATE waits and retires blue */
	bg_setup_traffic_plugin();
	poll_answer = 1;
	poll_answer_after = 3;
	assert_int_equal(run_bg("\"deploymentReadyOption\":{\"actionOnTimeout\":\"STOP_DEPLOYMENT\","
				"\"waitTimeInMinutes\":100},\"terminateBlueInstancesOnDeploymentSuccess\":"
				"{\"action\":\"TERMINATE\",\"terminationWaitTimeInMinutes\":1}",
				NULL, NULL, &err),
			 0);
	assert_true(F.s[0].blocked && F.s[1].blocked);
	assert_false(F.s[2].blocked);
	/* a stop during the termination wait flips back to blue */
	bg_setup_traffic_plugin();
	F.s[2].blocked = F.s[3].blocked = true;
	poll_answer = 2;
	poll_answer_after = 2; /* after the reroute */
	assert_int_equal(finish_bg("\"terminateBlueInstancesOnDeploymentSuccess\":{\"action\":\"TERMINATE\","
				   "\"terminationWaitTimeInMinutes\":100}",
				   &err),
			 -ECANCELED);
	assert_string_equal(err.code, "MANUAL_STOP");
	assert_non_null(strstr(err.message, "traffic flipped back"));
	assert_false(F.s[0].blocked || F.s[1].blocked);
	assert_true(F.s[2].blocked && F.s[3].blocked);
	/* a stop during the ready wait */
	bg_setup_traffic_plugin();
	F.s[2].blocked = true;
	poll_answer = 2;
	assert_int_equal(run_bg("\"deploymentReadyOption\":{\"actionOnTimeout\":\"STOP_DEPLOYMENT\","
				"\"waitTimeInMinutes\":100}",
				NULL, NULL, &err),
			 -ECANCELED);
	assert_string_equal(err.code, "MANUAL_STOP");
	assert_true(F.s[2].blocked);
	stub_plugin = NULL;
}

static int64_t waited_end;
static void wait_started_fn(void *ud, int64_t end_wall_ms)
{
	waited_end = end_wall_ms;
}

static int64_t now_ms(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_and_finish(const struct traffic_bg_run *run, struct rollout_error *err)
{
	int r = traffic_bg_run(run, NULL, err);
	return r < 0 ? r : traffic_bg_finish(run, err);
}

/* ContinueDeployment(TERMINATION_WAIT) (poll() == 3) ends the termination
 * wait at once; a stored end (after a restart, or ended early) replaces the
 * group's terminationWaitTimeInMinutes; the caller learns the end. */
static void test_bg_run_termination_wait(void **state)
{
	struct rollout_error err = ERR_INIT;
	char group[2048];
	struct rollout_deployment dep = ROLLOUT_DEPLOYMENT_INIT(.deployment_id = "d-TEST00000");
	struct traffic_bg_run run = {.reg = (void *)1,
				     .dep = &dep,
				     .group_json = group,
				     .green = GREEN,
				     .ngreen = 2,
				     .blue = BLUE,
				     .nblue = 2,
				     .poll = poll_fn,
				     .poll_ms = 10,
				     .wait_started = wait_started_fn};
	int64_t t0, w0;

	/* 100 minutes of 50 ms: ended on the third poll */
	snprintf(group, sizeof(group), BG_GROUP,
		 "\"terminateBlueInstancesOnDeploymentSuccess\":{\"action\":\"TERMINATE\","
		 "\"terminationWaitTimeInMinutes\":100}");
	bg_setup_traffic_plugin();
	F.s[2].blocked = F.s[3].blocked = true;
	poll_answer = 3;
	poll_answer_after = 3;
	waited_end = 0;
	t0 = now_ms(CLOCK_MONOTONIC);
	w0 = now_ms(CLOCK_REALTIME);
	assert_int_equal(run_and_finish(&run, &err), 0);
	assert_true(now_ms(CLOCK_MONOTONIC) - t0 < 2000);
	assert_true(waited_end >= w0 + 5000 && waited_end <= now_ms(CLOCK_REALTIME) + 5000);
	assert_true(F.s[0].blocked && F.s[1].blocked); /* blue retired */
	assert_false(F.s[2].blocked || F.s[3].blocked);

	/* a stored end in the past: no wait at all, and that end is reported */
	bg_setup_traffic_plugin();
	F.s[2].blocked = F.s[3].blocked = true;
	run.wait_end_wall_ms = now_ms(CLOCK_REALTIME) - 1000;
	t0 = now_ms(CLOCK_MONOTONIC);
	assert_int_equal(run_and_finish(&run, &err), 0);
	assert_true(now_ms(CLOCK_MONOTONIC) - t0 < 2000);
	assert_int_equal(waited_end, run.wait_end_wall_ms);
	assert_true(F.s[0].blocked && F.s[1].blocked);

	/* a stored end 300 ms ahead is waited for, not the 100 minutes */
	bg_setup_traffic_plugin();
	F.s[2].blocked = F.s[3].blocked = true;
	run.wait_end_wall_ms = now_ms(CLOCK_REALTIME) + 300;
	t0 = now_ms(CLOCK_MONOTONIC);
	assert_int_equal(run_and_finish(&run, &err), 0);
	assert_true(now_ms(CLOCK_MONOTONIC) - t0 >= 250 && now_ms(CLOCK_MONOTONIC) - t0 < 2000);

	/* KEEP_ALIVE has no termination wait */
	bg_setup_traffic_plugin();
	snprintf(group, sizeof(group), BG_GROUP,
		 "\"terminateBlueInstancesOnDeploymentSuccess\":{\"action\":\"KEEP_ALIVE\"}");
	waited_end = 0;
	run.wait_end_wall_ms = 0;
	assert_int_equal(run_and_finish(&run, &err), 0);
	assert_int_equal(waited_end, 0);
	stub_plugin = NULL;
}

static void test_bg_begin(void **state)
{
	struct rollout_error err = ERR_INIT;
	struct rollout_deployment dep = ROLLOUT_DEPLOYMENT_INIT(.deployment_id = "d-TEST00000");
	char group[2048];
	struct traffic_bg_run run = {.reg = (void *)1, .dep = &dep, .group_json = group, .green = GREEN, .ngreen = 2};

	snprintf(group, sizeof(group), BG_GROUP, "");
	bg_setup_traffic_plugin();
	/* blue serves: green is taken out */
	assert_int_equal(traffic_bg_begin(&run, &err), 0);
	assert_true(F.s[2].blocked && F.s[3].blocked);
	assert_false(F.s[0].blocked);
	/* green is the live fleet: refused, nothing blocked */
	F.s[0].blocked = F.s[1].blocked = true;
	F.s[2].blocked = F.s[3].blocked = false;
	assert_int_equal(traffic_bg_begin(&run, &err), -EBUSY);
	assert_string_equal(err.code, "NO_INSTANCES");
	assert_non_null(strstr(err.message, "deploy to the idle fleet"));
	assert_false(F.s[2].blocked || F.s[3].blocked);
	/* nothing serves at all (first deployment): fine */
	F.s[2].blocked = F.s[3].blocked = true;
	assert_int_equal(traffic_bg_begin(&run, &err), 0);
	stub_plugin = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_parse, setup),
	    cmocka_unit_test_setup(test_block_allow, setup),
	    cmocka_unit_test(test_weights),
	    cmocka_unit_test(test_routing),
	    cmocka_unit_test_setup(test_blue_green, setup),
	    cmocka_unit_test(test_green_selector),
	    cmocka_unit_test_setup(test_split_fleets, setup),
	    cmocka_unit_test_setup(test_shift_success, setup),
	    cmocka_unit_test_setup(test_shift_alarm, setup),
	    cmocka_unit_test_setup(test_bg_run_reroute_keep_alive, setup),
	    cmocka_unit_test_setup(test_bg_run_alarm_flips_back, setup),
	    cmocka_unit_test_setup(test_bg_run_alarm_rule, setup),
	    cmocka_unit_test_setup(test_bg_run_ready_wait, setup),
	    cmocka_unit_test_setup(test_bg_run_termination_wait, setup),
	    cmocka_unit_test_setup(test_bg_begin, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
