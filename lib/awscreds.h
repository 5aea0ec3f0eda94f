/* The AWS credential chain, as the AWS SDKs resolve it:
 *   1. explicit values (a plugin's access_key_id / secret_access_key /
 *      session_token, or a cli's flags),
 *   2. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *      AWS_SESSION_TOKEN,
 *   3. the shared credentials file: credentials_file, else
 *      $AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials; section
 *      `profile`, else $AWS_PROFILE, else "default",
 *   4. EC2 instance metadata (IMDSv2: token PUT, then the role's
 *      credentials), unless AWS_EC2_METADATA_DISABLED=true; endpoint
 *      imds_endpoint, else $AWS_EC2_METADATA_SERVICE_ENDPOINT, else
 *      http://169.254.169.254. IMDS results are cached until 5 minutes
 *      before they expire.
 * Library code: never logs. Thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aws_credentials {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* NULL when none */
	int64_t expires_ms;  /* wall ms; 0 = does not expire */
	const char *source;  /* "config", "environment", "shared-credentials-file", "imds" (static) */
};

struct aws_cred_options {
	const char *access_key_id; /* explicit (both or neither) */
	const char *secret_access_key;
	const char *session_token;
	const char *profile;	      /* an explicitly named profile must exist */
	const char *credentials_file; /* an explicitly named file must exist */
	const char *imds_endpoint;
	bool no_env;		 /* skip step 2 (tests) */
	bool no_imds;		 /* skip step 4 */
	int64_t imds_timeout_ms; /* per request; 0 = 1000 */
};

/* Resolves credentials. -ENOKEY when the chain found nothing, with a
 * message listing what to set; -EINVAL for half-given or malformed input;
 * other negative errno for I/O. *ret owned by the caller. */
int aws_credentials_resolve(const struct aws_cred_options *o, struct aws_credentials **ret, char *err, size_t errlen);
struct aws_credentials *aws_credentials_free(struct aws_credentials *c);

/* Forgets cached IMDS credentials (tests). */
void aws_credentials_clear_cache(void);
