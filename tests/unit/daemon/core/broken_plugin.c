/* Deliberately broken plugins for the loader's negative tests. One source,
 * compiled once per defect (see tests/unit/foundation.mk). */
#include <errno.h>
#include <stdio.h>

#include <rollout/plugin.h>

__attribute__((unused)) static int resolve(void *state, const struct rollout_deployment *dep, const char *group_json,
					   char **ret, struct rollout_error *err)
{
	return -ENOSYS;
}

#ifdef BROKEN_NO_OP
static const struct rollout_platform_ops ops = ROLLOUT_PLATFORM_OPS_INIT(.compute_platforms = ROLLOUT_COMPUTE_SERVER);
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

static struct rollout_plugin plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_PLATFORM, .name = NAME, .version = "0.0.1",
			.description = "a deliberately broken plugin", .init = init_fn, .ops.platform = &ops);

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
#ifdef BROKEN_SMALL
	plugin.size = 24;
#endif
	return &plugin;
}
