/* Application revisions. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_info.h"
#include "api/api_internal.h"
#include "api/api_ops.h"
#include "api/api_util.h"
#include "core/daemon.h"
#include "core/plugins.h"
#include "store/store.h"

#define MAX_DESCRIPTION 8192

/* The types the API accepts: CodeDeploy's own, the daemon's uploaded
 * bundles, and every type a loaded source plugin declares. */
static bool native_type(const char *type)
{
	static const char *const native[] = {"S3", "GitHub", "String", "AppSpecContent", "Bundle"};

	for (size_t i = 0; i < sizeof(native) / sizeof(native[0]); i++)
		if (!strcmp(type, native[i]))
			return true;
	return false;
}

int api_check_revision(struct httpd_call *call, json_t *rev, const char *platform)
{
	struct rd_daemon *d = httpd_call_daemon(call);
	const struct plugin *p = d && d->plugins ? plugins_source_for(d->plugins, api_str(rev, "revisionType")) : NULL;
	const char *type = api_str(rev, "revisionType");
	const char *exc = "InvalidRevisionException";
	char types[512];

	if (!d || !d->plugins || plugins_revision_types(d->plugins, types, sizeof(types)) == 0)
		snprintf(types, sizeof(types), "none loaded");
	if (!type) {
		httpd_call_error(call, exc,
				 "revision.revisionType is required (S3, GitHub, String, AppSpecContent, Bundle, or a "
				 "type of a loaded source plugin: %s)",
				 types);
		return -EINVAL;
	}
	if (!p && !native_type(type)) {
		httpd_call_error(call, exc,
				 "revisionType '%s' is not served by this rolloutd: use S3, GitHub, String, "
				 "AppSpecContent, Bundle, or a type of a loaded source plugin (%s)",
				 type, types);
		return -EINVAL;
	}
	if (!strcmp(type, "S3")) {
		json_t *s3 = json_object_get(rev, "s3Location");
		if (!api_str(s3, "bucket") || !*api_str(s3, "bucket") || !api_str(s3, "key") || !*api_str(s3, "key")) {
			httpd_call_error(call, exc, "an S3 revision needs s3Location with bucket and key");
			return -EINVAL;
		}
	} else if (!strcmp(type, "GitHub")) {
		json_t *gh = json_object_get(rev, "gitHubLocation");
		if (!api_str(gh, "repository") || !api_str(gh, "commitId") || !strchr(api_str(gh, "repository"), '/')) {
			httpd_call_error(
			    call, exc,
			    "a GitHub revision needs gitHubLocation with repository (owner/name) and commitId");
			return -EINVAL;
		}
	} else if (!strcmp(type, "Bundle")) {
		const char *sha = api_str(json_object_get(rev, "bundleLocation"), "sha256");
		if (!sha || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64) {
			httpd_call_error(call, exc,
					 "a Bundle revision needs bundleLocation.sha256 (64 lower-case hex "
					 "characters), as returned by the upload");
			return -EINVAL;
		}
	} else if (!strcmp(type, "String")) {
		if (!api_str(json_object_get(rev, "string"), "content")) {
			httpd_call_error(call, exc, "a String revision needs string.content (the AppSpec)");
			return -EINVAL;
		}
	} else if (!strcmp(type, "AppSpecContent")) {
		if (!api_str(json_object_get(rev, "appSpecContent"), "content")) {
			httpd_call_error(call, exc, "an AppSpecContent revision needs appSpecContent.content");
			return -EINVAL;
		}
	}
	/* The plugin serving the type judges its location (describe is pure, so
	 * it may run here on the I/O thread). */
	if (p && strcmp(type, "Bundle")) {
		struct rollout_revision_info info;
		struct rollout_error e = {.size = sizeof(e)};
		char *text = json_dumps(rev, JSON_COMPACT);
		int r = text ? plugins_source_describe(p, text, &info, &e) : -ENOMEM;
		free(text);
		if (r == -ENOMEM) {
			httpd_call_error_status(call, 500, "InternalFailure", "out of memory");
			return r;
		}
		if (r < 0) {
			httpd_call_error(call, exc, "%s", e.message);
			return -EINVAL;
		}
	}
	if (platform && !strcmp(platform, "Server") && (!strcmp(type, "String") || !strcmp(type, "AppSpecContent"))) {
		httpd_call_error(call, exc,
				 "Server applications deploy bundles (S3, GitHub, Bundle or a source plugin's type), "
				 "not %s",
				 type);
		return -EINVAL;
	}
	if (platform && strcmp(platform, "Server") && !strcmp(type, "GitHub")) {
		httpd_call_error(call, exc, "%s applications deploy String, AppSpecContent or S3 revisions, not GitHub",
				 platform);
		return -EINVAL;
	}
	return 0;
}

