#include "config.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "spec.h"
#include "util.h"

struct deploy_spec *deploy_spec_free(struct deploy_spec *s)
{
	if (!s)
		return NULL;
	char **strs[] = {&s->deployment_id, &s->group_id,  &s->group_name,	 &s->application_name,
			 &s->creator,	    &s->type,	   &s->appspec_filename, &s->revision_type,
			 &s->bundle_type,   &s->s3_bucket, &s->s3_key,		 &s->s3_version,
			 &s->s3_etag,	    &s->commit_id, &s->local_location,	 &s->rb_url,
			 &s->rb_sha256,	    &s->http_url,  &s->location_sha256};
	for (size_t i = 0; i < RD_ARRAY_SIZE(strs); i++)
		free(*strs[i]);
	for (size_t i = 0; i < s->n_all_events; i++)
		free(s->all_events[i]);
	free(s->all_events);
	free(s);
	return NULL;
}

static void ossl_err(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char buf[256] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s%s%s", what, buf[0] ? ": " : "", buf);
	ERR_clear_error();
}

int spec_cms_verify(const char *pem, const char *cert_pem_path, char **ret, size_t *ret_len, char *err, size_t errlen)
{
	BIO *in = NULL, *out = NULL, *cf = NULL;
	CMS_ContentInfo *cms = NULL;
	X509_STORE *store = NULL;
	X509 *x;
	int r = -EBADMSG, n = 0;
	char *data;
	long len;

	ERR_clear_error();
	store = X509_STORE_new();
	cf = BIO_new_file(cert_pem_path, "r");
	if (!store || !cf) {
		snprintf(err, errlen, "cannot read daemon_cert %s: %s", cert_pem_path, strerror(errno));
		r = -EIO;
		goto out;
	}
	while ((x = PEM_read_bio_X509(cf, NULL, NULL, NULL))) {
		X509_STORE_add_cert(store, x);
		X509_free(x);
		n++;
	}
	ERR_clear_error();
	if (n == 0) {
		snprintf(err, errlen,
			 "daemon_cert %s holds no PEM certificate; copy rolloutd's data_dir/daemon.crt there",
			 cert_pem_path);
		r = -EIO;
		goto out;
	}
	/* rolloutd's certificate has no S/MIME key usage: accept any purpose,
	 * but the chain to the pinned certificate is still required. */
	X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
	in = BIO_new_mem_buf(pem, -1);
	if (!in) {
		r = -ENOMEM;
		goto out;
	}
	{
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long derlen = 0;
		BIO *dbio = NULL;
		if (PEM_read_bio(in, &name, &header, &der, &derlen) == 1 &&
		    (strcmp(name, "PKCS7") == 0 || strcmp(name, "CMS") == 0) &&
		    (dbio = BIO_new_mem_buf(der, (int)derlen)))
			cms = d2i_CMS_bio(dbio, NULL);
		BIO_free(dbio);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(der);
	}
	if (!cms) {
		ossl_err(err, errlen, "the deployment specification is not a PEM PKCS7 SignedData");
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		snprintf(err, errlen, "the deployment specification envelope is not SignedData");
		goto out;
	}
	out = BIO_new(BIO_s_mem());
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	if (CMS_verify(cms, NULL, store, NULL, out, CMS_BINARY) != 1) {
		ossl_err(err, errlen, "the deployment specification signature does not verify against daemon_cert");
		goto out;
	}
	len = BIO_get_mem_data(out, &data);
	if (len <= 0 || len > 1 << 20) {
		snprintf(err, errlen, "the signed deployment specification is empty or too large");
		goto out;
	}
	*ret = strndup(data, (size_t)len);
	if (!*ret) {
		r = -ENOMEM;
		goto out;
	}
	*ret_len = (size_t)len;
	r = 0;
out:
	BIO_free(in);
	BIO_free(out);
	BIO_free(cf);
	CMS_ContentInfo_free(cms);
	X509_STORE_free(store);
	return r;
}

