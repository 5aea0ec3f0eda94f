/* rolloutctl: the command line of rolloutd. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

struct command {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
    {"deploy", cmd_deploy, "deploy a directory, bundle, s3://… or github:… revision (--wait: live progress)"},
    {"wait", cmd_wait, "follow a deployment live until it ends"},
    {"logs", cmd_logs, "print the hook output of a deployment (-f: follow)"},
    {"plan", cmd_plan, "show the batches a deployment to a group would run, without deploying"},
    {"status", cmd_status, "which revision runs on which instance of a group"},
    {"stop", cmd_stop, "stop a deployment"},
    {"rollback", cmd_rollback, "redeploy the last good revision of a group"},
    {"register-instance", cmd_register_instance, "register a host, create its agent key, write its agent config"},
    {"ec2-agent-config", cmd_ec2_agent_config,
     "write an agent config for an EC2 instance (--instance i-ID) or a fleet (--scope asg:GROUP)"},
    {"app", cmd_app, "applications: list, get, create, rename, delete"},
    {"group", cmd_group, "deployment groups: list, get, create, update, delete"},
    {"config", cmd_config, "deployment configs: list, get, create, delete"},
    {"revision", cmd_revision, "revisions: list, get, register"},
    {"deployment", cmd_deployment, "deployments: list, get, instances, create, stop, wait"},
    {"instance", cmd_instance, "on-premises instances: list, get, register, deregister, tag, untag"},
    {"access-key", cmd_access_key, "access keys: list, create, delete, disable, enable, rotate, retire, scope"},
    {"audit", cmd_audit, "the audit trail: mutating and refused calls (--key, --app, --since)"},
    {"tls", cmd_tls, "make a private CA and the certificates of rolloutd and its agents (offline)"},
};

static const struct {
	const char *alias, *name;
} aliases[] = {
    {"apps", "app"},
    {"application", "app"},
    {"applications", "app"},
    {"groups", "group"},
    {"deployment-group", "group"},
    {"configs", "config"},
    {"deployment-config", "config"},
    {"revisions", "revision"},
    {"deployments", "deployment"},
    {"instances", "instance"},
    {"access-keys", "access-key"},
    {"keys", "access-key"},
    {"log", "logs"},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: rolloutctl [--endpoint URL] [--profile NAME] [--region R] [-o table|json] COMMAND …\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-18s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nGlobal options (anywhere on the line):\n"
		   "  --endpoint URL   rolloutd's address (default: $ROLLOUT_ENDPOINT)\n"
		   "  --profile NAME   credentials from ~/.aws/credentials [NAME] (default: $AWS_ACCESS_KEY_ID/…)\n"
		   "  --region R       SigV4 region (default: $AWS_DEFAULT_REGION, then us-east-1)\n"
		   "  --ca-file FILE   CA certificates for an https endpoint, trusted instead of the system's\n"
		   "                   (default: $ROLLOUT_CA_FILE, $AWS_CA_BUNDLE, the profile's ca_bundle)\n"
		   "  -o, --output F   table (default) or json\n"
		   "  --debug          print each request and answer to stderr\n"
		   "  --no-color       plain output even on a terminal\n"
		   "  --version        print the version\n"
		   "\n'rolloutctl COMMAND --help' describes a command. Exit status: 0 success, 1 the\n"
		   "operation or deployment failed, 2 usage error, 3 missing endpoint/credentials or\n"
		   "unreadable file, 4 rolloutd unreachable, 5 --wait timed out.\n");
}

/* Pulls the global options out of argv wherever they are; the rest stays in order. */
static int take_globals(struct cli *c, int *argc, char **argv)
{
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		char **slot = NULL;
		const char *names[] = {"--endpoint", "--profile", "--region", "--ca-file"};

		if (strcmp(a, "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strcmp(a, "--debug") == 0) {
			c->verbose = true;
			continue;
		}
		if (strcmp(a, "--no-color") == 0) {
			c->color = false;
			continue;
		}
		for (size_t k = 0; k < RD_ARRAY_SIZE(names); k++) {
			size_t l = strlen(names[k]);
			if (strncmp(a, names[k], l) != 0 || (a[l] != '\0' && a[l] != '='))
				continue;
			slot = k == 0 ? &c->endpoint : k == 1 ? &c->profile : k == 2 ? &c->region : &c->ca_file;
			free(*slot);
			if (a[l] == '=') {
				*slot = strdup(a + l + 1);
			} else if (i + 1 < *argc) {
				*slot = strdup(argv[++i]);
			} else {
				fprintf(stderr, "error: %s needs a value\n", names[k]);
				return -1;
			}
			break;
		}
		if (slot)
			continue;
		argv[out++] = argv[i];
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	const struct command *cmd = NULL;
	char err[1024], *hv[4];
	const char *name;
	int ex, r;

	c.tty = isatty(STDOUT_FILENO);
	c.color = c.tty && !getenv("NO_COLOR");
	if (take_globals(&c, &argc, argv) < 0) {
		cli_settings_free(&c);
		return CLI_EXIT_USAGE;
	}
	/* -o before the command */
	while (argc > 1 && (strcmp(argv[1], "-o") == 0 || strcmp(argv[1], "--output") == 0 ||
			    strncmp(argv[1], "--output=", 9) == 0 || strncmp(argv[1], "-ojson", 6) == 0)) {
		const char *v = NULL;
		int eat = 1;
		if (strncmp(argv[1], "--output=", 9) == 0)
			v = argv[1] + 9;
		else if (strncmp(argv[1], "-o", 2) == 0 && argv[1][2])
			v = argv[1] + 2;
		else if (argc > 2) {
			v = argv[2];
			eat = 2;
		}
		if (!v || (strcmp(v, "json") && strcmp(v, "table"))) {
			fprintf(stderr, "error: -o takes json or table\n");
			cli_settings_free(&c);
			return CLI_EXIT_USAGE;
		}
		c.json = strcmp(v, "json") == 0;
		memmove(&argv[1], &argv[1 + eat], (size_t)(argc - eat) * sizeof(char *));
		argc -= eat;
	}
	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		if (argc >= 3 && strcmp(argv[1], "help") == 0) {
			/* "rolloutctl help deploy" = "rolloutctl deploy --help" */
			hv[0] = argv[0];
			hv[1] = argv[2];
			hv[2] = (char *)"--help";
			hv[3] = NULL;
			argv = hv;
			argc = 3;
		} else {
			usage(argc < 2 ? stderr : stdout);
			cli_settings_free(&c);
			return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
		}
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("rolloutctl %s\n", PACKAGE_VERSION);
		cli_settings_free(&c);
		return CLI_EXIT_OK;
	}
	name = argv[1];
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(name, aliases[i].alias) == 0)
			name = aliases[i].name;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(name, commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		fprintf(stderr, "error: unknown command '%s'\n\n", argv[1]);
		usage(stderr);
		cli_settings_free(&c);
		return CLI_EXIT_USAGE;
	}
	/* tls works offline: no endpoint or credentials */
	if (cmd->fn != cmd_tls && !cli_wants_help(argc - 1, argv + 1)) {
		r = cli_settings_resolve(&c, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "error: %s\n", err);
			cli_settings_free(&c);
			return CLI_EXIT_CONFIG;
		}
	}
	ex = cmd->fn(&c, argc - 1, argv + 1);
	cli_settings_free(&c);
	return ex;
}
