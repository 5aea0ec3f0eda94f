#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "settings.h"
#include "log.h"
#include "util.h"
#include "yamltree.h"

struct agent_config *agent_config_free(struct agent_config *c)
{
	if (!c)
		return NULL;
	free(c->endpoint);
	free(c->host_identifier);
	free(c->access_key_id);
	free(c->secret_access_key);
	free(c->enroll_key_id);
	free(c->enroll_secret_access_key);
	free(c->key_file);
	free(c->imds_endpoint);
	free(c->region);
	free(c->root_dir);
	free(c->log_dir);
	free(c->daemon_cert);
	free(c->ca_file);
	free(c->client_cert);
	free(c->client_key);
	for (size_t i = 0; i < c->n_env_allow; i++)
		free(c->env_allow[i]);
	free(c->env_allow);
	free(c);
	return NULL;
}

static int set_str(const struct yt_node *n, const char *key, char **dst, char *err, size_t errlen)
{
	const char *s;
	int r = yt_as_string(n, key, &s, err, errlen);
	if (r < 0)
		return r;
	if (!*s)
		return yt_error(n, err, errlen, "%s: must not be empty", key);
	free(*dst);
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

static int dup_default(char **dst, const char *v)
{
	if (*dst)
		return 0;
	*dst = strdup(v);
	return *dst ? 0 : -ENOMEM;
}

int agent_config_load(const char *path, struct agent_config **ret, char *err, size_t errlen)
{
	static const char *const strkeys[] = {"endpoint",
					      "host_identifier",
					      "access_key_id",
					      "secret_access_key",
					      "region",
					      "root_dir",
					      "log_dir",
					      "daemon_cert",
					      "ca_file",
					      "client_cert",
					      "client_key",
					      "enroll_key_id",
					      "enroll_secret_access_key",
					      "key_file",
					      "imds_endpoint"};
	struct yt_node *root = NULL;
	struct agent_config *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->max_revisions = 5;
	c->kill_grace = 5;
	c->scripts_log_max = 16u << 20;
	c->heartbeat = 10;
	c->poll_timeout = 90;
	c->log_level = LOG_INFO;
	if ((r = yt_parse_file(path, 1 << 20, &root, err, errlen)) < 0)
		goto out;
	if (root->type != YT_MAP) {
		r = yt_error(root, err, errlen, "the agent config must be a mapping of settings");
		goto out;
	}
	for (size_t i = 0; i < root->n; i++) {
		const char *k = root->keys[i]->value;
		const struct yt_node *v = root->items[i];
		char **strdst[] = {&c->endpoint,
				   &c->host_identifier,
				   &c->access_key_id,
				   &c->secret_access_key,
				   &c->region,
				   &c->root_dir,
				   &c->log_dir,
				   &c->daemon_cert,
				   &c->ca_file,
				   &c->client_cert,
				   &c->client_key,
				   &c->enroll_key_id,
				   &c->enroll_secret_access_key,
				   &c->key_file,
				   &c->imds_endpoint};
		int64_t iv;
		bool done = false;

		for (size_t j = 0; j < RD_ARRAY_SIZE(strkeys) && !done; j++)
			if (strcmp(k, strkeys[j]) == 0) {
				if ((r = set_str(v, k, strdst[j], err, errlen)) < 0)
					goto out;
				done = true;
			}
		if (done)
			continue;
		if (strcmp(k, "max_revisions") == 0) {
			if ((r = yt_as_int(v, k, 1, 1000, &iv, err, errlen)) < 0)
				goto out;
			c->max_revisions = (int)iv;
		} else if (strcmp(k, "hook_timeout_cap") == 0) {
			if ((r = yt_as_duration_ms(v, k, 1000, 7 * 86400 * 1000LL, &iv, err, errlen)) < 0)
				goto out;
			c->hook_timeout_cap = (unsigned)(iv / 1000);
		} else if (strcmp(k, "kill_grace") == 0) {
			if ((r = yt_as_duration_ms(v, k, 0, 600 * 1000LL, &iv, err, errlen)) < 0)
				goto out;
			c->kill_grace = (unsigned)(iv / 1000);
		} else if (strcmp(k, "heartbeat") == 0) {
			if ((r = yt_as_duration_ms(v, k, 1000, 30 * 1000LL, &iv, err, errlen)) < 0)
				goto out;
			c->heartbeat = (unsigned)(iv / 1000);
		} else if (strcmp(k, "poll_timeout") == 0) {
			if ((r = yt_as_duration_ms(v, k, 5000, 600 * 1000LL, &iv, err, errlen)) < 0)
				goto out;
			c->poll_timeout = (unsigned)(iv / 1000);
		} else if (strcmp(k, "scripts_log_max") == 0) {
			if ((r = yt_as_int(v, k, 4096, INT64_MAX, &iv, err, errlen)) < 0)
				goto out;
			c->scripts_log_max = (uint64_t)iv;
		} else if (strcmp(k, "developer_mode") == 0) {
			if ((r = yt_as_bool(v, k, &c->developer_mode, err, errlen)) < 0)
				goto out;
		} else if (strcmp(k, "log_level") == 0) {
			const char *s;
			if ((r = yt_as_string(v, k, &s, err, errlen)) < 0)
				goto out;
			if ((c->log_level = rd_log_level_parse(s)) < 0) {
				r = yt_error(v, err, errlen,
					     "log_level: '%s' is not one of debug, info, notice, warning, error", s);
				goto out;
			}
		} else if (strcmp(k, "env_allow") == 0) {
			if (v->type != YT_SEQ) {
				r = yt_error(v, err, errlen,
					     "env_allow: expected a list of variable names (NAME or PREFIX*)");
				goto out;
			}
			c->env_allow = calloc(v->n ? v->n : 1, sizeof(char *));
			if (!c->env_allow) {
				r = -ENOMEM;
				goto out;
			}
			for (size_t j = 0; j < v->n; j++) {
				if ((r = set_str(v->items[j], "env_allow[]", &c->env_allow[j], err, errlen)) < 0)
					goto out;
				c->n_env_allow = j + 1;
			}
		} else {
			r = yt_error(
			    root->keys[i], err, errlen,
			    "unknown setting '%s'; valid: endpoint, host_identifier, access_key_id, "
			    "secret_access_key, region, root_dir, log_dir, max_revisions, daemon_cert, ca_file, "
			    "client_cert, client_key, developer_mode, hook_timeout_cap, kill_grace, heartbeat, "
			    "poll_timeout, env_allow, "
			    "scripts_log_max, log_level, enroll_key_id, enroll_secret_access_key, key_file, "
			    "imds_endpoint",
			    k);
			goto out;
		}
	}
	{
		bool enroll = c->enroll_key_id && !c->access_key_id;
		const char *missing = !c->endpoint				? "endpoint"
				      : enroll && !c->enroll_secret_access_key	? "enroll_secret_access_key"
				      : !c->access_key_id && !enroll		? "access_key_id (or enroll_key_id)"
				      : !enroll && !c->secret_access_key	? "secret_access_key"
				      : (!c->daemon_cert && !c->developer_mode) ? "daemon_cert"
										: NULL;
		if (missing) {
			snprintf(err, errlen, "%s: '%s' is missing; add it (see rollout-agent --help)", path, missing);
			r = -EINVAL;
			goto out;
		}
	}
	if (!c->client_cert != !c->client_key) {
		snprintf(err, errlen,
			 "%s: client_cert and client_key go together (the agent's certificate and its key)", path);
		r = -EINVAL;
		goto out;
	}
	if (strncmp(c->endpoint, "http://", 7) != 0 && strncmp(c->endpoint, "https://", 8) != 0) {
		snprintf(err, errlen, "%s: endpoint '%s' must start with http:// or https://", path, c->endpoint);
		r = -EINVAL;
		goto out;
	}
	if ((r = dup_default(&c->region, "us-east-1")) < 0 ||
	    (r = dup_default(&c->root_dir, "/var/lib/rollout-agent/deployment-root")) < 0 ||
	    (r = dup_default(&c->log_dir, "/var/log/rollout-agent")) < 0)
		goto out;
	if ((r = dup_default(&c->imds_endpoint, "http://169.254.169.254")) < 0)
		goto out;
	if (!c->key_file && asprintf(&c->key_file, "%s/.enrolled-key.json", c->root_dir) < 0) {
		c->key_file = NULL;
		r = -ENOMEM;
		goto out;
	}
	if (strlen(c->root_dir) > 1024 || c->root_dir[0] != '/') {
		snprintf(err, errlen, "%s: root_dir must be an absolute path of at most 1024 characters", path);
		r = -EINVAL;
		goto out;
	}
	/* strip a trailing '/' of the endpoint */
	{
		size_t l = strlen(c->endpoint);
		while (l > 8 && c->endpoint[l - 1] == '/')
			c->endpoint[--l] = '\0';
	}
	*ret = c;
	c = NULL;
	r = 0;
out:
	yt_free(root);
	agent_config_free(c);
	return r;
}
