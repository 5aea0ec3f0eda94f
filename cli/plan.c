#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool filter_matches(json_t *filter, json_t *tags)
{
	const char *fk = rd_json_str_or(filter, "Key", NULL);
	const char *fv = rd_json_str_or(filter, "Value", NULL);
	const char *type = rd_json_str_or(filter, "Type", NULL);
	size_t i;
	json_t *t;

	if (!type)
		type = fk && fv && *fv ? "KEY_AND_VALUE" : fk ? "KEY_ONLY" : "VALUE_ONLY";
	json_array_foreach(tags, i, t)
	{
		const char *k = rd_json_str_or(t, "Key", "");
		const char *v = rd_json_str_or(t, "Value", "");

		if (strcmp(type, "KEY_ONLY") == 0) {
			if (fk && strcmp(k, fk) == 0)
				return true;
		} else if (strcmp(type, "VALUE_ONLY") == 0) {
			if (fv && strcmp(v, fv) == 0)
				return true;
		} else if (fk && strcmp(k, fk) == 0 && strcmp(v, fv ? fv : "") == 0) {
			return true;
		}
	}
	return false;
}

static bool any_matches(json_t *filters, json_t *tags)
{
	size_t i;
	json_t *f;

	json_array_foreach(filters, i, f) if (filter_matches(f, tags)) return true;
	return false;
}

bool plan_instance_matches(json_t *group, json_t *tags)
{
	json_t *filters = json_object_get(group, "onPremisesInstanceTagFilters");
	json_t *set = json_object_get(json_object_get(group, "onPremisesTagSet"), "onPremisesTagSetList");
	size_t i;
	json_t *g;

	if (json_array_size(filters) > 0)
		return any_matches(filters, tags);
	if (json_array_size(set) > 0) {
		json_array_foreach(set, i, g) if (!any_matches(g, tags)) return false;
		return true;
	}
	return false;
}

int plan_batch_size(json_t *config, size_t n, size_t *ret_batch, size_t *ret_min, char *errbuf, size_t errlen)
{
	json_t *mhh = json_object_get(config, "minimumHealthyHosts");
	const char *type = rd_json_str_or(mhh, "type", NULL);
	long v = (long)rd_json_number(json_object_get(mhh, "value"));
	size_t batch, min;

	if (!type) {
		snprintf(errbuf, errlen,
			 "deployment config '%s' has no minimumHealthyHosts: it is not a server "
			 "(in-place) config; pick one such as CodeDeployDefault.OneAtATime",
			 rd_json_str_or(config, "deploymentConfigName", "?"));
		return -EINVAL;
	}
	if (n == 0) {
		*ret_batch = 0;
		*ret_min = 0;
		return 0;
	}
	if (strcmp(type, "MOST_CONCURRENCY") == 0) {
		/* As the engine (daemon/engine/engine_plan.h): one at a time; a single host must succeed. */
		batch = v > 0 ? (size_t)v : 1;
		min = n > batch ? n - batch : 1;
	} else if (strcmp(type, "HOST_COUNT") == 0) {
		if (v < 0 || (size_t)v >= n) {
			if (v == 0) {
				batch = n;
				min = 0;
			} else {
				snprintf(errbuf, errlen,
					 "deployment config '%s' needs %ld healthy hosts but the group has only %zu "
					 "instance%s: CodeDeploy would fail with HEALTH_CONSTRAINTS_INVALID; lower the "
					 "minimum or add instances",
					 rd_json_str_or(config, "deploymentConfigName", "?"), v, n, n == 1 ? "" : "s");
				return -EINVAL;
			}
		} else {
			min = (size_t)v;
			batch = n - min;
		}
	} else if (strcmp(type, "FLEET_PERCENT") == 0) {
		min = ((size_t)(v < 0 ? 0 : v) * n + 99) / 100;
		if (min >= n) {
			snprintf(
			    errbuf, errlen,
			    "deployment config '%s' needs %zu healthy host%s (%ld%% of %zu, rounded up) but the group "
			    "has only %zu instance%s: CodeDeploy would fail with HEALTH_CONSTRAINTS_INVALID; lower the "
			    "percentage or add instances",
			    rd_json_str_or(config, "deploymentConfigName", "?"), min, min == 1 ? "" : "s", v, n, n,
			    n == 1 ? "" : "s");
			return -EINVAL;
		}
		batch = n - min;
	} else {
		snprintf(errbuf, errlen, "unknown minimumHealthyHosts type '%s'", type);
		return -EINVAL;
	}
	if (batch > n)
		batch = n;
	*ret_batch = batch;
	*ret_min = min;
	return 0;
}

static bool in_list(json_t *list, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v) if (json_is_string(v) && strcmp(json_string_value(v), name) == 0) return true;
	return false;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

int plan_compute(json_t *group, json_t *config, json_t *infos, json_t *failed_first, json_t **ret_plan, char *errbuf,
		 size_t errlen)
{
	json_t *first = json_array(), *rest = json_array(), *excluded = json_array(), *targets = json_array();
	json_t *batches = json_array(), *plan = NULL, *info, **v = NULL;
	size_t i, n, batch = 0, min = 0;
	int r;

	json_array_foreach(infos, i, info)
	{
		const char *name = rd_json_str_or(info, "instanceName", NULL);
		double dereg = rd_json_number(json_object_get(info, "deregisterTime"));

		if (!name)
			continue;
		if (dereg > 0) {
			json_array_append_new(excluded,
					      json_pack("{s:s, s:s}", "instance", name, "reason", "deregistered"));
			continue;
		}
		if (!plan_instance_matches(group, json_object_get(info, "tags"))) {
			json_array_append_new(excluded, json_pack("{s:s, s:s}", "instance", name, "reason",
								  "its tags match none of the group's tag filters"));
			continue;
		}
		json_array_append_new(in_list(failed_first, name) ? first : rest, json_string(name));
	}
	/* Failed-first instances lead, each part sorted by name for a stable plan. */
	for (int part = 0; part < 2; part++) {
		json_t *a = part == 0 ? first : rest;
		size_t k = json_array_size(a);
		v = calloc(k ? k : 1, sizeof(*v));
		if (!v) {
			r = -ENOMEM;
			goto out;
		}
		for (i = 0; i < k; i++)
			v[i] = json_array_get(a, i);
		qsort(v, k, sizeof(*v), cmp_names);
		for (i = 0; i < k; i++)
			json_array_append(targets, v[i]);
		free(v);
		v = NULL;
	}
	n = json_array_size(targets);
	r = plan_batch_size(config, n, &batch, &min, errbuf, errlen);
	if (r < 0)
		goto out;
	for (i = 0; i < n; i += batch) {
		json_t *b = json_array();
		for (size_t k = i; k < i + batch && k < n; k++)
			json_array_append(b, json_array_get(targets, k));
		json_array_append_new(batches, b);
	}
	plan = json_pack("{s:s, s:O, s:I, s:I, s:O, s:O, s:O}", "deploymentConfigName",
			 rd_json_str_or(config, "deploymentConfigName", "?"), "targets", targets, "batchSize",
			 (json_int_t)batch, "minimumHealthy", (json_int_t)min, "batches", batches, "failedFirst", first,
			 "excluded", excluded);
	if (!plan) {
		r = -ENOMEM;
		goto out;
	}
	*ret_plan = plan;
	r = 0;
out:
	json_decref(first);
	json_decref(rest);
	json_decref(excluded);
	json_decref(targets);
	json_decref(batches);
	return r;
}
