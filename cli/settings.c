#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "awsprofile.h"
#include "cli.h"
#include "httpclient.h"

static char *home_path(const char *env, const char *rel)
{
	const char *v = getenv(env), *home;
	char *p = NULL;

	if (v && *v)
		return strdup(v);
	home = getenv("HOME");
	if (!home || !*home)
		return NULL;
	if (asprintf(&p, "%s/%s", home, rel) < 0)
		return NULL;
	return p;
}

static void set_from_env(char **dst, const char *name)
{
	const char *v;

	if (*dst)
		return;
	v = getenv(name);
	if (v && *v)
		*dst = strdup(v);
}

int cli_settings_resolve(struct cli *c, char *errbuf, size_t errlen)
{
	char *cred_file = NULL, *conf_file = NULL;
	bool from_profile = c->profile != NULL;
	int r = 0;

	set_from_env(&c->endpoint, "ROLLOUT_ENDPOINT");
	set_from_env(&c->ca_file, "ROLLOUT_CA_FILE");
	set_from_env(&c->ca_file, "AWS_CA_BUNDLE"); /* as the AWS CLI and SDKs read it */
	set_from_env(&c->profile, "AWS_PROFILE");
	/* An explicit --profile wins over keys in the environment. */
	if (!from_profile) {
		set_from_env(&c->access_key_id, "AWS_ACCESS_KEY_ID");
		set_from_env(&c->secret_access_key, "AWS_SECRET_ACCESS_KEY");
		set_from_env(&c->session_token, "AWS_SESSION_TOKEN");
	}
	set_from_env(&c->region, "AWS_DEFAULT_REGION");
	set_from_env(&c->region, "AWS_REGION");

	cred_file = home_path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
	conf_file = home_path("AWS_CONFIG_FILE", ".aws/config");
	{
		const char *prof = c->profile ? c->profile : "default";

		if (!c->access_key_id && cred_file) {
			aws_profile_file_value(cred_file, prof, "aws_access_key_id", &c->access_key_id);
			if (c->access_key_id) {
				free(c->secret_access_key);
				c->secret_access_key = NULL;
				aws_profile_file_value(cred_file, prof, "aws_secret_access_key", &c->secret_access_key);
				free(c->session_token);
				c->session_token = NULL;
				aws_profile_file_value(cred_file, prof, "aws_session_token", &c->session_token);
			}
		}
		if (!c->region && conf_file)
			aws_profile_file_value(conf_file, prof, "region", &c->region);
		if (!c->region && cred_file)
			aws_profile_file_value(cred_file, prof, "region", &c->region);
		if (!c->endpoint && conf_file)
			aws_profile_file_value(conf_file, prof, "rollout_endpoint", &c->endpoint);
		if (!c->endpoint && conf_file)
			aws_profile_file_value(conf_file, prof, "endpoint_url", &c->endpoint);
		if (!c->ca_file && conf_file)
			aws_profile_file_value(conf_file, prof, "ca_bundle", &c->ca_file);
	}
	if (!c->region)
		c->region = strdup("us-east-1");

	if (!c->endpoint) {
		snprintf(
		    errbuf, errlen,
		    "no rolloutd endpoint: set ROLLOUT_ENDPOINT (e.g. export ROLLOUT_ENDPOINT=http://127.0.0.1:8740) "
		    "or pass --endpoint URL");
		r = -ENOENT;
		goto out;
	}
	if (!strstr(c->endpoint, "://")) {
		char *e = NULL;
		if (asprintf(&e, "http://%s", c->endpoint) < 0) {
			r = -ENOMEM;
			goto out;
		}
		free(c->endpoint);
		c->endpoint = e;
	}
	{
		size_t l = strlen(c->endpoint);
		while (l > 0 && c->endpoint[l - 1] == '/')
			c->endpoint[--l] = '\0';
	}
	if (!c->access_key_id || !c->secret_access_key) {
		if (from_profile)
			snprintf(errbuf, errlen,
				 "profile '%s' has no aws_access_key_id / aws_secret_access_key in %s: add them, or "
				 "use another --profile",
				 c->profile, cred_file ? cred_file : "~/.aws/credentials");
		else
			snprintf(errbuf, errlen,
				 "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (create a key with "
				 "'rolloutd --config FILE access-key create --name NAME --policy admin'), or pass "
				 "--profile NAME for a profile in ~/.aws/credentials");
		r = -ENOENT;
		goto out;
	}
out:
	free(cred_file);
	free(conf_file);
	return r;
}

void cli_settings_free(struct cli *c)
{
	c->http = http_session_free(c->http);
	free(c->endpoint);
	free(c->access_key_id);
	free(c->secret_access_key);
	free(c->session_token);
	free(c->region);
	free(c->profile);
	free(c->ca_file);
	c->endpoint = c->access_key_id = c->secret_access_key = c->session_token = c->region = c->profile = NULL;
	c->ca_file = NULL;
}