static int jdup(json_t *o, const char *key, char **dst)
{
	const char *s = rd_json_str(o, key);
	if (!s || !*s)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

static int parse_spec(const char *text, size_t len, struct deploy_spec **ret, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, 0, &je), *rev, *o;
	struct deploy_spec *s = calloc(1, sizeof(*s));
	int r = -EINVAL;

	if (!s) {
		json_decref(j);
		return -ENOMEM;
	}
	if (!j || !json_is_object(j)) {
		snprintf(err, errlen, "the deployment specification is not a JSON object: %s", je.text);
		goto out;
	}
	if (jdup(j, "DeploymentId", &s->deployment_id) < 0 || jdup(j, "DeploymentGroupId", &s->group_id) < 0 ||
	    jdup(j, "DeploymentGroupName", &s->group_name) < 0 ||
	    jdup(j, "ApplicationName", &s->application_name) < 0 || jdup(j, "DeploymentCreator", &s->creator) < 0 ||
	    jdup(j, "DeploymentType", &s->type) < 0 || jdup(j, "AppSpecFilename", &s->appspec_filename) < 0) {
		r = -ENOMEM;
		goto out;
	}
	{
		const char *missing = !s->deployment_id	     ? "DeploymentId"
				      : !s->group_id	     ? "DeploymentGroupId"
				      : !s->group_name	     ? "DeploymentGroupName"
				      : !s->application_name ? "ApplicationName"
							     : NULL;
		if (missing) {
			snprintf(err, errlen, "the deployment specification has no %s", missing);
			goto out;
		}
	}
	if (rd_str_has_prefix(s->deployment_id, "arn:")) {
		const char *d = strstr(s->deployment_id, "deployment/");
		if (d) {
			char *n = strdup(d + strlen("deployment/"));
			if (!n) {
				r = -ENOMEM;
				goto out;
			}
			free(s->deployment_id);
			s->deployment_id = n;
		}
	}
	/* these name directories: keep them to one safe path component */
	if (strchr(s->deployment_id, '/') || strchr(s->group_id, '/') || !strcmp(s->group_id, ".") ||
	    !strcmp(s->group_id, "..") || !strcmp(s->deployment_id, ".") || !strcmp(s->deployment_id, "..") ||
	    strlen(s->deployment_id) > 128 || strlen(s->group_id) > 128) {
		snprintf(err, errlen, "the deployment specification has an unusable DeploymentId or DeploymentGroupId");
		goto out;
	}
	if ((!s->creator && !(s->creator = strdup("user"))) || (!s->type && !(s->type = strdup("IN_PLACE"))) ||
	    (!s->appspec_filename && !(s->appspec_filename = strdup("appspec.yml")))) {
		r = -ENOMEM;
		goto out;
	}
	if (strchr(s->appspec_filename, '/') || !strcmp(s->appspec_filename, "..")) {
		snprintf(err, errlen, "AppSpecFilename '%s' must be a plain file name", s->appspec_filename);
		goto out;
	}
	rev = json_object_get(j, "Revision");
	if (json_is_object(rev)) {
		if (jdup(rev, "RevisionType", &s->revision_type) < 0)
			goto nomem;
		if ((o = json_object_get(rev, "S3Revision"))) {
			if (jdup(o, "Bucket", &s->s3_bucket) < 0 || jdup(o, "Key", &s->s3_key) < 0 ||
			    jdup(o, "Version", &s->s3_version) < 0 || jdup(o, "ETag", &s->s3_etag) < 0 ||
			    jdup(o, "BundleType", &s->bundle_type) < 0)
				goto nomem;
		}
		if ((o = json_object_get(rev, "GitHubRevision"))) {
			if (jdup(o, "CommitId", &s->commit_id) < 0 || jdup(o, "BundleType", &s->bundle_type) < 0)
				goto nomem;
		}
		if ((o = json_object_get(rev, "LocalRevision"))) {
			if (jdup(o, "Location", &s->local_location) < 0 || jdup(o, "BundleType", &s->bundle_type) < 0)
				goto nomem;
		}
		/* rolloutd's extension types carry their original RevisionLocation
		 * (docs/api-extensions.md §1.2-1.4): only what BUNDLE_* needs. */
		if ((o = json_object_get(rev, "Location")) && json_is_object(o)) {
			json_t *l;
			if ((l = json_object_get(o, "bitbucketLocation")) && !s->commit_id &&
			    jdup(l, "commitId", &s->commit_id) < 0)
				goto nomem;
			if ((l = json_object_get(o, "httpLocation")) &&
			    (jdup(l, "url", &s->http_url) < 0 || jdup(l, "sha256", &s->location_sha256) < 0))
				goto nomem;
			if ((l = json_object_get(o, "bundleLocation")) && !s->location_sha256 &&
			    jdup(l, "sha256", &s->location_sha256) < 0)
				goto nomem;
		}
	}
	o = json_object_get(j, "RolloutBundle");
	if (json_is_object(o)) {
		json_t *sz = json_object_get(o, "Size");
		if (jdup(o, "Url", &s->rb_url) < 0 || jdup(o, "Sha256", &s->rb_sha256) < 0)
			goto nomem;
		if (!s->rb_url || !s->rb_sha256 || strlen(s->rb_sha256) != 64 || !json_is_integer(sz) ||
		    json_integer_value(sz) < 0) {
			snprintf(err, errlen, "RolloutBundle needs Url, a 64-hex-digit Sha256 and a Size");
			goto out;
		}
		s->rb_size = (uint64_t)json_integer_value(sz);
		s->has_rollout_bundle = true;
	}
	o = json_object_get(json_object_get(j, "AgentActionOverrides"), "AgentOverrides");
	if (json_is_object(o)) {
		const char *feb = rd_json_str(o, "FileExistsBehavior");
		if (feb && *feb && (s->feb_override = appspec_feb_parse(feb, true)) == APPSPEC_FEB_UNSET) {
			snprintf(err, errlen, "FileExistsBehavior '%s' is not DISALLOW, OVERWRITE or RETAIN", feb);
			goto out;
		}
	}
	o = json_object_get(j, "AllPossibleLifecycleEvents");
	if (json_is_array(o) && json_array_size(o) > 0) {
		size_t n = json_array_size(o);
		s->all_events = calloc(n, sizeof(char *));
		if (!s->all_events)
			goto nomem;
		for (size_t i = 0; i < n; i++) {
			const char *e = json_string_value(json_array_get(o, i));
			if (!e)
				continue;
			if (!(s->all_events[s->n_all_events] = strdup(e)))
				goto nomem;
			s->n_all_events++;
		}
	}
	*ret = s;
	s = NULL;
	r = 0;
	goto out;
nomem:
	r = -ENOMEM;
out:
	json_decref(j);
	deploy_spec_free(s);
	return r;
}

