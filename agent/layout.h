/* The deployment root, laid out like the official agent's:
 *   <root>/<groupId>/<deploymentId>/{bundle.tar, deployment-archive/, logs/scripts.log}
 *   <root>/deployment-instructions/<groupId>{-cleanup,-install.json,_last_successful_install,_most_recent_install}
 * Difference: bundle.tar is removed once unpacked (one copy, not two).
 * Also which revision's appspec runs a hook event, and how many revisions
 * a group keeps. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct agent;
struct appspec;
struct deploy_spec;

struct layout {
	char dep_dir[4096];
	char archive[4096];
	char bundle[4096];
	char logs[4096];
	char scripts_log[4096];
	char instr_dir[4096];
	char last_ok[4096];
	char most_recent[4096];
	char cleanup[4096];
	char install_json[4096];
	char group_dir[4096];
};

void layout_init(struct layout *p, const struct agent *ag, const struct deploy_spec *s);

/* Marker files (_last_successful_install, _most_recent_install) hold the
 * absolute path of a deployment directory. */
int layout_read_marker(const char *path, char *out, size_t outlen);
int layout_write_marker(const char *path, const char *dep_dir);

/* rm -rf without following symlinks; 0 when path does not exist. */
int layout_rm_rf(const char *path);

/* Fills dir with the deployment directory whose scripts run the event (the
 * last successful revision's for ApplicationStop and the BlockTraffic
 * events while this one is not unpacked; blue/green rollbacks swap them), or
 * returns -ENOENT when there is none (a silent noop). */
int layout_hook_revision(const struct layout *p, const struct deploy_spec *s, const char *event, char *dir,
			 size_t dirlen);

/* Parses <dep_dir>/deployment-archive/<AppSpecFilename> (with fallback,
 * also appspec.yaml and appspec.yml). */
int layout_load_appspec(const char *dep_dir, const struct deploy_spec *s, bool fallback, struct appspec **ret,
			char *err, size_t errlen);

/* Keeps max_revisions deployment directories per group counting the
 * current one, oldest first out, never the last successful one. */
void layout_retention(const struct layout *p, int max_revisions);
