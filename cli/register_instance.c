/* rolloutctl register-instance: registers a host, creates its agent key and
 * writes a ready rollout-agent config. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmdutil.h"
#include "util.h"

static const char register_usage[] =
    "Usage: rolloutctl register-instance NAME --agent-config FILE [--tags k=v,…]\n"
    "                                    [--root-dir DIR] [--log-dir DIR] [--daemon-cert FILE]\n"
    "                                    [--iam-user-arn ARN] [--key-name NAME]\n"
    "\nRegisters an on-premises instance, tags it, creates its agent access key (policy\n"
    "'agent', bound to the instance) and writes a ready rollout-agent config to FILE\n"
    "(mode 0600). Start the agent on that host with: rollout-agent --config FILE\n"
    "\n  --root-dir DIR      the agent's deployment root (default /var/lib/rollout-agent/deployment-root)\n"
    "  --log-dir DIR       the agent's log directory (default /var/log/rollout-agent)\n"
    "  --daemon-cert FILE  rolloutd's certificate (data_dir/daemon.crt) the agent pins\n";

int cmd_register_instance(struct cli *c, int argc, char **argv)
{
	const char *usage = register_usage, *pos[1] = {0};
	struct cli_opts o;
	json_t *req, *kresp = NULL, *iresp = NULL;
	char *arn = NULL, *yaml = NULL, *cert = NULL, *keyname = NULL;
	int ex = 0, n, r;
	bool registered = false;

	n = cli_opts_parse(c, &o, cli_workflow_options, usage, argc, argv, pos, 1, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n == 1, "register-instance needs the instance NAME");
	REQUIRE(o.agent_config, "register-instance needs --agent-config FILE (where to write the agent's config)");
	if (o.daemon_cert) {
		cert = realpath(o.daemon_cert, NULL);
		REQUIRE(cert, "--daemon-cert %s: %s", o.daemon_cert, strerror(errno));
	}
	arn = o.iam_user_arn ? strdup(o.iam_user_arn) : cli_default_iam_arn(pos[0]);
	req = json_pack("{s:s, s:s}", "instanceName", pos[0], "iamUserArn", arn);
	ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "RegisterOnPremisesInstance", req, NULL);
	if (ex != 0)
		goto out;
	registered = true;
	if (o.tags) {
		ex = cli_simple_call(c, CLI_TARGET_CODEDEPLOY, "AddTagsToOnPremisesInstances",
				     json_pack("{s:O, s:[s]}", "tags", o.tags, "instanceNames", pos[0]), NULL);
		if (ex != 0)
			goto out;
	}
	if (asprintf(&keyname, "agent-%s", pos[0]) < 0) {
		ex = CLI_EXIT_FAILED;
		goto out;
	}
	ex = cli_simple_call(c, CLI_TARGET_ROLLOUTD, "CreateAccessKey",
			     json_pack("{s:s, s:s, s:s}", "Name", o.access_key_name ? o.access_key_name : keyname,
				       "Policy", "agent", "InstanceName", pos[0]),
			     &kresp);
	if (ex != 0)
		goto out;
	/* The identifier the agent sends is the IAM ARN rolloutd stored for the instance. */
	if (cli_call_new(c, CLI_TARGET_CODEDEPLOY, "GetOnPremisesInstance", json_pack("{s:s}", "instanceName", pos[0]),
			 &iresp) == 0) {
		json_t *ii = json_object_get(iresp, "instanceInfo");
		const char *stored = rd_json_str_or(ii, "iamUserArn", rd_json_str(ii, "iamSessionArn"));
		if (stored) {
			free(arn);
			arn = strdup(stored);
		}
	}
	{
		struct agent_config ac = {
		    .endpoint = c->endpoint,
		    .host_identifier = arn,
		    .access_key_id = cli_key_field(kresp, "AccessKeyId"),
		    .secret_access_key = cli_key_field(kresp, "SecretAccessKey"),
		    .region = c->region,
		    .root_dir = o.root_dir ? o.root_dir : "/var/lib/rollout-agent/deployment-root",
		    .log_dir = o.log_dir ? o.log_dir : "/var/log/rollout-agent",
		    .daemon_cert = cert,
		};
		if (!ac.access_key_id || !ac.secret_access_key) {
			fprintf(stderr, "error: CreateAccessKey answered without AccessKeyId/SecretAccessKey\n");
			ex = CLI_EXIT_NETWORK;
			goto out;
		}
		yaml = agent_config_render(&ac);
		r = yaml ? rd_write_file_atomic(o.agent_config, yaml, strlen(yaml), 0600) : -ENOMEM;
		if (r < 0) {
			fprintf(stderr,
				"error: cannot write %s: %s; the instance is registered and key %s exists: "
				"fix the path and run 'rolloutctl instance deregister %s' and "
				"'rolloutctl access-key delete %s' before trying again\n",
				o.agent_config, strerror(-r), ac.access_key_id, pos[0], ac.access_key_id);
			ex = CLI_EXIT_CONFIG;
			goto out;
		}
		if (c->json) {
			json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "instanceName", pos[0], "hostIdentifier", arn,
					      "accessKeyId", ac.access_key_id, "agentConfig", o.agent_config);
			cli_print_json(j);
			json_decref(j);
		} else {
			printf("instance %s registered (%s)\n", pos[0], arn);
			printf("agent key %s created; agent config written to %s (mode 0600)\n", ac.access_key_id,
			       o.agent_config);
			printf("start the agent on that host: rollout-agent --config %s\n", o.agent_config);
		}
		if (!cert)
			fprintf(stderr,
				"note: no --daemon-cert: copy rolloutd's data_dir/daemon.crt to the host and add "
				"'daemon_cert: PATH' to %s; the agent verifies deployment specifications with it and "
				"does not start without it\n",
				o.agent_config);
	}
out:
	if (ex != 0 && registered && ex != CLI_EXIT_USAGE)
		fprintf(stderr,
			"note: instance %s stays registered; remove it with 'rolloutctl instance deregister %s'\n",
			pos[0], pos[0]);
	free(arn);
	free(yaml);
	free(cert);
	free(keyname);
	json_decref(kresp);
	json_decref(iresp);
	cli_opts_free(&o);
	return ex;
}
