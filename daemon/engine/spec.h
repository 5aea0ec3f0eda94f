/* The deployment specification served by GetDeploymentSpecification
 * (agent/PROTOCOL.md): the official JSON fields plus rolloutd's extension
 * RolloutBundle {Url, Sha256, Size}, wrapped as a PKCS7/JSON envelope —
 * CMS SignedData with the JSON attached, PEM "-----BEGIN PKCS7-----" —
 * signed with data_dir/daemon.key. The certificate data_dir/daemon.crt is
 * what agents pin (daemon_cert).
 *
 * On first start spec_signer_open() generates both: an EC P-256 key (file
 * mode 0600) and a self-signed certificate (CA:TRUE, 10 years, CN rolloutd,
 * subjectAltName DNS:localhost, IP:127.0.0.1) so it can also serve as the
 * trust anchor of a TLS listener on loopback. Both files are written
 * atomically. A key without its certificate (or the reverse) is an error,
 * never silently replaced: agents pinned the old certificate. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/error.h"

struct spec_signer;

#define SPEC_PAYLOAD_MAX 8192 /* Envelope.Payload limit of the model */

/* Loads data_dir/daemon.key + daemon.crt, creating them when both are
 * absent. *ret owned by the caller (spec_signer_free). */
int spec_signer_open(const char *data_dir, struct spec_signer **ret, struct rd_error *err);
struct spec_signer *spec_signer_free(struct spec_signer *s);
/* PEM of the certificate (borrowed, lives as long as s). */
const char *spec_signer_cert_pem(const struct spec_signer *s);

/* Signs text (attached SignedData, binary, signer certificate included) and
 * returns the PEM in *ret_pem (caller frees). -E2BIG when the PEM would
 * exceed SPEC_PAYLOAD_MAX. Thread-safe. */
int spec_sign(const struct spec_signer *s, const char *text, size_t len, char **ret_pem);

struct spec_input {
	const char *deployment_id;
	const char *application_name;
	const char *deployment_group_name;
	const char *deployment_group_id;
	const char *creator;		  /* NULL = "user" */
	const char *deployment_type;	  /* NULL = "IN_PLACE" */
	const char *file_exists_behavior; /* NULL = omitted (agent default DISALLOW) */
	const json_t *revision;		  /* RevisionLocation as stored by the API (borrowed) */
	/* RolloutBundle extension; url NULL = omitted. */
	const char *bundle_url;
	const char *bundle_sha256;
	int64_t bundle_size;
};

/* Builds the spec JSON object (new reference in *ret). -EINVAL with a
 * message for a revision the host agent cannot fetch. */
int spec_build(const struct spec_input *in, json_t **ret, struct rd_error *err);

/* spec_build + serialise + spec_sign, into the JSON of the whole
 * GetDeploymentSpecification answer ({"DeploymentSystem": "CodeDeploy",
 * "DeploymentSpecification": {"GenericEnvelope": {...}}}). */
int spec_envelope(const struct spec_signer *s, const struct spec_input *in, json_t **ret, struct rd_error *err);
