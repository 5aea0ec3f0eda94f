/* Deliberately broken plugins for the loader's negative tests, and an ABI 1.0
 * source plugin as the 1.0 SDK built it. One source, compiled once per
 * variant (tests/unit/daemon/core/local.mk). */
#include <errno.h>
#include <stdio.h>

#include <rollout/plugin.h>

__attribute__((unused)) static int resolve(void *state, const struct rollout_deployment *dep, const char *group_json,
					   char **ret, struct rollout_error *err)
{
	return -ENOSYS;
}

__attribute__((unused)) static int step(void *state, const struct rollout_shift_call *call, char **ret,
					struct rollout_error *err)
{
	return -ENOSYS;
}

#ifdef BROKEN_NO_OP
static const struct rollout_platform_ops ops = ROLLOUT_PLATFORM_OPS_INIT(.compute_platforms = ROLLOUT_COMPUTE_SERVER);
#elif defined(SHIFT_INCOMPLETE)
/* shifts traffic itself but cannot set a weight */
static const struct rollout_platform_ops ops =
    ROLLOUT_PLATFORM_OPS_INIT(.compute_platforms = ROLLOUT_COMPUTE_LAMBDA, .resolve = resolve, .shift_prepare = step,
			      .shift_commit = step, .shift_route_back = step, .shift_invoke_hook = step);
#elif defined(SHIFT)
static int describe(void *state, const struct rollout_shift_call *call, char **ret, struct rollout_error *err)
{
	return -ENOSYS;
}
static const struct rollout_platform_ops ops =
    ROLLOUT_PLATFORM_OPS_INIT(.compute_platforms = ROLLOUT_COMPUTE_LAMBDA, .resolve = resolve, .shift_prepare = step,
			      .shift_weight = step, .shift_commit = step, .shift_route_back = step,
			      .shift_invoke_hook = step, .shift_describe = describe);
#else
static const struct rollout_platform_ops ops =
    ROLLOUT_PLATFORM_OPS_INIT(.compute_platforms = ROLLOUT_COMPUTE_SERVER, .resolve = resolve);
#endif

#ifdef BROKEN_INIT_FAILS
static int init_fn(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
		   size_t errlen)
{
	snprintf(err, errlen, "cannot reach the moon: set moon_url");
	return -EHOSTUNREACH;
}
#else
#define init_fn NULL
#endif

#ifndef NAME
#define NAME "broken"
#endif

#ifdef OLD_SOURCE
/* The source ops table of ABI 1.0: it ends after fetch. The daemon must read
 * neither location_members nor describe from it. */
struct source_ops_1_0 {
	uint32_t size;
	const char *const *revision_types;
	int (*fetch)(void *state, const struct rollout_deployment *dep, const char *revision_json,
		     const char *dest_path, int64_t timeout_ms, struct rollout_fetch_result *res,
		     struct rollout_error *err);
};

static int fetch(void *state, const struct rollout_deployment *dep, const char *revision_json, const char *dest_path,
		 int64_t timeout_ms, struct rollout_fetch_result *res, struct rollout_error *err)
{
	return -ENOSYS;
}

static const char *const old_types[] = {"Old", NULL};
static const struct source_ops_1_0 old_ops = {
    .size = sizeof(struct source_ops_1_0), .revision_types = old_types, .fetch = fetch};
static struct rollout_plugin plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_SOURCE, .name = NAME, .version = "0.0.1",
			.description = "a source plugin of ABI 1.0", .ops.any = &old_ops);
#else
static struct rollout_plugin plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_PLATFORM, .name = NAME, .version = "0.0.1",
			.description = "a deliberately broken plugin", .init = init_fn, .ops.platform = &ops);
#endif

#ifdef BROKEN_NO_ENTRY
ROLLOUT_EXPORT const struct rollout_plugin *rollout_plugin_v2(void);
ROLLOUT_EXPORT const struct rollout_plugin *rollout_plugin_v2(void)
#else
ROLLOUT_EXPORT const struct rollout_plugin *rollout_plugin_v1(void)
#endif
{
#ifdef BROKEN_MAGIC
	plugin.magic = 0xdeadbeefu;
#endif
#ifdef BROKEN_MAJOR
	plugin.abi_major = ROLLOUT_ABI_MAJOR + 1;
#endif
#ifdef BROKEN_MINOR
	plugin.abi_minor = ROLLOUT_ABI_MINOR + 1;
#endif
#ifdef OLD_SOURCE
	plugin.abi_minor = 0; /* built with the 1.0 SDK */
#endif
#ifdef BROKEN_SMALL
	plugin.size = 24;
#endif
	return &plugin;
}
