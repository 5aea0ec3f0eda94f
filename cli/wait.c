/* rolloutctl wait, and following a deployment for deploy, stop and
 * rollback: polls GetDeployment and the instance summaries and renders the
 * progress (a redrawn view on a terminal, one line per change otherwise). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cmdutil.h"
#include "nouns.h"
#include "wait.h"

static int term_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 100;
}

/* Prints text with every line cut to at most width visible characters
 * (escape sequences and UTF-8 continuation bytes take no room); returns the
 * number of lines. */
static int print_clipped(const char *text, int width, bool color)
{
	int lines = 0;

	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		int vis = 0;
		bool clipped = false;

		for (size_t i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)text[i];
			if (ch == 0x1b) { /* copy the whole CSI sequence */
				size_t j = i + 1;
				while (j < len &&
				       !((text[j] >= 'A' && text[j] <= 'Z') || (text[j] >= 'a' && text[j] <= 'z')))
					j++;
				fwrite(text + i, 1, j < len ? j - i + 1 : len - i, stdout);
				i = j;
				continue;
			}
			if ((ch & 0xC0) != 0x80 && ++vis > width) {
				clipped = true;
				continue;
			}
			if (!clipped)
				putchar(ch);
		}
		if (clipped && color)
			fputs("\033[0m", stdout);
		putchar('\n');
		lines++;
		text += len + (nl ? 1 : 0);
	}
	return lines;
}

int cli_poll_deployment(struct cli *c, const char *id, json_t **ret_info, json_t **ret_summaries)
{
	json_t *resp = NULL, *summaries = NULL;
	int r;

	r = cli_call_new(c, CLI_TARGET_CODEDEPLOY, "GetDeployment", json_pack("{s:s}", "deploymentId", id), &resp);
	if (r < 0)
		return r;
	{
		/* Lambda and ECS deployments have targets, not instances */
		const char *cp = rd_json_str(json_object_get(resp, "deploymentInfo"), "computePlatform");
		if (cp && strcmp(cp, "Server") != 0)
			r = cli_fetch_targets(c, id, &summaries);
		else
			r = cli_fetch_instances(c, id, &summaries);
	}
	if (r < 0) {
		/* Not started yet: no instances to show. */
		if (r == -EREMOTEIO && strcmp(c->err_type, "DeploymentNotStartedException") == 0) {
			summaries = json_array();
		} else {
			json_decref(resp);
			return r;
		}
	}
	*ret_info = json_incref(json_object_get(resp, "deploymentInfo"));
	json_decref(resp);
	*ret_summaries = summaries;
	return 0;
}

/* How many instances the deployment runs at once, asked of the daemon's
 * planner (Rolloutd_v1.PlanDeployment) for the deployment's group and
 * config; 0 (not shown) when the daemon cannot plan or plans a different
 * fleet than the deployment's, e.g. once instances joined or left. */
static size_t planned_batch_size(struct cli *c, const struct progress *p)
{
	json_t *plan = NULL;
	size_t batch = 0;

	if (!p->app[0] || !p->group[0])
		return 0;
	if (cli_call_new(c, CLI_TARGET_ROLLOUTD, "PlanDeployment",
			 json_pack("{s:s, s:s, s:s}", "applicationName", p->app, "deploymentGroupName", p->group,
				   "deploymentConfigName", p->config),
			 &plan) < 0)
		return 0;
	if (json_array_size(json_object_get(plan, "targets")) == p->n && !json_object_get(plan, "errorInformation"))
		batch = (size_t)rd_json_number(json_object_get(plan, "batchSize"));
	json_decref(plan);
	return batch;
}

static int wait_one(struct cli *c, const char *id, int timeout_s, int interval_ms, struct progress *ret_p)
{
	struct progress old = {0}, p = {0};
	double start = cli_now();
	int lines = 0, r, ex = CLI_EXIT_OK;
	char el[32];
	bool tty = c->tty && !c->json, batch_known = false;
	size_t batch_size = 0;

	for (;;) {
		json_t *info = NULL, *summaries = NULL;

		r = cli_poll_deployment(c, id, &info, &summaries);
		if (r < 0) {
			ex = cli_report_error(c, "GetDeployment", r);
			goto out;
		}
		progress_update(&p, info, summaries);
		json_decref(info);
		json_decref(summaries);
		/* Only the terminal view shows batches: do not ask otherwise. */
		if (tty && !batch_known && p.config[0] && p.n > 0) {
			batch_known = true;
			batch_size = planned_batch_size(c, &p);
		}
		p.batch_size = batch_size;
		if (tty) {
			int width = term_width();
			char *s = progress_render_tty(&p, cli_now(), width, c->color);
			if (lines > 0)
				printf("\033[%dA\033[J", lines);
			/* Lines must not wrap, or moving up by the line count would not reach the
			 * top of the previous frame. */
			lines = print_clipped(s ? s : "", width - 1, c->color);
			fflush(stdout);
			free(s);
		} else if (!c->json) {
			progress_render_changes(&old, &p, cli_now(), stdout);
			fflush(stdout);
		}
		/* keep a copy for the next diff */
		progress_clear(&old);
		old = p;
		old.inst = p.n ? malloc(p.n * sizeof(*p.inst)) : NULL;
		if (old.inst)
			memcpy(old.inst, p.inst, p.n * sizeof(*p.inst));
		else
			old.n = 0;
		if (progress_is_terminal(&p))
			break;
		if (cli_interrupted) {
			fprintf(stderr,
				"\ninterrupted: deployment %s goes on; follow it again with 'rolloutctl wait %s'\n", id,
				id);
			ex = 130;
			goto out;
		}
		if (timeout_s > 0 && cli_now() - start > timeout_s) {
			fprintf(stderr,
				"error: deployment %s is still %s after %s (--timeout); it goes on: follow it "
				"with 'rolloutctl wait %s'\n",
				id, p.status, cli_fmt_elapsed(cli_now() - start, el, sizeof(el)), id);
			ex = CLI_EXIT_TIMEOUT;
			goto out;
		}
		cli_sleep_ms(interval_ms);
	}
	ex = strcmp(p.status, "Succeeded") == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILED;
out:
	progress_clear(&old);
	*ret_p = p;
	return ex;
}