int api_check_description(struct httpd_call *call, json_t *in)
{
	const char *desc = api_str(in, "description");

	if (desc && strlen(desc) > MAX_DESCRIPTION) {
		httpd_call_error(call, "DescriptionTooLongException", "description is %zu characters; the limit is %d",
				 strlen(desc), MAX_DESCRIPTION);
		return -EINVAL;
	}
	return 0;
}

void api_op_register_application_revision(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *app = api_str(in, "applicationName");
	json_t *rev = json_object_get(in, "revision"), *ai = NULL;
	int r;

	if (api_check_description(call, in) < 0 || api_need_app(d, call, app, &ai) < 0)
		return;
	r = api_check_revision(call, rev, api_str(ai, "computePlatform"));
	json_decref(ai);
	if (r < 0)
		return;
	r = store_revision_register(d->store, app, rev, api_str(in, "description"));
	if (r == -ENOENT)
		httpd_call_error(call, "ApplicationDoesNotExistException", "No application found for name: %s", app);
	else if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply(call, NULL);
}

void api_op_get_application_revision(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *app = api_str(in, "applicationName");
	json_t *rev = json_object_get(in, "revision"), *info = NULL;
	int r;

	if (api_need_app(d, call, app, NULL) < 0 || api_check_revision(call, rev, NULL) < 0)
		return;
	r = api_revision_get(d, app, rev, &info);
	if (r == -ENOENT)
		httpd_call_error(call, "RevisionDoesNotExistException",
				 "this revision is not registered for application %s (RegisterApplicationRevision)",
				 app);
	else if (r < 0)
		api_store_error(call, r);
	else
		httpd_call_reply(
		    call, json_pack("{s:s, s:O, s:o}", "applicationName", app, "revision", rev, "revisionInfo", info));
}

void api_op_batch_get_application_revisions(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	const char *app = api_str(in, "applicationName");
	json_t *revs = json_object_get(in, "revisions"), *rev, *out;
	char errmsg[512] = "";
	size_t i;

	if (json_array_size(revs) > 25) {
		httpd_call_error(call, "BatchLimitExceededException", "at most 25 revisions per call, got %zu",
				 json_array_size(revs));
		return;
	}
	if (api_need_app(d, call, app, NULL) < 0)
		return;
	json_array_foreach(revs, i, rev) if (api_check_revision(call, rev, NULL) < 0) return;
	out = json_array();
	json_array_foreach(revs, i, rev)
	{
		json_t *info = NULL;
		int r = api_revision_get(d, app, rev, &info);
		if (r == -ENOENT) {
			snprintf(errmsg, sizeof(errmsg), "some revisions are not registered for application %s", app);
			continue;
		}
		if (r < 0) {
			json_decref(out);
			api_store_error(call, r);
			return;
		}
		json_array_append_new(out,
				      json_pack("{s:O, s:o}", "revisionLocation", rev, "genericRevisionInfo", info));
	}
	httpd_call_reply(
	    call, json_pack("{s:s, s:s, s:o}", "applicationName", app, "errorMessage", errmsg, "revisions", out));
}

void api_op_list_application_revisions(struct rd_daemon *d, struct httpd_call *call, json_t *in)
{
	struct store_revision_query q = {0};
	char *cursor = NULL, *end;
	json_t *revs = NULL, *out;
	bool more = false;
	int r;

	q.app = api_str(in, "applicationName");
	q.sort_by = api_str(in, "sortBy");
	q.descending = api_str(in, "sortOrder") && !strcmp(api_str(in, "sortOrder"), "descending");
	q.s3_bucket = api_str(in, "s3Bucket");
	q.s3_key_prefix = api_str(in, "s3KeyPrefix");
	q.deployed = api_str(in, "deployed");
	q.limit = API_PAGE_SIZE;
	if (q.s3_key_prefix && !q.s3_bucket) {
		httpd_call_error(call, "BucketNameFilterRequiredException", "s3KeyPrefix needs s3Bucket as well");
		return;
	}
	if (api_page_cursor(call, in, "nextToken", &cursor) < 0)
		return;
	if (cursor) {
		q.offset = strtoll(cursor, &end, 10);
		if (*end || q.offset < 0) {
			free(cursor);
			httpd_call_error(call, "InvalidNextTokenException",
					 "nextToken is not valid; repeat without it");
			return;
		}
		free(cursor);
	}
	if (api_need_app(d, call, q.app, NULL) < 0)
		return;
	r = store_revision_list(d->store, &q, &revs, &more);
	if (r < 0) {
		api_store_error(call, r);
		return;
	}
	out = json_pack("{s:O}", "revisions", revs);
	if (more) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%lld", (long long)(q.offset + (int64_t)json_array_size(revs)));
		api_page_next(call, out, "nextToken", buf);
	}
	json_decref(revs);
	httpd_call_reply(call, out);
}
