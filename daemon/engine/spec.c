#include "config.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/spec.h"
#include "cryptoutil.h"
#include "jsonutil.h"
#include "util.h"

struct spec_signer {
	EVP_PKEY *key;
	X509 *cert;
	char *cert_pem;
};

struct spec_signer *spec_signer_free(struct spec_signer *s)
{
	if (!s)
		return NULL;
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	free(s->cert_pem);
	free(s);
	return NULL;
}

const char *spec_signer_cert_pem(const struct spec_signer *s)
{
	return s->cert_pem;
}

static int bio_to_string(BIO *b, char **ret)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	char *s;

	if (n < 0)
		return -EIO;
	s = malloc((size_t)n + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	*ret = s;
	return 0;
}

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EIO;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EIO;
}

static int generate(EVP_PKEY **ret_key, X509 **ret_cert)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int r = -EIO;

	key = EVP_EC_gen("P-256");
	cert = X509_new();
	if (!key || !cert)
		goto out;
	if (rd_random_bytes(serial, sizeof(serial)) < 0)
		goto out;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
		goto out;
	if (!X509_set_version(cert, 2) || !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600) || !X509_set_pubkey(cert, key))
		goto out;
	name = X509_get_subject_name(cert);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"rolloutd", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"rolloutd", -1, -1, 0) ||
	    !X509_set_issuer_name(cert, name))
		goto out;
	if (add_ext(cert, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    add_ext(cert, NID_key_usage, "critical,digitalSignature,keyCertSign") < 0 ||
	    add_ext(cert, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") < 0)
		goto out;
	if (!X509_sign(cert, key, EVP_sha256()))
		goto out;
	*ret_key = key;
	*ret_cert = cert;
	key = NULL;
	cert = NULL;
	r = 0;
out:
	BN_free(bn);
	EVP_PKEY_free(key);
	X509_free(cert);
	return r;
}

static int write_pem_files(const char *key_path, const char *cert_path, EVP_PKEY *key, X509 *cert)
{
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int r = -EIO;

	if (!kb || !cb)
		goto out;
	if (!PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) || !PEM_write_bio_X509(cb, cert))
		goto out;
	/* Key first: a crash in between leaves a key without certificate,
	 * which spec_signer_open reports instead of guessing. */
	n = BIO_get_mem_data(kb, &p);
	r = rd_write_file_atomic(key_path, p, (size_t)n, 0600);
	if (r < 0)
		goto out;
	n = BIO_get_mem_data(cb, &p);
	r = rd_write_file_atomic(cert_path, p, (size_t)n, 0644);
out:
	BIO_free(kb);
	BIO_free(cb);
	return r;
}

int spec_signer_open(const char *data_dir, struct spec_signer **ret, struct rd_error *err)
{
	char key_path[4096], cert_path[4096];
	struct spec_signer *s = NULL;
	bool have_key, have_cert;
	BIO *b = NULL;
	int r;

	snprintf(key_path, sizeof(key_path), "%s/daemon.key", data_dir);
	snprintf(cert_path, sizeof(cert_path), "%s/daemon.crt", data_dir);
	have_key = access(key_path, F_OK) == 0;
	have_cert = access(cert_path, F_OK) == 0;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;

	if (!have_key && !have_cert) {
		r = generate(&s->key, &s->cert);
		if (r < 0) {
			rd_error_set(err, 0, "INTERNAL_ERROR", "cannot generate the spec signing key: OpenSSL failed");
			goto out;
		}
		r = write_pem_files(key_path, cert_path, s->key, s->cert);
		if (r < 0) {
			rd_error_set(err, 0, "INTERNAL_ERROR",
				     "cannot write %s and %s: %s; check that data_dir is writable", key_path, cert_path,
				     strerror(-r));
			goto out;
		}
	} else if (have_key != have_cert) {
		rd_error_set(err, 0, "INTERNAL_ERROR",
			     "%s exists but %s does not; restore the missing file from a backup, or remove both to "
			     "generate a new pair (agents must then be given the new daemon.crt)",
			     have_key ? key_path : cert_path, have_key ? cert_path : key_path);
		r = -ENOENT;
		goto out;
	} else {
		struct stat st;
		FILE *f;

		if (stat(key_path, &st) == 0 && (st.st_mode & 077)) {
			rd_error_set(err, 0, "INTERNAL_ERROR",
				     "%s is readable by other users (mode %03o); run chmod 600 %s", key_path,
				     (unsigned)(st.st_mode & 0777), key_path);
			r = -EPERM;
			goto out;
		}
		f = fopen(key_path, "re");
		if (f) {
			s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
			fclose(f);
		}
		f = fopen(cert_path, "re");
		if (f) {
			s->cert = PEM_read_X509(f, NULL, NULL, NULL);
			fclose(f);
		}
		if (!s->key || !s->cert) {
			rd_error_set(err, 0, "INTERNAL_ERROR", "cannot read %s", !s->key ? key_path : cert_path);
			r = -EINVAL;
			goto out;
		}
		if (X509_check_private_key(s->cert, s->key) != 1) {
			rd_error_set(err, 0, "INTERNAL_ERROR", "%s does not belong to %s; restore the matching pair",
				     key_path, cert_path);
			r = -EINVAL;
			goto out;
		}
	}
	b = BIO_new(BIO_s_mem());
	if (!b || !PEM_write_bio_X509(b, s->cert) || bio_to_string(b, &s->cert_pem) < 0) {
		rd_error_set(err, 0, "INTERNAL_ERROR", "out of memory");
		r = -ENOMEM;
		goto out;
	}
	*ret = s;
	s = NULL;
	r = 0;
out:
	BIO_free(b);
	spec_signer_free(s);
	return r;
}

int spec_sign(const struct spec_signer *s, const char *text, size_t len, char **ret_pem)
{
	BIO *in = NULL, *der = NULL, *pem = NULL;
	CMS_ContentInfo *cms = NULL;
	char *p;
	long n;
	int r = -EIO;

	in = BIO_new_mem_buf(text, (int)len);
	der = BIO_new(BIO_s_mem());
	pem = BIO_new(BIO_s_mem());
	if (!in || !der || !pem)
		goto out;
	cms = CMS_sign(s->cert, s->key, NULL, in, CMS_BINARY);
	if (!cms || !i2d_CMS_bio(der, cms))
		goto out;
	n = BIO_get_mem_data(der, &p);
	/* The official agent reads "-----BEGIN PKCS7-----"; the DER is the same
	 * ContentInfo either way. */
	if (!PEM_write_bio(pem, "PKCS7", "", (const unsigned char *)p, n))
		goto out;
	if (BIO_ctrl_pending(pem) > SPEC_PAYLOAD_MAX) {
		r = -E2BIG;
		goto out;
	}
	r = bio_to_string(pem, ret_pem);
out:
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	BIO_free(der);
	BIO_free(pem);
	return r;
}

static int set_str(json_t *o, const char *k, const char *v)
{
	if (!v)
		return 0;
	return json_object_set_new(o, k, json_string(v)) == 0 ? 0 : -ENOMEM;
}

int spec_build(const struct spec_input *in, json_t **ret, struct rd_error *err)
{
	json_t *spec = json_object(), *rev = json_object();
	const char *type = in->revision ? rd_json_str(in->revision, "revisionType") : NULL;
	int r = -EINVAL;

	if (!spec || !rev) {
		r = -ENOMEM;
		goto out;
	}
	if (!in->deployment_id || !in->application_name || !in->deployment_group_name || !in->deployment_group_id) {
		rd_error_set(err, 0, "INVALID_REVISION", "internal: spec without deployment, application or group");
		goto out;
	}
	if (!type) {
		rd_error_set(err, 0, "INVALID_REVISION",
			     "the deployment has no revision; create it with --s3-location, --github-location "
			     "or a revision registered with the application");
		goto out;
	}
	if (strcmp(type, "S3") == 0) {
		const json_t *s3 = json_object_get(in->revision, "s3Location");
		json_t *o = json_object();
		if (!o || !rd_json_str(s3, "bucket") || !rd_json_str(s3, "key")) {
			json_decref(o);
			rd_error_set(err, 0, "INVALID_REVISION", "S3 revision without bucket or key");
			goto out;
		}
		set_str(o, "Bucket", rd_json_str(s3, "bucket"));
		set_str(o, "Key", rd_json_str(s3, "key"));
		set_str(o, "BundleType", rd_json_str(s3, "bundleType") ? rd_json_str(s3, "bundleType") : "zip");
		set_str(o, "Version", rd_json_str(s3, "version"));
		set_str(o, "ETag", rd_json_str(s3, "eTag"));
		json_object_set_new(rev, "S3Revision", o);
	} else if (strcmp(type, "GitHub") == 0) {
		const json_t *gh = json_object_get(in->revision, "gitHubLocation");
		const char *repo = rd_json_str(gh, "repository"), *slash = repo ? strchr(repo, '/') : NULL;
		json_t *o = json_object();
		if (!o || !slash || !rd_json_str(gh, "commitId")) {
			json_decref(o);
			rd_error_set(err, 0, "INVALID_REVISION",
				     "GitHub revision needs repository \"account/repo\" and commitId");
			goto out;
		}
		json_object_set_new(o, "Account", json_stringn(repo, (size_t)(slash - repo)));
		set_str(o, "Repository", slash + 1);
		set_str(o, "CommitId", rd_json_str(gh, "commitId"));
		set_str(o, "BundleType", "tar");
		json_object_set_new(rev, "GitHubRevision", o);
	} else if (strcmp(type, "Local File") == 0 || strcmp(type, "Local Directory") == 0 ||
		   strcmp(type, "Local") == 0) {
		/* rolloutd extension for hosts that can read the bundle
		 * themselves: {"revisionType": "Local File"|"Local Directory",
		 * "localLocation": {"location", "bundleType"}}. */
		const json_t *loc = json_object_get(in->revision, "localLocation");
		const char *bt = rd_json_str(loc, "bundleType");
		json_t *o = json_object();
		if (!o || !rd_json_str(loc, "location")) {
			json_decref(o);
			rd_error_set(err, 0, "INVALID_REVISION", "local revision without localLocation.location");
			goto out;
		}
		if (!bt)
			bt = strcmp(type, "Local File") == 0 ? "tar" : "directory";
		if (strcmp(type, "Local") == 0)
			type = strcmp(bt, "directory") == 0 ? "Local Directory" : "Local File";
		set_str(o, "Location", rd_json_str(loc, "location"));
		set_str(o, "BundleType", bt);
		json_object_set_new(rev, "LocalRevision", o);
	} else if (in->bundle_url) {
		/* Bundle and every type a source plugin serves (rolloutd
		 * extensions, docs/api-extensions.md): only our agent deploys
		 * them, from RolloutBundle; the location is informative. */
		json_object_set(rev, "Location", (json_t *)in->revision);
	} else {
		rd_error_set(
		    err, 0, "INVALID_REVISION",
		    "revision type %s cannot be deployed to servers; use S3, GitHub or a bundle the daemon caches",
		    type);
		goto out;
	}
	set_str(rev, "RevisionType", type);

	set_str(spec, "DeploymentId", in->deployment_id);
	set_str(spec, "DeploymentGroupId", in->deployment_group_id);
	set_str(spec, "DeploymentGroupName", in->deployment_group_name);
	set_str(spec, "ApplicationName", in->application_name);
	set_str(spec, "DeploymentCreator", in->creator ? in->creator : "user");
	set_str(spec, "DeploymentType", in->deployment_type ? in->deployment_type : "IN_PLACE");
	set_str(spec, "AppSpecFilename", "appspec.yml");
	json_object_set_new(spec, "Revision", rev);
	rev = NULL;
	if (in->file_exists_behavior)
		json_object_set_new(
		    spec, "AgentActionOverrides",
		    json_pack("{s:{s:s}}", "AgentOverrides", "FileExistsBehavior", in->file_exists_behavior));
	if (in->bundle_url)
		json_object_set_new(spec, "RolloutBundle",
				    json_pack("{s:s,s:s,s:I}", "Url", in->bundle_url, "Sha256",
					      in->bundle_sha256 ? in->bundle_sha256 : "", "Size",
					      (json_int_t)in->bundle_size));
	*ret = spec;
	spec = NULL;
	r = 0;
out:
	json_decref(spec);
	json_decref(rev);
	return r;
}

int spec_envelope(const struct spec_signer *s, const struct spec_input *in, json_t **ret, struct rd_error *err)
{
	json_t *spec = NULL;
	char *text = NULL, *pem = NULL;
	int r;

	r = spec_build(in, &spec, err);
	if (r < 0)
		return r;
	text = json_dumps(spec, JSON_COMPACT);
	if (!text) {
		r = -ENOMEM;
		goto out;
	}
	r = spec_sign(s, text, strlen(text), &pem);
	if (r == -E2BIG) {
		rd_error_set(err, 0, "INTERNAL_ERROR",
			     "the signed deployment specification exceeds %d characters; shorten the "
			     "revision location",
			     SPEC_PAYLOAD_MAX);
		goto out;
	} else if (r < 0) {
		rd_error_set(err, 0, "INTERNAL_ERROR", "signing the deployment specification failed");
		goto out;
	}
	*ret = json_pack("{s:s,s:{s:{s:s,s:s}}}", "DeploymentSystem", "CodeDeploy", "DeploymentSpecification",
			 "GenericEnvelope", "Format", "PKCS7/JSON", "Payload", pem);
	r = *ret ? 0 : -ENOMEM;
out:
	json_decref(spec);
	free(text);
	free(pem);
	return r;
}
