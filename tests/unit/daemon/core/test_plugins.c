/* The plugin loader: one exact error line for every defect (deliberately
 * broken .so files built by make check), then the four example plugins
 * loaded for real and exercised through the registry and the host table. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "core/conf.h"
#include "cryptoutil.h"
#include "tmpdir.h"
#include "core/plugin_host.h"
#include "core/plugins.h"
#include "util.h"
#include "yamltree.h"

static char *dir;

static int setup(void **st)
{
	dir = tu_mkdtemp();
	return dir ? 0 : -1;
}

static int teardown(void **st)
{
	tu_rm_rf(dir);
	dir = NULL;
	return 0;
}

/* Makes DIR/NAME.so a link to the built plugin `file` in `from`. */
static void link_plugin(const char *from, const char *file, const char *name)
{
	char src[4200], dst[4200];

	snprintf(src, sizeof(src), "%s/%s", from, file);
	snprintf(dst, sizeof(dst), "%s/%s.so", dir, name);
	assert_int_equal(symlink(src, dst), 0);
}

/* Writes a config with plugin_dir = DIR and the given extra YAML, loads it
 * and the plugins. Returns the loader result; ret_cfg and ret_reg are set
 * on success. */
static int load(const char *yaml, struct rd_config **ret_cfg, struct plugin_registry **ret_reg, char *err,
		size_t errlen)
{
	struct rd_error rerr = RD_ERROR_INIT;
	char path[4200];
	struct rd_config *cfg = NULL;
	int r;

	tu_write(dir, "rolloutd.yaml", "plugin_dir: %s\n%s", dir, yaml);
	snprintf(path, sizeof(path), "%s/rolloutd.yaml", dir);
	r = config_load(path, &cfg, &rerr);
	if (r < 0) {
		snprintf(err, errlen, "%s", rerr.message);
		print_error("config: %s\n", err);
		return r;
	}
	r = plugins_load_config(cfg, NULL, ret_reg, &rerr);
	if (r < 0) {
		snprintf(err, errlen, "%s", rerr.message);
		config_free(cfg);
		return r;
	}
	*ret_cfg = cfg;
	return 0;
}

/* Loads and expects failure r with message want (every %s is DIR). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void expect_fail(const char *yaml, int r, const char *want_fmt)
{
	struct rd_config *cfg = NULL;
	struct plugin_registry *reg = NULL;
	char err[2048] = "", want[4096];

	snprintf(want, sizeof(want), want_fmt, dir, dir, dir);
	assert_int_equal(load(yaml, &cfg, &reg, err, sizeof(err)), r);
	assert_null(reg);
	assert_string_equal(err, want);
	assert_null(strchr(err, '\n')); /* one line */
}
#pragma GCC diagnostic pop

static void test_missing_file(void **st)
{
	expect_fail("plugins: {nosuch: }\n", -ENOENT,
		    "%s/nosuch.so: cannot load plugin 'nosuch': No such file or directory (expected a regular file; "
		    "install the plugin or fix plugin_dir)");
}

static void test_directory(void **st)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/adir.so", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	expect_fail("plugins: {adir: }\n", -EINVAL,
		    "%s/adir.so: cannot load plugin 'adir' (expected a regular file, found a directory)");
}

static void test_not_shared_object(void **st)
{
	struct rd_config *cfg = NULL;
	struct plugin_registry *reg = NULL;
	char err[2048], want[4200];

	tu_write(dir, "text.so", "this is not an ELF file\n");
	assert_int_equal(load("plugins: {text: }\n", &cfg, &reg, err, sizeof(err)), -ENOEXEC);
	/* dlerror()'s text is glibc's; check what we add around it. */
	snprintf(want, sizeof(want), "%s/text.so: not a loadable shared object (%s/text.so: ", dir, dir);
	assert_true(strncmp(err, want, strlen(want)) == 0);
	snprintf(want, sizeof(want),
		 "); check it is a plugin built for this system and run 'ldd %s/text.so' for "
		 "missing libraries",
		 dir);
	assert_non_null(strstr(err, want));
	assert_null(strchr(err, '\n'));
}

