/* rolloutctl ec2-agent-config: an agent config for EC2 instances, with a key
 * bound to one instance (--instance i-...) or with the enroll key of a fleet
 * (--scope asg:GROUP | tag:KEY=VALUE) that Auto Scaling launch templates
 * can carry (docs/ec2.md). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmdutil.h"
#include "util.h"

static const char ec2_usage[] =
    "Usage: rolloutctl ec2-agent-config --instance i-ID --agent-config FILE\n"
    "       rolloutctl ec2-agent-config --scope asg:GROUP|tag:KEY=VALUE --agent-config FILE\n"
    "                                   [--root-dir DIR] [--log-dir DIR] [--daemon-cert FILE] [--key-name NAME]\n"
    "\nWrites a rollout-agent config (mode 0600) for EC2 instances. The agent reads its\n"
    "instance ARN from the instance metadata service (IMDSv2) and reports it as host identifier.\n"
    "  --instance i-ID   creates an agent key bound to that instance\n"
    "  --scope S         creates an enroll key for a fleet: at first start an agent on a\n"
    "                    running instance of the Auto Scaling group (asg:GROUP) or with the\n"
    "                    tag (tag:KEY=VALUE) trades it for its own key; one config serves the\n"
    "                    whole fleet (put it in the launch template's user data)\n";

static bool ec2_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 10 && n <= 19 && !strncmp(s, "i-", 2) && strspn(s + 2, "0123456789abcdef") == n - 2;
}

int cmd_ec2_agent_config(struct cli *c, int argc, char **argv)
{
	const char *usage = ec2_usage;
	struct cli_opts o;
	json_t *kresp = NULL;
	char *yaml = NULL, *cert = NULL, *keyname = NULL;
	bool enroll;
	int ex = 0, n, r;

	n = cli_opts_parse(c, &o, cli_workflow_options, usage, argc, argv, NULL, 0, &ex);
	if (n < 0)
		return ex;
	REQUIRE(o.instance, "ec2-agent-config needs --instance i-ID or --scope asg:GROUP|tag:KEY=VALUE");
	REQUIRE(o.agent_config, "ec2-agent-config needs --agent-config FILE (where to write the agent's config)");
	enroll = !ec2_id(o.instance);
	REQUIRE(!enroll || !strncmp(o.instance, "asg:", 4) || !strncmp(o.instance, "tag:", 4),
		"'%s' is neither an EC2 instance id (i-...) nor a fleet (asg:GROUP or tag:KEY=VALUE)", o.instance);
	if (o.daemon_cert) {
		cert = realpath(o.daemon_cert, NULL);
		REQUIRE(cert, "--daemon-cert %s: %s", o.daemon_cert, strerror(errno));
	}
	if (asprintf(&keyname, "%s-%s", enroll ? "enroll" : "agent", o.instance) < 0) {
		keyname = NULL;
		ex = CLI_EXIT_FAILED;
		goto out;
	}
	ex = cli_simple_call(c, CLI_TARGET_ROLLOUTD, "CreateAccessKey",
			     json_pack("{s:s, s:s, s:s}", "Name", o.access_key_name ? o.access_key_name : keyname,
				       "Policy", enroll ? "enroll" : "agent", "InstanceName", o.instance),
			     &kresp);
	if (ex != 0)
		goto out;
	{
		const char *id = cli_key_field(kresp, "AccessKeyId"), *secret = cli_key_field(kresp, "SecretAccessKey");
		struct agent_config ac = {
		    .endpoint = c->endpoint,
		    .access_key_id = enroll ? NULL : id,
		    .secret_access_key = enroll ? NULL : secret,
		    .enroll_key_id = enroll ? id : NULL,
		    .enroll_secret_access_key = enroll ? secret : NULL,
		    .region = c->region,
		    .root_dir = o.root_dir ? o.root_dir : "/var/lib/rollout-agent/deployment-root",
		    .log_dir = o.log_dir ? o.log_dir : "/var/log/rollout-agent",
		    .daemon_cert = cert,
		};
		if (!id || !secret) {
			fprintf(stderr, "error: CreateAccessKey answered without AccessKeyId/SecretAccessKey\n");
			ex = CLI_EXIT_NETWORK;
			goto out;
		}
		yaml = agent_config_render(&ac);
		r = yaml ? rd_write_file_atomic(o.agent_config, yaml, strlen(yaml), 0600) : -ENOMEM;
		if (r < 0) {
			fprintf(stderr,
				"error: cannot write %s: %s; key %s exists: fix the path and run "
				"'rolloutctl access-key delete %s' before trying again\n",
				o.agent_config, strerror(-r), id, id);
			ex = CLI_EXIT_CONFIG;
			goto out;
		}
		if (c->json) {
			json_t *j = json_pack("{s:s, s:s, s:s}", enroll ? "scope" : "instanceId", o.instance,
					      "accessKeyId", id, "agentConfig", o.agent_config);
			cli_print_json(j);
			json_decref(j);
		} else {
			printf("%s key %s created for %s; agent config written to %s (mode 0600)\n",
			       enroll ? "enroll" : "agent", id, o.instance, o.agent_config);
			printf("start the agent on %s: rollout-agent --config %s\n",
			       enroll ? "each instance of the fleet" : "that instance", o.agent_config);
		}
		if (!cert)
			fprintf(stderr,
				"note: no --daemon-cert: copy rolloutd's data_dir/daemon.crt to the instances and add "
				"'daemon_cert: PATH' to %s; the agent does not start without it\n",
				o.agent_config);
	}
out:
	free(yaml);
	free(cert);
	free(keyname);
	json_decref(kresp);
	cli_opts_free(&o);
	return ex;
}
