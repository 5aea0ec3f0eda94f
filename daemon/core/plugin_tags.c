/* Tag filters for plugins (host->tag_filter_*): lib/tagfilter behind the
 * ABI, so a platform plugin selects hosts exactly as the daemon's own
 * ListOnPremisesInstances does. See plugin.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "core/plugin_host.h"
#include "log.h"
#include "tagfilter.h"

#define TAG_FILTER_MAGIC 0x54414746u /* "TAGF" */

struct rollout_tag_filter {
	unsigned magic;
	struct tagfilter_set *set;
};

static bool filter_ok(const struct rollout_tag_filter *f, const char *fn)
{
	if (f && f->magic == TAG_FILTER_MAGIC)
		return true;
	rd_logt(LOG_ERR, "plugin-host",
		"%s() called with an invalid tag filter %p (plugin bug: freed or foreign pointer)", fn,
		(const void *)f);
	return false;
}

int host_tag_filter_new(struct rollout_handle *h, const char *filter_json, struct rollout_tag_filter **ret, char *err,
			size_t errlen)
{
	struct rollout_tag_filter *f;
	int r;

	if (!host_handle_ok(h, "tag_filter_new"))
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	r = tagfilter_parse_text(filter_json, "tag filter", &f->set, err, errlen);
	if (r < 0) {
		free(f);
		return r;
	}
	f->magic = TAG_FILTER_MAGIC;
	*ret = f;
	return 0;
}

int host_tag_filter_match(const struct rollout_tag_filter *f, const char *tags_json)
{
	json_t *tags;
	int r;

	if (!filter_ok(f, "tag_filter_match"))
		return -EINVAL;
	tags = json_loads(tags_json ? tags_json : "", JSON_DECODE_ANY, NULL);
	r = json_is_array(tags) ? tagfilter_match_json(f->set, tags) : -EINVAL;
	json_decref(tags);
	return r;
}

struct rollout_tag_filter *host_tag_filter_free(struct rollout_tag_filter *f)
{
	if (!f || !filter_ok(f, "tag_filter_free"))
		return NULL;
	f->set = tagfilter_set_free(f->set);
	f->magic = 0;
	free(f);
	return NULL;
}