static void test_missing_entry(void **st)
{
	link_plugin(TEST_BROKEN_DIR, "no-entry.so", "noentry");
	expect_fail("plugins: {noentry: }\n", -ENOEXEC,
		    "%s/noentry.so: entry symbol missing (expected 'rollout_plugin_v1', found none); not a rolloutd "
		    "plugin, or built for another ABI major");
}

static void test_bad_magic(void **st)
{
	link_plugin(TEST_BROKEN_DIR, "bad-magic.so", "magic");
	expect_fail("plugins: {magic: }\n", -EINVAL,
		    "%s/magic.so: bad descriptor magic (expected 0x524c5047, found 0xdeadbeef); not a rolloutd plugin "
		    "or a corrupt build");
}

static void test_other_major(void **st)
{
	link_plugin(TEST_BROKEN_DIR, "other-major.so", "major");
	expect_fail("plugins: {major: }\n", -EPROTO,
		    "%s/major.so: plugin ABI major mismatch (expected 1.x, found 2.1); rebuild the plugin against this "
		    "rolloutd's SDK (ABI 1.1)");
}

static void test_newer_minor(void **st)
{
	link_plugin(TEST_BROKEN_DIR, "newer-minor.so", "minor");
	expect_fail("plugins: {minor: }\n", -EPROTO,
		    "%s/minor.so: plugin built for a newer ABI (expected at most 1.1, found 1.2); upgrade rolloutd or "
		    "rebuild the plugin against this SDK");
}

static void test_too_small(void **st)
{
	char want[512];

	link_plugin(TEST_BROKEN_DIR, "too-small.so", "small");
	snprintf(want, sizeof(want),
		 "%%s/small.so: descriptor too small for ABI 1.1 (expected at least %zu bytes, "
		 "found 24)",
		 (size_t)ROLLOUT_PLUGIN_SIZE_1_1);
	expect_fail("plugins: {small: }\n", -EINVAL, want);
}

/* A platform that shifts traffic itself needs every step; and only one
 * such plugin may own a compute platform. */
static void test_shift_ops(void **st)
{
	struct rd_config *cfg = NULL;
	struct plugin_registry *reg = NULL;
	char err[2048] = "";

	link_plugin(TEST_BROKEN_DIR, "shift-incomplete.so", "shift-incomplete");
	expect_fail("plugins: {shift-incomplete: }\n", -EINVAL,
		    "%s/shift-incomplete.so: platform plugin 'shift-incomplete' lacks mandatory op 'shift_weight' "
		    "(expected non-NULL, found NULL)");
	link_plugin(TEST_BROKEN_DIR, "shift-a.so", "shift-a");
	link_plugin(TEST_BROKEN_DIR, "shift-b.so", "shift-b");
	expect_fail("plugins: {shift-a: , shift-b: }\n", -EEXIST,
		    "plugins shift-a and shift-b both deploy to compute platform Lambda (expected one plugin per "
		    "platform that shifts traffic itself); remove one of them from 'plugins:'");
	assert_int_equal(load("plugins: {shift-a: }\n", &cfg, &reg, err, sizeof(err)), 0);
	assert_string_equal(plugins_shift_owner(reg, "Lambda")->name, "shift-a");
	assert_null(plugins_shift_owner(reg, "ECS"));
	assert_null(plugins_shift_owner(reg, "Server"));
	plugins_unload(reg);
	config_free(cfg);
}

static void test_missing_op(void **st)
{
	link_plugin(TEST_BROKEN_DIR, "no-op.so", "noop");
	expect_fail(
	    "plugins: {noop: }\n", -EINVAL,
	    "%s/noop.so: platform plugin 'broken' lacks mandatory op 'resolve' (expected non-NULL, found NULL)");
}

static void test_duplicate(void **st)
{
	link_plugin(TEST_BROKEN_DIR, "dup-a.so", "dup-a");
	link_plugin(TEST_BROKEN_DIR, "dup-b.so", "dup-b");
	expect_fail("plugins: {dup-a: , dup-b: }\n", -EEXIST,
		    "%s/dup-b.so: duplicate plugin name (expected a name not yet loaded, found 'dup', already loaded "
		    "from %s/dup-a.so)");
}

