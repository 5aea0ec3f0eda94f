/* rollout-agent configuration (YAML, `rollout-agent --config FILE`). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent_config {
	char *endpoint;		 /* http(s)://host:port of rolloutd (required) */
	char *host_identifier;	 /* IAM user/session ARN; NULL on EC2: the instance ARN (IMDS) */
	char *access_key_id;	 /* agent key (required unless enrolling) */
	char *secret_access_key; /* (required unless enrolling) */
	/* Enrollment on EC2 (enroll.h): the fleet's enroll key, where the key
	 * it is traded for is kept, and the instance metadata service. */
	char *enroll_key_id;
	char *enroll_secret_access_key;
	char *key_file;		   /* default <root_dir>/.enrolled-key.json */
	char *imds_endpoint;	   /* default http://169.254.169.254 */
	char *region;		   /* default us-east-1 */
	char *root_dir;		   /* default /var/lib/rollout-agent/deployment-root */
	char *log_dir;		   /* default /var/log/rollout-agent */
	int max_revisions;	   /* default 5, >= 1 */
	char *daemon_cert;	   /* PEM certificate (or CA) the deployment specs must chain to (required) */
	char *ca_file;		   /* CA bundle for an HTTPS endpoint; NULL = system store */
	char *client_cert;	   /* PEM client certificate for rolloutd's tls.client_ca (mTLS); NULL = none */
	char *client_key;	   /* its PEM private key (with client_cert) */
	bool developer_mode;	   /* accept unsigned TEXT/JSON specs */
	unsigned hook_timeout_cap; /* seconds; 0 = no cap beyond the appspec's timeout */
	unsigned kill_grace;	   /* seconds between SIGTERM and SIGKILL, default 5 */
	char **env_allow;	   /* extra environment variables hooks inherit (NAME or PREFIX*) */
	size_t n_env_allow;
	uint64_t scripts_log_max; /* bytes per deployment scripts.log, default 16 MiB */
	unsigned heartbeat;	  /* seconds between heartbeats while a command runs, default 10 */
	unsigned poll_timeout;	  /* read timeout of PollHostCommand, default 90 s */
	int log_level;		  /* syslog level, default LOG_INFO */
};

/* Loads and validates; unknown keys are an error with FILE:LINE:COL. */
int agent_config_load(const char *path, struct agent_config **ret, char *err, size_t errlen);
struct agent_config *agent_config_free(struct agent_config *c);
