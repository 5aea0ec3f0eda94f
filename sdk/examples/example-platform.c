/* example-platform: the smallest useful platform plugin.
 *
 * It serves the "Server" compute platform and resolves every deployment
 * group to the fixed list of targets in its config:
 *
 *     plugins:
 *       example-platform:
 *         targets: web-1 web-2      # space-separated target ids
 *         instance_type: OnPremises # default
 *
 * A real platform plugin (see plugins/onprem) reads the group's tag filters
 * from group_json, asks the host for instances (host->onprem_instances) and
 * matches their tags with host->tag_filter_new / tag_filter_match (ABI 1.1),
 * so it selects exactly the hosts CodeDeploy's rule and the daemon's
 * ListOnPremisesInstances select.
 * Build: cc -shared -fPIC $(pkg-config --cflags rollout-plugin) -o example-platform.so example-platform.c */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rollout/plugin.h>

struct state {
	const struct rollout_host *host;
	struct rollout_handle *h;
	const char *targets; /* borrowed from the config until destroy */
	const char *instance_type;
};

static const struct rollout_option options[] = {
    {.name = "targets",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct state, targets),
     .def = "",
     .help = "space-separated target ids"},
    {.name = "instance_type",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct state, instance_type),
     .def = "OnPremises"},
    ROLLOUT_OPTION_END,
};

static int init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err, size_t errlen)
{
	struct state *s = calloc(1, sizeof(*s));
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
	host->log(h, LOG_INFO, "serving targets: %s", s->targets[0] ? s->targets : "(none)");
	*ret_state = s;
	return 0;
}

static void destroy(void *state)
{
	free(state);
}

/* Appends text to a malloc'd buffer; returns -ENOMEM on failure. */
static int append(char **buf, size_t *len, const char *text, size_t n)
{
	char *nb = realloc(*buf, *len + n + 1);

	if (!nb)
		return -ENOMEM;
	memcpy(nb + *len, text, n);
	*len += n;
	nb[*len] = '\0';
	*buf = nb;
	return 0;
}

static int resolve(void *state, const struct rollout_deployment *dep, const char *group_json, char **ret_targets_json,
		   struct rollout_error *err)
{
	struct state *s = state;
	char *out = NULL, item[512];
	size_t len = 0;
	const char *p = s->targets;
	bool first = true;

	if (append(&out, &len, "[", 1) < 0)
		return rollout_error_set(err, -ENOMEM, "INTERNAL_ERROR", "out of memory");
	while (*p) {
		size_t n;
		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (n == 0)
			break;
		int k = snprintf(item, sizeof(item), "%s{\"targetId\":\"%.*s\",\"instanceType\":\"%s\"}",
				 first ? "" : ",", (int)(n > 200 ? 200 : n), p, s->instance_type);
		if (append(&out, &len, item, (size_t)k) < 0) {
			free(out);
			return rollout_error_set(err, -ENOMEM, "INTERNAL_ERROR", "out of memory");
		}
		first = false;
		p += n;
	}
	if (append(&out, &len, "]", 1) < 0) {
		free(out);
		return rollout_error_set(err, -ENOMEM, "INTERNAL_ERROR", "out of memory");
	}
	s->host->log(s->h, LOG_DEBUG, "deployment %s: %s", dep && dep->deployment_id ? dep->deployment_id : "-", out);
	*ret_targets_json = out; /* the daemon frees it with free() */
	return 0;
}

static const struct rollout_platform_ops ops =
    ROLLOUT_PLATFORM_OPS_INIT(.compute_platforms = ROLLOUT_COMPUTE_SERVER, .resolve = resolve);

static const struct rollout_plugin plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_PLATFORM, .name = "example-platform", .version = "1.0.0",
			.description = "resolves every deployment group to a fixed list of targets", .init = init,
			.destroy = destroy, .ops.platform = &ops);

ROLLOUT_PLUGIN_EXPORT(plugin)
