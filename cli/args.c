#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "duration.h"
#include "util.h"

static int split_each(const char *s, int (*fn)(const char *item, size_t len, void *ud), void *ud)
{
	const char *p = s;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int r;

		if (len > 0) {
			r = fn(p, len, ud);
			if (r < 0)
				return r;
		}
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

struct tag_ctx {
	json_t *array;
	bool filter;
	char *errbuf;
	size_t errlen;
};

static int add_tag(const char *item, size_t len, void *ud)
{
	struct tag_ctx *t = ud;
	char key[256], value[512];
	const char *eq = memchr(item, '=', len);
	size_t klen = eq ? (size_t)(eq - item) : len;
	size_t vlen = eq ? len - klen - 1 : 0;
	json_t *o;

	if (klen >= sizeof(key) || vlen >= sizeof(value)) {
		snprintf(t->errbuf, t->errlen, "tag '%.*s' is too long: keys are at most 255 and values 511 characters",
			 (int)(len > 60 ? 60 : len), item);
		return -EINVAL;
	}
	memcpy(key, item, klen);
	key[klen] = '\0';
	if (eq)
		memcpy(value, eq + 1, vlen);
	value[vlen] = '\0';
	if (klen == 0 && (!t->filter || vlen == 0)) {
		snprintf(t->errbuf, t->errlen, "tag '%.*s' has no key: write tags as key=value[,key=value…]", (int)len,
			 item);
		return -EINVAL;
	}
	o = json_object();
	if (t->filter) {
		const char *type = klen == 0 ? "VALUE_ONLY" : eq ? "KEY_AND_VALUE" : "KEY_ONLY";
		if (klen > 0)
			json_object_set_new(o, "Key", json_string(key));
		if (eq && vlen > 0)
			json_object_set_new(o, "Value", json_string(value));
		else if (eq && klen > 0)
			json_object_set_new(o, "Value", json_string(""));
		json_object_set_new(o, "Type", json_string(type));
	} else {
		json_object_set_new(o, "Key", json_string(key));
		json_object_set_new(o, "Value", json_string(value));
	}
	json_array_append_new(t->array, o);
	return 0;
}

static int parse_tag_list(const char *s, bool filter, json_t **array, char *errbuf, size_t errlen)
{
	struct tag_ctx t = {.filter = filter, .errbuf = errbuf, .errlen = errlen};
	bool created = false;
	int r;

	if (!s || !*s) {
		snprintf(errbuf, errlen, "empty tag list: write tags as key=value[,key=value…]");
		return -EINVAL;
	}
	if (!*array) {
		*array = json_array();
		created = true;
	}
	t.array = *array;
	r = split_each(s, add_tag, &t);
	if (r < 0 && created) {
		json_decref(*array);
		*array = NULL;
	}
	return r;
}

int cli_parse_tags(const char *s, json_t **array, char *errbuf, size_t errlen)
{
	return parse_tag_list(s, false, array, errbuf, errlen);
}

int cli_parse_tag_filters(const char *s, json_t **array, char *errbuf, size_t errlen)
{
	return parse_tag_list(s, true, array, errbuf, errlen);
}

const char *cli_bundle_type_from_name(const char *name)
{
	size_t l = strlen(name);
	static const struct {
		const char *suffix, *type;
	} map[] = {
	    {".zip", "zip"},  {".tar.gz", "tgz"}, {".tgz", "tgz"},   {".tar", "tar"},
	    {".yml", "YAML"}, {".yaml", "YAML"},  {".json", "JSON"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		size_t sl = strlen(map[i].suffix);
		if (l >= sl && strcasecmp(name + l - sl, map[i].suffix) == 0)
			return map[i].type;
	}
	return NULL;
}

static int parse_s3(const char *s, json_t **ret_rev, char *errbuf, size_t errlen)
{
	char *copy = strdup(s + 5), *slash, *q, *key;
	const char *bundle_type = NULL, *version = NULL, *etag = NULL;
	json_t *loc, *rev;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	q = strchr(copy, '?');
	if (q) {
		*q++ = '\0';
		for (char *tok = strtok(q, "&"); tok; tok = strtok(NULL, "&")) {
			char *eq = strchr(tok, '=');
			if (!eq)
				goto bad;
			*eq++ = '\0';
			if (strcmp(tok, "bundleType") == 0)
				bundle_type = eq;
			else if (strcmp(tok, "version") == 0 || strcmp(tok, "versionId") == 0)
				version = eq;
			else if (strcmp(tok, "eTag") == 0 || strcmp(tok, "etag") == 0)
				etag = eq;
			else
				goto bad;
		}
	}
	slash = strchr(copy, '/');
	if (!slash || slash == copy || slash[1] == '\0')
		goto bad;
	*slash = '\0';
	key = slash + 1;
	if (!bundle_type)
		bundle_type = cli_bundle_type_from_name(key);
	if (!bundle_type) {
		snprintf(errbuf, errlen,
			 "cannot tell the bundle type of '%s' from its name: add ?bundleType=zip (or tar, tgz)", s);
		r = -EINVAL;
		goto out;
	}
	loc = json_pack("{s:s, s:s, s:s}", "bucket", copy, "key", key, "bundleType", bundle_type);
	if (version)
		json_object_set_new(loc, "version", json_string(version));
	if (etag)
		json_object_set_new(loc, "eTag", json_string(etag));
	rev = json_pack("{s:s, s:o}", "revisionType", "S3", "s3Location", loc);
	*ret_rev = rev;
	goto out;
bad:
	snprintf(errbuf, errlen, "'%s' is not an S3 location: write s3://BUCKET/KEY[?bundleType=zip&version=V&eTag=E]",
		 s);
	r = -EINVAL;
out:
	free(copy);
	return r;
}

static int parse_github(const char *s, json_t **ret_rev, char *errbuf, size_t errlen)
{
	const char *spec = s + strlen("github:");
	const char *at = strrchr(spec, '@');
	const char *slash = strchr(spec, '/');
	char repo[512];

	if (!at || !slash || slash > at || slash == spec || at[1] == '\0' || slash + 1 == at ||
	    (size_t)(at - spec) >= sizeof(repo)) {
		snprintf(errbuf, errlen, "'%s' is not a GitHub revision: write github:OWNER/REPO@COMMIT_SHA", s);
		return -EINVAL;
	}
	for (const char *p = at + 1; *p; p++)
		if (!isxdigit((unsigned char)*p)) {
			snprintf(
			    errbuf, errlen,
			    "'%s': CodeDeploy needs the full commit id (hex), not a branch or tag name; find it with "
			    "'git rev-parse BRANCH'",
			    s);
			return -EINVAL;
		}
	memcpy(repo, spec, at - spec);
	repo[at - spec] = '\0';
	*ret_rev = json_pack("{s:s, s:{s:s, s:s}}", "revisionType", "GitHub", "gitHubLocation", "repository", repo,
			     "commitId", at + 1);
	return *ret_rev ? 0 : -ENOMEM;
}

static int parse_bitbucket(const char *s, const char *bundle_type, json_t **ret_rev, char *errbuf, size_t errlen)
{
	const char *spec = s + strlen("bitbucket:");
	const char *at = strrchr(spec, '@');
	const char *slash = strchr(spec, '/');
	char repo[512];
	json_t *loc;

	if (!at || !slash || slash > at || slash == spec || at[1] == '\0' || slash + 1 == at ||
	    memchr(slash + 1, '/', (size_t)(at - slash - 1)) || (size_t)(at - spec) >= sizeof(repo)) {
		snprintf(errbuf, errlen,
			 "'%s' is not a Bitbucket revision: write bitbucket:WORKSPACE/REPO@COMMIT (PROJECT/REPO on "
			 "Bitbucket Server)",
			 s);
		return -EINVAL;
	}
	for (const char *p = at + 1; *p; p++)
		if (!isxdigit((unsigned char)*p)) {
			snprintf(
			    errbuf, errlen,
			    "'%s': a Bitbucket revision needs a commit id (hex), not a branch or tag name; find it "
			    "with 'git rev-parse BRANCH'",
			    s);
			return -EINVAL;
		}
	if (bundle_type && strcmp(bundle_type, "zip") && strcmp(bundle_type, "tgz")) {
		snprintf(errbuf, errlen, "'%s': Bitbucket serves zip or tgz archives, not %s", s, bundle_type);
		return -EINVAL;
	}
	memcpy(repo, spec, (size_t)(at - spec));
	repo[at - spec] = '\0';
	loc = json_pack("{s:s, s:s}", "repository", repo, "commitId", at + 1);
	if (loc && bundle_type)
		json_object_set_new(loc, "bundleType", json_string(bundle_type));
	*ret_rev = loc ? json_pack("{s:s, s:o}", "revisionType", "Bitbucket", "bitbucketLocation", loc) : NULL;
	return *ret_rev ? 0 : -ENOMEM;
}

static bool is_sha256_hex(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return i == 64;
}

/* https://HOST/PATH[#sha256=HEX[&bundleType=T]]; the fragment never reaches
 * the server, so it is a safe place for what the URL cannot say. */
static int parse_http(const char *s, const char *sha256, const char *bundle_type, json_t **ret_rev, char *errbuf,
		      size_t errlen)
{
	char *url = strdup(s), *frag, *path_end, sha[65] = "";
	const char *host, *bt = bundle_type;
	json_t *loc;
	int r = 0;

	if (!url)
		return -ENOMEM;
	frag = strchr(url, '#');
	if (frag) {
		*frag++ = '\0';
		for (char *tok = strtok(frag, "&"); tok; tok = strtok(NULL, "&")) {
			char *eq = strchr(tok, '=');
			if (!eq)
				goto bad_frag;
			*eq++ = '\0';
			if (strcmp(tok, "sha256") == 0) {
				if (!is_sha256_hex(eq))
					goto bad_sha;
				rd_strlcpy(sha, eq, sizeof(sha));
			} else if (strcmp(tok, "bundleType") == 0) {
				if (!bt)
					bt = eq;
			} else {
				goto bad_frag;
			}
		}
	}
	if (sha256) {
		if (!is_sha256_hex(sha256)) {
			snprintf(errbuf, errlen,
				 "--sha256 takes the 64 hex digits of the bundle's sha256 (sha256sum FILE), not '%s'",
				 sha256);
			r = -EINVAL;
			goto out;
		}
		if (sha[0] && strcasecmp(sha, sha256) != 0) {
			snprintf(errbuf, errlen, "'%s': the URL's #sha256= and --sha256 %s differ; give one of them", s,
				 sha256);
			r = -EINVAL;
			goto out;
		}
		rd_strlcpy(sha, sha256, sizeof(sha));
	}
	if (!sha[0]) {
		snprintf(errbuf, errlen,
			 "'%s': an HTTP revision needs the bundle's sha256: append #sha256=HEX to the URL or pass "
			 "--sha256 HEX (from sha256sum FILE)",
			 s);
		r = -EINVAL;
		goto out;
	}
	for (char *p = sha; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	host = strstr(url, "://") + 3;
	if (!*host || *host == '/') {
		snprintf(errbuf, errlen, "'%s' is not an HTTP revision: write https://HOST/PATH#sha256=HEX", s);
		r = -EINVAL;
		goto out;
	}
	if (!bt) {
		/* the type from the path's suffix, without any query */
		path_end = strchr(host, '?');
		if (path_end) {
			char save = *path_end;
			*path_end = '\0';
			bt = cli_bundle_type_from_name(host);
			*path_end = save;
		} else {
			bt = cli_bundle_type_from_name(host);
		}
		if (bt && strcmp(bt, "zip") && strcmp(bt, "tgz") && strcmp(bt, "tar"))
			bt = NULL;
	} else if (strcmp(bt, "zip") && strcmp(bt, "tgz") && strcmp(bt, "tar")) {
		snprintf(errbuf, errlen, "'%s': bundleType must be zip, tgz or tar, not '%s'", s, bt);
		r = -EINVAL;
		goto out;
	}
	loc = json_pack("{s:s, s:s}", "url", url, "sha256", sha);
	if (loc && bt)
		json_object_set_new(loc, "bundleType", json_string(bt));
	*ret_rev = loc ? json_pack("{s:s, s:o}", "revisionType", "HTTP", "httpLocation", loc) : NULL;
	r = *ret_rev ? 0 : -ENOMEM;
	goto out;
bad_sha:
	snprintf(errbuf, errlen, "'%s': #sha256= takes the 64 hex digits of the bundle's sha256 (sha256sum FILE)", s);
	r = -EINVAL;
	goto out;
bad_frag:
	snprintf(errbuf, errlen, "'%s': after '#' write sha256=HEX (and optionally &bundleType=zip|tgz|tar)", s);
	r = -EINVAL;
out:
	free(url);
	return r;
}

int cli_parse_revision_ext(const char *s, const char *sha256, const char *bundle_type, json_t **ret_rev, char *errbuf,
			   size_t errlen)
{
	bool http = strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;

	if (sha256 && !http) {
		snprintf(errbuf, errlen, "--sha256 is for http:// and https:// sources only, not '%s'", s);
		return -EINVAL;
	}
	if (strncmp(s, "s3://", 5) == 0)
		return parse_s3(s, ret_rev, errbuf, errlen);
	if (strncmp(s, "github:", 7) == 0)
		return parse_github(s, ret_rev, errbuf, errlen);
	if (strncmp(s, "bitbucket:", 10) == 0)
		return parse_bitbucket(s, bundle_type, ret_rev, errbuf, errlen);
	if (http)
		return parse_http(s, sha256, bundle_type, ret_rev, errbuf, errlen);
	snprintf(errbuf, errlen,
		 "'%s' is not a revision location: use s3://BUCKET/KEY, github:OWNER/REPO@COMMIT, "
		 "bitbucket:WORKSPACE/REPO@COMMIT or https://HOST/PATH#sha256=HEX",
		 s);
	return -EINVAL;
}

int cli_parse_revision(const char *s, json_t **ret_rev, char *errbuf, size_t errlen)
{
	return cli_parse_revision_ext(s, NULL, NULL, ret_rev, errbuf, errlen);
}

bool cli_is_revision_location(const char *s)
{
	return strncmp(s, "s3://", 5) == 0 || strncmp(s, "github:", 7) == 0 || strncmp(s, "bitbucket:", 10) == 0 ||
	       strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

char *cli_revision_describe(json_t *rev)
{
	const char *type = rd_json_str(rev, "revisionType");
	char *out = NULL;
	json_t *l;

	if (!type)
		return strdup("-");
	if (strcmp(type, "S3") == 0 && (l = json_object_get(rev, "s3Location"))) {
		const char *v = rd_json_str(l, "version");
		if (asprintf(&out, "s3://%s/%s%s%s", rd_json_str_or(l, "bucket", "?"), rd_json_str_or(l, "key", "?"),
			     v ? "?version=" : "", v ? v : "") < 0)
			out = NULL;
	} else if (strcmp(type, "GitHub") == 0 && (l = json_object_get(rev, "gitHubLocation"))) {
		const char *commit = rd_json_str_or(l, "commitId", "?");
		if (asprintf(&out, "github:%s@%.12s", rd_json_str_or(l, "repository", "?"), commit) < 0)
			out = NULL;
	} else if (strcmp(type, "Bitbucket") == 0 && (l = json_object_get(rev, "bitbucketLocation"))) {
		const char *commit = rd_json_str_or(l, "commitId", "?");
		if (asprintf(&out, "bitbucket:%s@%.12s", rd_json_str_or(l, "repository", "?"), commit) < 0)
			out = NULL;
	} else if (strcmp(type, "HTTP") == 0 && (l = json_object_get(rev, "httpLocation"))) {
		if (asprintf(&out, "%s#sha256=%.12s", rd_json_str_or(l, "url", "?"), rd_json_str_or(l, "sha256", "?")) <
		    0)
			out = NULL;
	} else if ((l = json_object_get(rev, "localRevision"))) {
		if (asprintf(&out, "%s:%s", type, rd_json_str_or(l, "location", "?")) < 0)
			out = NULL;
	} else if ((l = json_object_get(rev, "string")) || (l = json_object_get(rev, "appSpecContent"))) {
		const char *sha = rd_json_str(l, "sha256");
		if (asprintf(&out, "%s%s%.12s", type, sha ? ":sha256:" : "", sha ? sha : "") < 0)
			out = NULL;
	} else {
		/* Extensions (bundle uploads, http, bitbucket): show the type and any sha256 we find. */
		const char *key;
		json_t *v;
		json_object_foreach(rev, key, v)
		{
			const char *sha = json_is_object(v) ? rd_json_str(v, "sha256") : NULL;
			if (sha) {
				if (asprintf(&out, "%s:sha256:%.12s", type, sha) < 0)
					out = NULL;
				return out;
			}
		}
		out = strdup(type);
	}
	return out;
}

int cli_parse_min_healthy(const char *s, json_t **ret_obj, char *errbuf, size_t errlen)
{
	const char *type = "HOST_COUNT";
	const char *num = s;
	char *end;
	long v;

	if (strncmp(s, "HOST_COUNT:", 11) == 0) {
		num = s + 11;
	} else if (strncmp(s, "FLEET_PERCENT:", 14) == 0) {
		type = "FLEET_PERCENT";
		num = s + 14;
	}
	errno = 0;
	v = strtol(num, &end, 10);
	if (end == num || errno != 0 || v < 0) {
		snprintf(errbuf, errlen,
			 "'%s' is not a minimum-healthy-hosts value: write HOST_COUNT:N, FLEET_PERCENT:P, N or P%%", s);
		return -EINVAL;
	}
	if (*end == '%' && end[1] == '\0' && num == s) {
		type = "FLEET_PERCENT";
	} else if (*end != '\0') {
		snprintf(errbuf, errlen,
			 "'%s' is not a minimum-healthy-hosts value: write HOST_COUNT:N, FLEET_PERCENT:P, N or P%%", s);
		return -EINVAL;
	}
	if (strcmp(type, "FLEET_PERCENT") == 0 && v > 99) {
		snprintf(errbuf, errlen, "'%s': a fleet percentage must be between 0 and 99", s);
		return -EINVAL;
	}
	*ret_obj = json_pack("{s:s, s:I}", "type", type, "value", (json_int_t)v);
	return 0;
}

int cli_parse_duration(const char *s, int *ret_seconds)
{
	int64_t ms;

	if (rd_duration_parse_ms(s, CLI_DURATION_MAX_MS, &ms) < 0)
		return -EINVAL;
	/* Round up: a timeout of 500ms must not become "no timeout". */
	*ret_seconds = (int)((ms + 999) / 1000);
	return 0;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}
