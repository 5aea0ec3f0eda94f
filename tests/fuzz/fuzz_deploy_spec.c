/* The deployment specification as rollout-agent verifies and parses it
 * (agent/spec.c: the CMS envelope against daemon_cert, then the spec's
 * fields). The first byte of the input picks how the rest is used:
 *   bit 0 set   the rest is the specification's JSON, signed here with the
 *               daemon's signer (daemon/engine/spec.c) into a PKCS7/JSON
 *               envelope, so the parser behind a valid signature is reached;
 *   bit 0 clear the rest is the whole GetDeploymentSpecification answer as
 *               the agent receives it (forged envelopes, broken PEM and CMS),
 *               with developer_mode (unsigned TEXT/JSON accepted) when bit 1
 *               is set. */
#include "config.h"

#include <jansson.h>

#include "engine/spec.h"
#include "fuzz.h"
#include "spec.h"

static struct spec_signer *signer;
static char cert_path[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rd_error e = RD_ERROR_INIT;
	const char *dir = fuzz_tmpdir();

	(void)argc;
	(void)argv;
	if (spec_signer_open(dir, &signer, &e) < 0) {
		fprintf(stderr, "spec_signer_open: %s\n", e.message);
		abort();
	}
	snprintf(cert_path, sizeof(cert_path), "%s/daemon.crt", dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct deploy_spec *spec = NULL;
	json_t *resp = NULL;
	char err[2048];

	if (size < 1 || size > SPEC_PAYLOAD_MAX * 4)
		return 0;
	if (data[0] & 1) {
		char *pem = NULL;
		if (spec_sign(signer, (const char *)data + 1, size - 1, &pem) < 0)
			return 0;
		resp = json_pack("{s:s,s:{s:{s:s,s:s}}}", "DeploymentSystem", "CodeDeploy", "DeploymentSpecification",
				 "GenericEnvelope", "Format", "PKCS7/JSON", "Payload", pem);
		free(pem);
	} else {
		resp = json_loadb((const char *)data + 1, size - 1, 0, NULL);
	}
	if (!resp)
		return 0;
	if (spec_verify_and_parse(resp, cert_path, (data[0] & 2) != 0, &spec, err, sizeof(err)) == 0)
		deploy_spec_free(spec);
	json_decref(resp);
	return 0;
}