static void test_init_fails(void **st)
{
	/* A good plugin first: it must be unloaded again (no leak under ASan). */
	link_plugin(TEST_EXAMPLES_DIR, "example-traffic.so", "example-traffic");
	link_plugin(TEST_BROKEN_DIR, "init-fails.so", "init-fails");
	expect_fail("plugins: {example-traffic: , init-fails: }\n", -EHOSTUNREACH,
		    "%s/init-fails.so: init of plugin 'init-fails' failed: cannot reach the moon: set moon_url");
}

static void test_plugin_config_errors(void **st)
{
	link_plugin(TEST_EXAMPLES_DIR, "example-source.so", "example-source");
	link_plugin(TEST_EXAMPLES_DIR, "example-health.so", "example-health");
	expect_fail("plugins:\n  example-source: {root: /tmp, rooot: /x}\n", -EINVAL,
		    "%s/example-source.so: init of plugin 'example-source' failed: %s/rolloutd.yaml:3:32: "
		    "plugins.example-source: unknown setting 'rooot' (known: root)");
	expect_fail("plugins:\n  example-source:\n", -EINVAL,
		    "%s/example-source.so: init of plugin 'example-source' failed: %s/rolloutd.yaml:3:3: "
		    "plugins.example-source: missing required setting 'root': the directory revisions are read from");
	expect_fail("plugins:\n  example-health: {timeout: 5m}\n", -EINVAL,
		    "%s/example-health.so: init of plugin 'example-health' failed: %s/rolloutd.yaml:3:29: "
		    "plugins.example-health.timeout: '5m' is out of range [100ms, 60000ms]");
	expect_fail(
	    "plugins:\n  example-health:\n  example-source: {root: /tmp}\nalarms:\n  a: {plugin: example-source}\n",
	    -EINVAL,
	    "%s/rolloutd.yaml:6:15: alarms.a: plugin 'example-source' is not a health plugin (expected a "
	    "plugin of kind health, found source)");
	expect_fail("plugins:\n  example-health:\nalarms:\n  a: {plugin: example-health}\n", -EINVAL,
		    "%s/rolloutd.yaml:5:6: alarms.a: set exactly one of 'file: PATH' or 'url: http://...' for alarm a");
}

static void test_unread_settings_are_unknown(void **st)
{
	/* "good" has no init and reads nothing: any setting is unknown. */
	link_plugin(TEST_BROKEN_DIR, "good.so", "good");
	expect_fail("plugins:\n  good: {colour: blue}\n", -EINVAL,
		    "%s/rolloutd.yaml:3:10: plugins.good: unknown setting 'colour' (the plugin does not read it)");
}

static int fake_onprem(void *ud, char **ret_json, char *err, size_t errlen)
{
	*ret_json = strdup(ud);
	return *ret_json ? 0 : -ENOMEM;
}

