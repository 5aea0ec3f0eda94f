/* The deployment specification: envelope verification (CMS against
 * daemon_cert) and the fields of the official deployment specification plus
 * RolloutBundle. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "appspec.h"

struct deploy_spec {
	char *deployment_id; /* d-XXXX (the part after "deployment/" of an ARN) */
	char *group_id;
	char *group_name;
	char *application_name;
	char *creator;		/* default "user" */
	char *type;		/* IN_PLACE | BLUE_GREEN */
	char *appspec_filename; /* default appspec.yml */
	char *revision_type;	/* S3 | GitHub | Local File | Local Directory | ... */
	char *bundle_type;	/* tar | tgz | zip | directory (may be NULL) */
	char *s3_bucket, *s3_key, *s3_version, *s3_etag;
	char *commit_id;       /* GitHub, or Bitbucket (Revision.Location.bitbucketLocation) */
	char *http_url;	       /* HTTP: Revision.Location.httpLocation.url */
	char *location_sha256; /* HTTP / Bundle: the sha256 their location names */
	char *local_location;
	bool has_rollout_bundle;
	char *rb_url, *rb_sha256;
	uint64_t rb_size;
	enum appspec_feb feb_override; /* UNSET when absent */
	char **all_events;
	size_t n_all_events;
};

/* Verifies the GetDeploymentSpecification answer and parses the spec.
 * cert_pem_path: daemon_cert (may be NULL only with developer_mode, which
 * also allows TEXT/JSON). -EBADMSG with err for anything not trustworthy,
 * -EINVAL for a malformed spec. */
int spec_verify_and_parse(json_t *resp, const char *cert_pem_path, bool developer_mode, struct deploy_spec **ret,
			  char *err, size_t errlen);
struct deploy_spec *deploy_spec_free(struct deploy_spec *s);

/* Verifies a PEM PKCS7 attached SignedData against the certificate(s) in
 * cert_pem_path and returns the content (NUL-terminated, caller frees). */
int spec_cms_verify(const char *pem, const char *cert_pem_path, char **ret, size_t *ret_len, char *err, size_t errlen);
