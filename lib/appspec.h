/* The one appspec.yml parser, shared by rollout-agent (which runs it) and
 * rolloutd (which validates a revision before any host is touched).
 *
 * Semantics follow the official CodeDeploy agent 1.8.1 (see
 * the official CodeDeploy agent's AppSpec rules), with these deliberate differences:
 *   - `source` and hook `location` must stay inside the bundle: a `..`
 *     component is an error (a leading `/` means the bundle root, as in the
 *     official agent, where File.join made it relative anyway);
 *   - `destination` must be an absolute path; it is normalised lexically;
 *   - `mode` is read from the raw scalar, so `mode: 0644` means 0644 (the
 *     official agent applied decimal 420 to that);
 *   - `acls` and `context` in `permissions` are refused with a clear message
 *     (not supported yet);
 *   - `os: windows` is refused (rollout-agent runs on Linux only).
 *
 * Library code: never logs. Errors are "NAME:LINE:COL: key: what is wrong and
 * how to fix it" in err. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum appspec_feb {
	APPSPEC_FEB_UNSET = 0, /* not given in the appspec */
	APPSPEC_FEB_DISALLOW,
	APPSPEC_FEB_OVERWRITE,
	APPSPEC_FEB_RETAIN,
};

#define APPSPEC_DEFAULT_TIMEOUT 3600u
#define APPSPEC_MAX_BYTES (1024 * 1024)

struct appspec_script {
	char *location;	  /* relative to the archive root, normalised: no leading '/', no '.', no '..' */
	unsigned timeout; /* seconds, > 0, default 3600 */
	char *runas;	  /* NULL: the agent's own user */
	bool sudo;	  /* parsed for compatibility; rollout-agent ignores it */
	unsigned line;	  /* where the script entry starts in the appspec */
};

struct appspec_hook {
	char *event; /* any name (the official parser accepts any) */
	size_t n_scripts;
	struct appspec_script *scripts;
};

struct appspec_file {
	char *source;	   /* relative to the archive root, normalised; "" is the root itself */
	char *destination; /* absolute, normalised (no trailing '/', except "/") */
};

enum { APPSPEC_TYPE_FILE = 1, APPSPEC_TYPE_DIRECTORY = 2 };

struct appspec_permission {
	char *object;  /* absolute, normalised */
	char *pattern; /* default "**" */
	char **except; /* simple globs */
	size_t n_except;
	unsigned types; /* APPSPEC_TYPE_* mask; default both */
	char *owner;	/* NULL when not given */
	char *group;	/* NULL when not given */
	int mode;	/* -1 when not given, else 0..07777 */
	unsigned line;
};

struct appspec {
	enum appspec_feb file_exists_behavior;
	size_t n_files;
	struct appspec_file *files;
	size_t n_permissions;
	struct appspec_permission *permissions;
	size_t n_hooks;
	struct appspec_hook *hooks;
};

/* Parses and validates an appspec. name is used in messages (e.g.
 * "appspec.yml"). On success *ret is owned by the caller (appspec_free).
 * Returns 0, -EINVAL (err set) or -ENOMEM. */
int appspec_parse(const char *text, size_t len, const char *name, struct appspec **ret, char *err, size_t errlen);
struct appspec *appspec_free(struct appspec *spec);

/* The hook of an event, or NULL when the appspec has no scripts for it
 * (absent, null or empty list): such an event is a noop. */
const struct appspec_hook *appspec_hook(const struct appspec *spec, const char *event);

/* true for the nine lifecycle events that run scripts on a host
 * (ApplicationStop, BeforeInstall, ...). */
bool appspec_is_host_event(const char *event);

/* When the deployment specification lists AllPossibleLifecycleEvents, the
 * official agent rejects appspec hooks outside that list. Returns 0 or
 * -EINVAL with err naming the offending hook. */
int appspec_check_events(const struct appspec *spec, const char *const *allowed, size_t n_allowed, char *err,
			 size_t errlen);

/* The string of a file_exists_behavior value ("DISALLOW", ...), or NULL. */
const char *appspec_feb_name(enum appspec_feb feb);
/* Parses "DISALLOW"/"OVERWRITE"/"RETAIN"; when upcase, lower case is accepted
 * too (deployment-level override). APPSPEC_FEB_UNSET when invalid. */
enum appspec_feb appspec_feb_parse(const char *s, bool upcase);

/* Normalises a path relative to a root: strips leading '/', drops '.' and
 * empty components, refuses '..'. Writes a new string ("" is the root) to
 * *ret. Returns 0, -EINVAL ('..') or -ENOMEM. In appspec_path.c: shared with
 * lib/bundle.c and the extraction helper. */
int appspec_norm_relpath(const char *in, char **ret);
/* Lexical normalisation of an absolute path: '.', '..' and '//' resolved
 * ("/" at most; '..' above the root stays there). 0 or -ENOMEM. In
 * appspec_path.c. */
int appspec_norm_abspath(const char *in, char **ret);

/* Simple glob of the permissions section: only '*' is special and it never
 * matches '/'. */
bool appspec_glob_match(const char *pattern, const char *name);