static void test_examples(void **st)
{
	struct rd_config *cfg = NULL;
	struct plugin_registry *reg = NULL;
	const struct plugin *p;
	struct rollout_error e = {.size = sizeof(e)};
	const char *settings;
	char err[2048], yaml[4096], path[4200], *json = NULL;

	link_plugin(TEST_EXAMPLES_DIR, "example-platform.so", "example-platform");
	link_plugin(TEST_EXAMPLES_DIR, "example-source.so", "example-source");
	link_plugin(TEST_EXAMPLES_DIR, "example-health.so", "example-health");
	link_plugin(TEST_EXAMPLES_DIR, "example-traffic.so", "example-traffic");
	tu_write(dir, "app.zip", "PK-not-really");
	snprintf(yaml, sizeof(yaml),
		 "plugins:\n"
		 "  example-platform: {targets: web-1 web-2}\n"
		 "  example-source: {root: %s}\n"
		 "  example-health: {timeout: 1s}\n"
		 "  example-traffic: {drain_time: 50ms}\n"
		 "alarms:\n"
		 "  flag: {plugin: example-health, file: %s/flag}\n",
		 dir, dir);
	assert_int_equal(load(yaml, &cfg, &reg, err, sizeof(err)), 0);
	assert_int_equal(plugins_count(reg), 4);
	assert_string_equal(plugins_at(reg, 0)->name, "example-platform");
	assert_null(plugins_at(reg, 4));
	assert_null(plugins_find(reg, "nope"));
	assert_non_null(plugins_find_kind(reg, ROLLOUT_KIND_TRAFFIC, "example-traffic"));
	assert_null(plugins_find_kind(reg, ROLLOUT_KIND_HEALTH, "example-traffic"));
	assert_string_equal(plugins_kind_name(ROLLOUT_KIND_SOURCE), "source");

	/* platform: every Server plugin, none for Lambda */
	p = plugins_platform_nth(reg, "Server", 0);
	assert_non_null(p);
	assert_null(plugins_platform_nth(reg, "Server", 1));
	assert_null(plugins_platform_nth(reg, "Lambda", 0));
	struct rollout_deployment dep =
	    ROLLOUT_DEPLOYMENT_INIT(.deployment_id = "d-ABCDEFGHI", .compute_platform = "Server");
	assert_int_equal(p->desc->ops.platform->resolve(p->state, &dep, "{}", &json, &e), 0);
	assert_string_equal(json, "[{\"targetId\":\"web-1\",\"instanceType\":\"OnPremises\"},"
				  "{\"targetId\":\"web-2\",\"instanceType\":\"OnPremises\"}]");
	free(json);
	json = NULL;

	/* source: found by revisionType; success and REVISION_MISSING */
	assert_null(plugins_source_for(reg, "S3"));
	p = plugins_source_for(reg, "ExampleDir");
	assert_non_null(p);
	struct rollout_fetch_result res = {.size = sizeof(res)};
	snprintf(path, sizeof(path), "%s/fetched", dir);
	assert_int_equal(p->desc->ops.source->fetch(
			     p->state, &dep,
			     "{\"revisionType\":\"ExampleDir\",\"exampleDirLocation\":{\"path\":\"app.zip\"}}", path,
			     1000, &res, &e),
			 0);
	assert_int_equal(res.bytes, 13);
	assert_string_equal(res.bundle_type, "zip");
	char want_sha[65];
	rd_sha256_hex("PK-not-really", 13, want_sha);
	assert_string_equal(res.sha256, want_sha);
	assert_int_equal(strlen(res.sha256), 64);
	assert_int_equal(p->desc->ops.source->fetch(
			     p->state, &dep,
			     "{\"revisionType\":\"ExampleDir\",\"exampleDirLocation\":{\"path\":\"gone.zip\"}}", path,
			     1000, &res, &e),
			 -ENOENT);
	assert_string_equal(e.code, "REVISION_MISSING");
	snprintf(yaml, sizeof(yaml), "revision %s/gone.zip does not exist; upload it first", dir);
	assert_string_equal(e.message, yaml);

	/* health: the alarm maps to its plugin and settings */
	assert_int_equal(plugins_alarm(reg, "nope", &p, &settings), -ENOENT);
	assert_int_equal(plugins_alarm(reg, "flag", &p, &settings), 0);
	assert_string_equal(p->name, "example-health");
	snprintf(yaml, sizeof(yaml), "{\"file\":\"%s/flag\",\"plugin\":\"example-health\"}", dir);
	assert_string_equal(settings, yaml);
	struct rollout_alarm_result ar = {.size = sizeof(ar)};
	assert_int_equal(p->desc->ops.health->check(p->state, &dep, "flag", settings, &ar, &e), 0);
	assert_int_equal(ar.state, ROLLOUT_ALARM_OK);
	tu_write(dir, "flag", "on");
	assert_int_equal(p->desc->ops.health->check(p->state, &dep, "flag", settings, &ar, &e), 0);
	assert_int_equal(ar.state, ROLLOUT_ALARM_ALARM);
	snprintf(yaml, sizeof(yaml), "%s/flag exists", dir);
	assert_string_equal(ar.reason, yaml);
	/* url alarm against a closed port: INSUFFICIENT_DATA, not an error */
	assert_int_equal(p->desc->ops.health->check(p->state, &dep, "u", "{\"url\":\"http://127.0.0.1:1/\"}", &ar, &e),
			 0);
	assert_int_equal(ar.state, ROLLOUT_ALARM_INSUFFICIENT_DATA);

	/* traffic: block -> draining -> blocked; allow */
	p = plugins_nth_of_kind(reg, ROLLOUT_KIND_TRAFFIC, 0);
	assert_non_null(p);
	enum rollout_traffic_state ts;
	const struct rollout_traffic_ops *t = p->desc->ops.traffic;
	assert_int_equal(t->get_state(p->state, "web", "web-1", &ts, &e), 0);
	assert_int_equal(ts, ROLLOUT_TRAFFIC_ABSENT);
	assert_int_equal(t->block(p->state, "web", "web-1", &e), 0);
	assert_int_equal(t->get_state(p->state, "web", "web-1", &ts, &e), 0);
	assert_int_equal(ts, ROLLOUT_TRAFFIC_DRAINING);
	assert_int_equal(t->wait_drained(p->state, "web", "web-1", 2000, &e), 0);
	assert_int_equal(t->get_state(p->state, "web", "web-1", &ts, &e), 0);
	assert_int_equal(ts, ROLLOUT_TRAFFIC_BLOCKED);
	assert_int_equal(t->allow(p->state, "web", "web-1", &e), 0);
	assert_int_equal(t->get_state(p->state, "web", "web-1", &ts, &e), 0);
	assert_int_equal(ts, ROLLOUT_TRAFFIC_ALLOWED);
	assert_int_equal(t->set_weight(p->state, "web", "web-1", 300, &e), -EINVAL);

	/* host: on-prem listing goes through the daemon's hook */
	p = plugins_find(reg, "example-platform");
	const struct rollout_host *host = host_table();
	assert_int_equal(host->onprem_instances(p->handle, &json, err, sizeof(err)), -ENOTSUP);
	plugins_set_onprem_source(reg, fake_onprem, "[{\"instanceName\":\"a\"}]");
	assert_int_equal(host->onprem_instances(p->handle, &json, err, sizeof(err)), 0);
	assert_string_equal(json, "[{\"instanceName\":\"a\"}]");
	host->free(json);
	assert_string_equal(host->config_json(p->handle), "{\"targets\":\"web-1 web-2\"}");

	reg = plugins_unload(reg);
	assert_null(reg);
	config_free(cfg);
	assert_null(plugins_unload(NULL));
}

