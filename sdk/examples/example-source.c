/* example-source: a source plugin that "fetches" revisions from a local
 * directory. It serves its own revisionType, "ExampleDir":
 *
 *     {"revisionType": "ExampleDir",
 *      "exampleDirLocation": {"path": "app-1.2.zip", "sha256": "<64 hex, optional>"}}
 *
 * where path is relative to the configured root:
 *
 *     plugins:
 *       example-source:
 *         root: /srv/revisions
 *
 * rolloutd learns the type from this plugin alone: once it is loaded,
 * CreateDeployment accepts ExampleDir revisions, and the bundle cache keys
 * them on exampleDirLocation (location_members) and fetches them once when
 * describe says a sha256 pins the content.
 *
 * It shows the source contract: write dest_path, report size, sha256 and
 * bundle type, and fail with a CodeDeploy error code (REVISION_MISSING)
 * that users see in the deployment's errorInformation.
 *
 * The JSON scanning here is deliberately tiny so that the example needs no
 * library; real plugins link jansson (pkg-config jansson) and parse it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rollout/plugin.h>

struct state {
	const struct rollout_host *host;
	struct rollout_handle *h;
	const char *root;
};

static const struct rollout_option options[] = {
    {.name = "root",
     .type = ROLLOUT_OPT_PATH,
     .required = true,
     .offset = offsetof(struct state, root),
     .help = "the directory revisions are read from"},
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
	if (r == 0 && access(s->root, R_OK | X_OK) < 0) {
		snprintf(err, errlen, "plugins.example-source.root: cannot read directory %s: %s", s->root,
			 strerror(errno));
		r = -errno;
	}
	if (r < 0) {
		free(s);
		return r;
	}
	*ret_state = s;
	return 0;
}

static void destroy(void *state)
{
	free(state);
}

/* The string value of the first "key": "value" in json (no escapes). */
static int json_string_field(const char *json, const char *key, char *out, size_t outlen)
{
	char pat[64];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	if (!(p = strstr(json, pat)))
		return -ENOENT;
	p += strlen(pat);
	p += strspn(p, " \t\r\n");
	if (*p++ != ':')
		return -EINVAL;
	p += strspn(p, " \t\r\n");
	if (*p++ != '"' || !(end = strchr(p, '"')) || memchr(p, '\\', (size_t)(end - p)) || (size_t)(end - p) >= outlen)
		return -EINVAL;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return 0;
}

static const char *bundle_type_of(const char *path)
{
	static const struct {
		const char *suffix, *type;
	} map[] = {{".zip", "zip"},  {".tar", "tar"},	{".tgz", "tgz"},  {".tar.gz", "tgz"},
		   {".yml", "YAML"}, {".yaml", "YAML"}, {".json", "JSON"}};
	size_t n = strlen(path);

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		size_t k = strlen(map[i].suffix);
		if (n > k && strcmp(path + n - k, map[i].suffix) == 0)
			return map[i].type;
	}
	return NULL;
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in, out, r = 0;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		r = -errno;
		close(in);
		return r;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				r = -errno;
				goto done;
			}
			off += w;
		}
	}
done:
	if (close(out) < 0 && r == 0)
		r = -errno;
	close(in);
	return r;
}

/* The location's path, relative and without "..", or -EINVAL with err. */
static int check_path(const char *revision_json, char *rel, size_t relsize, struct rollout_error *err)
{
	if (json_string_field(revision_json, "path", rel, relsize) < 0)
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION",
					 "an ExampleDir revision needs exampleDirLocation.path, a file name under the "
					 "plugin's root");
	if (rel[0] == '/' || strstr(rel, ".."))
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION",
					 "exampleDirLocation.path '%s' must be relative and must not contain '..'",
					 rel);
	return 0;
}

/* Pure (no I/O): rolloutd calls it when the API receives an ExampleDir
 * revision, and before each fetch. A file in a directory may change, so a
 * location pins its content only when it names its sha256. */
static int describe(void *state, const char *revision_json, struct rollout_revision_info *ret,
		    struct rollout_error *err)
{
	char rel[1024], sha[80];
	int r;

	if ((r = check_path(revision_json, rel, sizeof(rel), err)) < 0)
		return r;
	if (json_string_field(revision_json, "sha256", sha, sizeof(sha)) == 0) {
		if (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)
			return rollout_error_set(err, -EINVAL, "INVALID_REVISION",
						 "exampleDirLocation.sha256 must be 64 lower-case hex characters");
		ret->pinned = true;
		snprintf(ret->sha256, sizeof(ret->sha256), "%s", sha);
	}
	return 0;
}

static int fetch(void *state, const struct rollout_deployment *dep, const char *revision_json, const char *dest_path,
		 int64_t timeout_ms, struct rollout_fetch_result *res, struct rollout_error *err)
{
	struct state *s = state;
	char rel[1024], src[4096];
	const char *type;
	int r;

	if ((r = check_path(revision_json, rel, sizeof(rel), err)) < 0)
		return r;
	if (!(type = bundle_type_of(rel)))
		return rollout_error_set(err, -EINVAL, "INVALID_REVISION",
					 "cannot tell the bundle type of '%s': name it .zip, .tar, .tgz, .yml or .json",
					 rel);
	snprintf(src, sizeof(src), "%s/%s", s->root, rel);
	r = copy_file(src, dest_path);
	if (r == -ENOENT)
		return rollout_error_set(err, r, "REVISION_MISSING", "revision %s does not exist; upload it first",
					 src);
	if (r < 0)
		return rollout_error_set(err, r, "REVISION_MISSING", "cannot copy %s: %s", src, strerror(-r));
	r = s->host->file_sha256(s->h, dest_path, res->sha256, &res->bytes);
	if (r < 0)
		return rollout_error_set(err, r, "INTERNAL_ERROR", "cannot hash %s: %s", dest_path, strerror(-r));
	snprintf(res->bundle_type, sizeof(res->bundle_type), "%s", type);
	s->host->log(s->h, LOG_INFO, "fetched %s (%llu bytes, sha256 %.12s…) for %s", src,
		     (unsigned long long)res->bytes, res->sha256,
		     dep && dep->deployment_id ? dep->deployment_id : "no deployment");
	return 0;
}

static const char *const revision_types[] = {"ExampleDir", NULL};
/* Where each type's location is in a RevisionLocation (the cache key). */
static const char *const location_members[] = {"exampleDirLocation", NULL};

static const struct rollout_source_ops ops =
    ROLLOUT_SOURCE_OPS_INIT(.revision_types = revision_types, .fetch = fetch, .location_members = location_members,
			    .describe = describe);

static const struct rollout_plugin plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_SOURCE, .name = "example-source", .version = "1.1.0",
			.description = "copies revisions from a local directory (revisionType ExampleDir)",
			.init = init, .destroy = destroy, .ops.source = &ops);

ROLLOUT_PLUGIN_EXPORT(plugin)
