#include "config.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/spec.h"
#include "util.h"

static char tmpdir[256];

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/rd-spec-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/daemon.key", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/daemon.crt", tmpdir);
	unlink(p);
	rmdir(tmpdir);
	return 0;
}

/* Verifies pem against the certificate as the only trust anchor, as
 * rollout-agent does, and returns the content. */
static char *verify(const char *pem, const char *cert_pem)
{
	BIO *in = BIO_new_mem_buf(pem, -1), *cb = BIO_new_mem_buf(cert_pem, -1), *out = BIO_new(BIO_s_mem());
	X509 *cert = PEM_read_bio_X509(cb, NULL, NULL, NULL);
	X509_STORE *st = X509_STORE_new();
	CMS_ContentInfo *cms = NULL;
	unsigned char *der = NULL;
	long derlen = 0;
	char *name = NULL, *hdr = NULL, *res = NULL;

	assert_non_null(cert);
	X509_STORE_add_cert(st, cert);
	assert_int_equal(PEM_read_bio(in, &name, &hdr, &der, &derlen), 1);
	assert_string_equal(name, "PKCS7");
	const unsigned char *p = der;
	cms = d2i_CMS_ContentInfo(NULL, &p, derlen);
	assert_non_null(cms);
	if (CMS_verify(cms, NULL, st, NULL, out, CMS_BINARY) == 1) {
		char *d;
		long n = BIO_get_mem_data(out, &d);
		res = strndup(d, (size_t)n);
	}
	CMS_ContentInfo_free(cms);
	OPENSSL_free(name);
	OPENSSL_free(hdr);
	OPENSSL_free(der);
	X509_STORE_free(st);
	X509_free(cert);
	BIO_free(in);
	BIO_free(cb);
	BIO_free(out);
	return res;
}

static void test_keys_and_sign(void **state)
{
	struct spec_signer *s = NULL, *s2 = NULL;
	struct rd_error err = RD_ERROR_INIT;
	char path[512], *pem = NULL, *got;
	struct stat st;

	assert_int_equal(spec_signer_open(tmpdir, &s, &err), 0);
	snprintf(path, sizeof(path), "%s/daemon.key", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* reopening loads the same pair */
	assert_int_equal(spec_signer_open(tmpdir, &s2, &err), 0);
	assert_string_equal(spec_signer_cert_pem(s), spec_signer_cert_pem(s2));

	assert_int_equal(spec_sign(s, "{\"a\":1}", 7, &pem), 0);
	assert_non_null(strstr(pem, "-----BEGIN PKCS7-----"));
	got = verify(pem, spec_signer_cert_pem(s2));
	assert_non_null(got);
	assert_string_equal(got, "{\"a\":1}");
	free(got);
	free(pem);

	/* too big for the 8192-character envelope */
	char *big = malloc(9000);
	memset(big, 'x', 8999);
	big[8999] = 0;
	assert_int_equal(spec_sign(s, big, 8999, &pem), -E2BIG);
	free(big);

	/* a world-readable key is refused with advice */
	chmod(path, 0644);
	s2 = spec_signer_free(s2);
	assert_int_equal(spec_signer_open(tmpdir, &s2, &err), -EPERM);
	assert_non_null(strstr(err.message, "chmod 600"));
	chmod(path, 0600);

	/* a key without its certificate is not silently replaced */
	snprintf(path, sizeof(path), "%s/daemon.crt", tmpdir);
	unlink(path);
	assert_int_equal(spec_signer_open(tmpdir, &s2, &err), -ENOENT);
	assert_non_null(strstr(err.message, "daemon.crt"));
	spec_signer_free(s);
}

static void test_build(void **state)
{
	struct spec_signer *s = NULL;
	struct rd_error err = RD_ERROR_INIT;
	json_t *rev = json_pack("{s:s,s:{s:s,s:s}}", "revisionType", "Local Directory", "localLocation", "location",
				"/srv/app", "bundleType", "directory");
	struct spec_input in = {.deployment_id = "d-ABCDEFGHI",
				.application_name = "app",
				.deployment_group_name = "grp",
				.deployment_group_id = "0b7c1c5e-aaaa",
				.creator = "codeDeployRollback",
				.file_exists_behavior = "OVERWRITE",
				.revision = rev,
				.bundle_url = "http://127.0.0.1:1/bundles/abc",
				.bundle_sha256 = "abc",
				.bundle_size = 42};
	json_t *env = NULL, *spec = NULL;

	assert_int_equal(spec_signer_open(tmpdir, &s, &err), 0);
	assert_int_equal(spec_envelope(s, &in, &env, &err), 0);
	assert_string_equal(json_string_value(json_object_get(env, "DeploymentSystem")), "CodeDeploy");
	json_t *ge = json_object_get(json_object_get(env, "DeploymentSpecification"), "GenericEnvelope");
	assert_string_equal(json_string_value(json_object_get(ge, "Format")), "PKCS7/JSON");
	char *content = verify(json_string_value(json_object_get(ge, "Payload")), spec_signer_cert_pem(s));
	assert_non_null(content);
	spec = json_loads(content, 0, NULL);
	assert_non_null(spec);
	assert_string_equal(json_string_value(json_object_get(spec, "DeploymentId")), "d-ABCDEFGHI");
	assert_string_equal(json_string_value(json_object_get(spec, "DeploymentCreator")), "codeDeployRollback");
	json_t *r = json_object_get(spec, "Revision");
	assert_string_equal(json_string_value(json_object_get(r, "RevisionType")), "Local Directory");
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "LocalRevision"), "Location")),
			    "/srv/app");
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(json_object_get(spec, "AgentActionOverrides"), "AgentOverrides"),
				"FileExistsBehavior")),
			    "OVERWRITE");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(spec, "RolloutBundle"), "Size")), 42);
	free(content);
	json_decref(spec);
	json_decref(env);
	json_decref(rev);

	/* S3 and GitHub mapping */
	rev = json_pack("{s:s,s:{s:s,s:s,s:s,s:s}}", "revisionType", "S3", "s3Location", "bucket", "b", "key", "k.zip",
			"bundleType", "zip", "eTag", "e1");
	in.revision = rev;
	in.bundle_url = NULL;
	assert_int_equal(spec_build(&in, &spec, &err), 0);
	r = json_object_get(json_object_get(spec, "Revision"), "S3Revision");
	assert_string_equal(json_string_value(json_object_get(r, "Bucket")), "b");
	assert_string_equal(json_string_value(json_object_get(r, "ETag")), "e1");
	assert_null(json_object_get(spec, "RolloutBundle"));
	json_decref(spec);
	json_decref(rev);

	rev = json_pack("{s:s,s:{s:s,s:s}}", "revisionType", "GitHub", "gitHubLocation", "repository", "acme/web",
			"commitId", "abc123");
	in.revision = rev;
	assert_int_equal(spec_build(&in, &spec, &err), 0);
	r = json_object_get(json_object_get(spec, "Revision"), "GitHubRevision");
	assert_string_equal(json_string_value(json_object_get(r, "Account")), "acme");
	assert_string_equal(json_string_value(json_object_get(r, "Repository")), "web");
	json_decref(spec);
	json_decref(rev);

	rev = json_pack("{s:s}", "revisionType", "AppSpecContent");
	in.revision = rev;
	assert_int_equal(spec_build(&in, &spec, &err), -EINVAL);
	assert_non_null(strstr(err.message, "cannot be deployed to servers"));
	json_decref(rev);
	spec_signer_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_keys_and_sign, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_build, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