/* A plugin built with the 1.0 SDK loads into this daemon, and nothing of its
 * tables is read beyond what 1.0 had. */
static void test_abi_1_0_plugin(void **st)
{
	struct rd_config *cfg = NULL;
	struct plugin_registry *reg = NULL;
	struct rollout_revision_info info;
	struct rollout_error e = {.size = sizeof(e)};
	const struct plugin *p;
	char err[1024], types[256];

	link_plugin(TEST_BROKEN_DIR, "old-source.so", "old-source");
	assert_int_equal(load("plugins: {old-source: }\n", &cfg, &reg, err, sizeof(err)), 0);
	p = plugins_source_for(reg, "Old");
	assert_non_null(p);
	assert_int_equal(p->desc->abi_minor, 0);
	assert_null(plugins_source_location_member(p, "Old"));
	assert_int_equal(plugins_source_describe(p, "{\"revisionType\":\"Old\"}", &info, &e), 0);
	assert_false(info.pinned);
	assert_string_equal(info.sha256, "");
	assert_int_equal(plugins_revision_types(reg, types, sizeof(types)), 1);
	assert_string_equal(types, "Old (old-source)");
	plugins_unload(reg);
	config_free(cfg);
}

/* What a source plugin of ABI 1.1 says of its locations (the example's own
 * revisionType), as the bundle cache and the API ask it. */