/* Whether the group of a failed deployment rolls back by itself. */
static bool group_auto_rollback(struct cli *c, const struct progress *p)
{
	json_t *g = NULL;
	bool on = false;

	if (cli_call_new(c, CLI_TARGET_CODEDEPLOY, "GetDeploymentGroup",
			 json_pack("{s:s, s:s}", "applicationName", p->app, "deploymentGroupName", p->group), &g) == 0)
		on = json_is_true(json_object_get(
		    json_object_get(json_object_get(g, "deploymentGroupInfo"), "autoRollbackConfiguration"),
		    "enabled"));
	json_decref(g);
	return on;
}

static void report_failure(struct cli *c, const char *id, struct progress *p, const struct cli_opts *o)
{
	/* With automatic rollback on, the engine creates the rollback right after
	 * failing: give rollbackInfo a moment to show up. */
	if (!p->auto_rollback && p->app[0] && p->group[0])
		p->auto_rollback = group_auto_rollback(c, p);
	for (int i = 0; i < 25 && p->auto_rollback && !p->rollback_id[0] && !o->no_follow_rollback && !cli_interrupted;
	     i++) {
		json_t *resp = NULL;
		cli_sleep_ms(200);
		if (cli_call_new(c, CLI_TARGET_CODEDEPLOY, "GetDeployment", json_pack("{s:s}", "deploymentId", id),
				 &resp) < 0)
			break;
		progress_update(p, json_object_get(resp, "deploymentInfo"), NULL);
		json_decref(resp);
	}
	progress_print_failure(p, stderr);
	if (c->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "deploymentId", id, "status", p->status, "errorCode",
				      p->error_code, "errorMessage", p->error_message);
		if (p->rollback_id[0])
			json_object_set_new(j, "rollbackDeploymentId", json_string(p->rollback_id));
		cli_print_json(j);
		json_decref(j);
	}
	if (p->rollback_id[0] && !o->no_follow_rollback && !cli_interrupted) {
		struct progress rp = {0};
		int rex;
		if (!c->json)
			printf("\nautomatic rollback: deployment %s redeploys the last good revision\n",
			       p->rollback_id);
		rex = wait_one(c, p->rollback_id, o->timeout_s, o->interval_ms, &rp);
		if (!c->json) {
			if (rex == CLI_EXIT_OK)
				printf("rollback %s succeeded: the group runs the previous revision again\n",
				       p->rollback_id);
			else if (rex == CLI_EXIT_FAILED)
				progress_print_failure(&rp, stderr);
		}
		progress_clear(&rp);
	}
}

int cli_wait_and_report(struct cli *c, const char *id, const struct cli_opts *o)
{
	struct progress p = {0};
	struct sigaction old_sa;
	char el[32];
	int ex;

	cli_catch_sigint(&old_sa);
	ex = wait_one(c, id, o->timeout_s, o->interval_ms, &p);
	if (ex == CLI_EXIT_OK) {
		if (c->json) {
			json_t *j = json_pack("{s:s, s:s}", "deploymentId", id, "status", p.status);
			cli_print_json(j);
			json_decref(j);
		} else
			printf("deployment %s succeeded in %s\n", id,
			       cli_fmt_elapsed(
				   p.complete_time > 0 && p.create_time > 0 ? p.complete_time - p.create_time : 0, el,
				   sizeof(el)));
	} else if (ex == CLI_EXIT_FAILED) {
		report_failure(c, id, &p, o);
	}
	cli_restore_sigint(&old_sa);
	progress_clear(&p);
	return ex;
}

static const char wait_usage[] =
    "Usage: rolloutctl wait DEPLOYMENT_ID [--timeout DURATION] [--interval SECONDS (0.5)] [--no-follow-rollback]\n"
    "\nFollows a deployment with live progress until it ends. Exit status 0 when it\n"
    "succeeded, 1 when it failed or was stopped (the failing instance, event, script and\n"
    "log tail are printed), 5 on --timeout. An automatic rollback is followed too.\n";

int cmd_wait(struct cli *c, int argc, char **argv)
{
	const char *usage = wait_usage, *pos[1] = {0};
	struct cli_opts o;
	int ex = 0, n;

	n = cli_opts_parse(c, &o, cli_workflow_options, usage, argc, argv, pos, 1, &ex);
	if (n < 0)
		return ex;
	REQUIRE(n == 1, "wait needs the DEPLOYMENT_ID");
	ex = cli_wait_and_report(c, pos[0], &o);
out:
	cli_opts_free(&o);
	return ex;
}