int spec_verify_and_parse(json_t *resp, const char *cert_pem_path, bool developer_mode, struct deploy_spec **ret,
			  char *err, size_t errlen)
{
	const char *sys = rd_json_str(resp, "DeploymentSystem");
	json_t *env = json_object_get(json_object_get(resp, "DeploymentSpecification"), "GenericEnvelope");
	const char *fmt = rd_json_str(env, "Format");
	const char *payload = rd_json_str(env, "Payload");
	char *text = NULL;
	size_t len = 0;
	int r;

	if (!sys || strcmp(sys, "CodeDeploy") != 0) {
		snprintf(err, errlen, "DeploymentSystem is '%s', not CodeDeploy", sys ? sys : "");
		return -EBADMSG;
	}
	if (!fmt || !payload) {
		snprintf(err, errlen, "the deployment specification has no GenericEnvelope with Format and Payload");
		return -EBADMSG;
	}
	if (strcmp(fmt, "PKCS7/JSON") == 0) {
		if (!cert_pem_path) {
			snprintf(err, errlen, "no daemon_cert configured to verify the deployment specification");
			return -EBADMSG;
		}
		if ((r = spec_cms_verify(payload, cert_pem_path, &text, &len, err, errlen)) < 0)
			return r == -ENOMEM ? r : -EBADMSG;
	} else if (strcmp(fmt, "TEXT/JSON") == 0) {
		if (!developer_mode) {
			snprintf(err, errlen,
				 "unsigned TEXT/JSON deployment specification refused (set developer_mode: "
				 "true in the agent config only for local development)");
			return -EBADMSG;
		}
		if (!(text = strdup(payload)))
			return -ENOMEM;
		len = strlen(text);
	} else {
		snprintf(err, errlen, "deployment specification format '%s' is not supported", fmt);
		return -EBADMSG;
	}
	r = parse_spec(text, len, ret, err, errlen);
	free(text);
	return r;
}
