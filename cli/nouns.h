/* The nouns rolloutctl lists: for each, the List operation that pages
 * through names (or ids), the operation that fetches the objects behind
 * them, and the columns of the table they are shown in. One generic
 * fetch and one generic printer serve every noun, so a `list` subcommand
 * is a table entry plus a request. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli.h"

struct cli_column {
	const char *header; /* shown in capitals */
	/* One of: */
	const char *member;	       /* a member: strings as they are, numbers as compact JSON */
	const char *time_member;       /* a member holding epoch seconds, formatted as a date */
	char *(*format)(json_t *info); /* the cell text, malloc'd (NULL prints "-") */
	const char *fallback;	       /* when the member is missing; NULL prints "-" */
};

struct cli_noun {
	const char *list_op;  /* ListApplications */
	const char *list_key; /* "applications": the names (or ids) in its answer */
	/* The objects: either a BatchGet operation taking up to chunk names in
	 * get_key and answering result_key, or (get_one) an operation taking one
	 * name in get_key and answering one object in result_key. */
	const char *get_op;
	const char *get_key;
	const char *result_key;
	size_t chunk;
	bool get_one;
	const char *keep_key; /* member of the list request the get needs too, or NULL */
	const char *json_key; /* key of the -o json answer */
	const struct cli_column *columns;
	size_t ncols;
};

extern const struct cli_noun cli_noun_applications;
extern const struct cli_noun cli_noun_groups; /* list request: applicationName */
extern const struct cli_noun cli_noun_configs;
extern const struct cli_noun cli_noun_revisions;	    /* list request: applicationName, sorting */
extern const struct cli_noun cli_noun_deployments;	    /* list request: filters */
extern const struct cli_noun cli_noun_deployment_instances; /* list request: deploymentId */
extern const struct cli_noun cli_noun_deployment_targets;   /* list request: deploymentId */
extern const struct cli_noun cli_noun_onprem_instances;	    /* list request: tagFilters, registrationStatus */

/* Lists every page of n with list_req (NULL = {}; not consumed) and fetches
 * the objects. 0 and a new array; on failure the error of the failed call
 * is in c and *ret_op names that operation. */
int cli_noun_fetch(struct cli *c, const struct cli_noun *n, json_t *list_req, json_t **ret_infos, const char **ret_op);

/* The objects as {json_key: infos} (-o json) or as n's table. */
void cli_noun_print(struct cli *c, const struct cli_noun *n, json_t *infos, FILE *f);

/* fetch + print, for `NOUN list`: returns an exit code. */
int cli_noun_list(struct cli *c, const struct cli_noun *n, json_t *list_req);

/* Deployments newest first, at most limit (0: all); statuses is a
 * comma-separated includeOnlyStatuses or NULL. */
int cli_fetch_deployments(struct cli *c, const char *app, const char *group, const char *statuses, size_t limit,
			  json_t **ret_infos);
/* Instance summaries of a deployment. */
int cli_fetch_instances(struct cli *c, const char *deployment_id, json_t **ret_summaries);
/* InstanceInfo objects of on-premises instances (filters and status may be NULL). */
/* The DeploymentTarget objects of a Lambda / ECS deployment. */
int cli_fetch_targets(struct cli *c, const char *deployment_id, json_t **ret_targets);
int cli_fetch_onprem(struct cli *c, json_t *filters, const char *status, json_t **ret_infos);