static void test_source_describe(void **st)
{
	struct rd_config *cfg = NULL;
	struct plugin_registry *reg = NULL;
	struct rollout_revision_info info;
	struct rollout_error e = {.size = sizeof(e)};
	const struct plugin *p;
	char err[1024], yaml[4300];

	link_plugin(TEST_EXAMPLES_DIR, "example-source.so", "example-source");
	snprintf(yaml, sizeof(yaml), "plugins:\n  example-source: {root: %s}\n", dir);
	assert_int_equal(load(yaml, &cfg, &reg, err, sizeof(err)), 0);
	p = plugins_source_for(reg, "ExampleDir");
	assert_non_null(p);
	assert_string_equal(plugins_source_location_member(p, "ExampleDir"), "exampleDirLocation");
	assert_null(plugins_source_location_member(p, "Other"));
	assert_int_equal(
	    plugins_source_describe(p, "{\"revisionType\":\"ExampleDir\",\"exampleDirLocation\":{\"path\":\"a.zip\"}}",
				    &info, &e),
	    0);
	assert_false(info.pinned);
	assert_int_equal(
	    plugins_source_describe(p,
				    "{\"revisionType\":\"ExampleDir\",\"exampleDirLocation\":{\"path\":\"a.zip\","
				    "\"sha256\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}}",
				    &info, &e),
	    0);
	assert_true(info.pinned);
	assert_string_equal(info.sha256, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	assert_int_equal(
	    plugins_source_describe(p, "{\"revisionType\":\"ExampleDir\",\"exampleDirLocation\":{}}", &info, &e),
	    -EINVAL);
	assert_string_equal(e.code, "INVALID_REVISION");
	assert_non_null(strstr(e.message, "needs exampleDirLocation.path"));
	plugins_unload(reg);
	config_free(cfg);
}

/* The keys every alarm has are checked at load whatever its plugin checks,
 * and alarm_fallback_plugin must name a health plugin. */
static void test_alarm_settings_at_load(void **st)
{
	struct rd_config *cfg = NULL;
	struct plugin_registry *reg = NULL;
	char err[1024];

	link_plugin(TEST_EXAMPLES_DIR, "example-health.so", "example-health");
	link_plugin(TEST_EXAMPLES_DIR, "example-traffic.so", "example-traffic");
	expect_fail("plugins:\n  example-health:\nalarms:\n  a: {plugin: example-health, file: /x, gate: sometimes}\n",
		    -EINVAL, "%s/rolloutd.yaml:5:6: alarms.a: alarm a: gate must be true or false");
	expect_fail("plugins:\n  example-health:\nalarms:\n  a: {plugin: example-health, file: /x, interval: 10ms}\n",
		    -EINVAL,
		    "%s/rolloutd.yaml:5:6: alarms.a: alarm a: interval '10ms' is not a duration between 100ms and 1h "
		    "(write e.g. 10s)");
	expect_fail("plugins:\n  example-health:\n  example-traffic:\nalarm_fallback_plugin: example-traffic\n",
		    -EINVAL,
		    "%s/rolloutd.yaml:5:24: alarm_fallback_plugin: 'example-traffic' is not a health plugin (expected "
		    "a plugin of kind health listed under plugins:, found traffic)");
	assert_int_equal(load("plugins:\n  example-health:\n", &cfg, &reg, err, sizeof(err)), 0);
	assert_null(plugins_alarm_fallback(reg));
	plugins_unload(reg);
	config_free(cfg);
	assert_int_equal(
	    load("plugins:\n  example-health:\nalarm_fallback_plugin: example-health\n", &cfg, &reg, err, sizeof(err)),
	    0);
	assert_string_equal(plugins_alarm_fallback(reg)->name, "example-health");
	plugins_unload(reg);
	config_free(cfg);
}

/* The host table's config access and its handle checks, through a handle
 * made directly (no plugin needed). */
struct opts {
	const char *s;
	int64_t i;
	bool b;
	int64_t d;
	const char *j;
	const char *rel;
	const char *abs;
};

static void test_host_config(void **st)
{
	struct rd_error rerr = RD_ERROR_INIT;
	struct rd_config *cfg = NULL;
	struct rollout_handle *h = NULL;
	struct host_shared shared = {0};
	const struct rollout_host *host = host_table();
	char err[1024], path[4200], want[4400];
	struct opts o = {0};
	const char *s;
	int64_t v;
	bool b;

	tu_write(dir, "c.yaml",
		 "plugins:\n  p:\n    s: hello\n    i: 42\n    b: yes\n    d: 250ms\n    j: [1, {a: b}]\n"
		 "    access_key_id: AKID\n");
	snprintf(path, sizeof(path), "%s/c.yaml", dir);
	assert_int_equal(config_load(path, &cfg, &rerr), 0);
	shared.cfg = cfg;
	assert_int_equal(host_handle_new("p", config_plugin_settings(cfg, "p"), cfg->plugins->keys[0], &shared, &h), 0);

	const struct rollout_option table[] = {
	    {.name = "s", .type = ROLLOUT_OPT_STRING, .offset = offsetof(struct opts, s)},
	    {.name = "i", .type = ROLLOUT_OPT_INT, .offset = offsetof(struct opts, i), .min = 1, .max = 100},
	    {.name = "b", .type = ROLLOUT_OPT_BOOL, .offset = offsetof(struct opts, b)},
	    {.name = "d", .type = ROLLOUT_OPT_DURATION, .offset = offsetof(struct opts, d)},
	    {.name = "j", .type = ROLLOUT_OPT_JSON, .offset = offsetof(struct opts, j)},
	    {.name = "rel", .type = ROLLOUT_OPT_PATH, .offset = offsetof(struct opts, rel), .def = "sub/x"},
	    {.name = "abs", .type = ROLLOUT_OPT_PATH, .offset = offsetof(struct opts, abs), .def = "/etc/x"},
	    ROLLOUT_AWS_OPTIONS,
	    ROLLOUT_OPTION_END,
	};
	assert_int_equal(rollout_config_parse(host, h, table, &o, err, sizeof(err)), 0);
	assert_string_equal(o.s, "hello");
	assert_int_equal(o.i, 42);
	assert_true(o.b);
	assert_int_equal(o.d, 250);
	assert_string_equal(o.j, "[\"1\",{\"a\":\"b\"}]");
	snprintf(want, sizeof(want), "%s/sub/x", dir);
	assert_string_equal(o.rel, want);
	assert_string_equal(o.abs, "/etc/x");

	const struct rollout_option narrow[] = {
	    {.name = "s", .type = ROLLOUT_OPT_STRING, .offset = ROLLOUT_OPT_NOSTORE},
	    {.name = "i",
	     .type = ROLLOUT_OPT_INT,
	     .offset = ROLLOUT_OPT_NOSTORE,
	     .min = 1,
	     .max = 10,
	     .help = "how many"},
	    ROLLOUT_OPTION_END,
	};
	assert_int_equal(rollout_config_parse(host, h, narrow, &o, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:5:5: plugins.p: unknown setting 'b' (known: s, i)", path);
	assert_string_equal(err, want);

	assert_int_equal(host->config_string(h, "s", "x", &s, err, sizeof(err)), 0);
	assert_string_equal(s, "hello");
	assert_int_equal(host->config_string(h, "missing", "dflt", &s, err, sizeof(err)), 0);
	assert_string_equal(s, "dflt");
	assert_int_equal(host->config_int(h, "i", 0, 0, 10, &v, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:4:8: plugins.p.i: 42 is out of range [0, 10]", path);
	assert_string_equal(err, want);
	assert_int_equal(host->config_bool(h, "b", false, &b, err, sizeof(err)), 0);
	assert_true(b);
	assert_int_equal(host->config_duration_ms(h, "d", 0, 0, 1000, &v, err, sizeof(err)), 0);
	assert_int_equal(v, 250);
	assert_true(host->wall_ms() > 1700000000000LL);
	assert_true(host->mono_ms() >= 0);

	/* A stale handle is refused, not followed. */
	struct rollout_handle fake = {.magic = 0xbad};
	assert_int_equal(host->config_string(&fake, "s", NULL, &s, err, sizeof(err)), -EINVAL);
	assert_false(host->log_enabled(&fake, LOG_ERR));

	h = host_handle_free(h);
	assert_null(h);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_shared_object, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_entry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_magic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_major, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_newer_minor, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_small, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_op, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_init_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_plugin_config_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unread_settings_are_unknown, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_examples, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shift_ops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_abi_1_0_plugin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_source_describe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alarm_settings_at_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_config, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
