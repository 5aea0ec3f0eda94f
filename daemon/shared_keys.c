/* The keys the daemons of a cluster share (shared_keys.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/auth_secret.h"
#include "core/conf.h"
#include "core/error.h"
#include "engine/spec.h"
#include "log.h"
#include "shared_keys.h"
#include "store/store.h"
#include "util.h"

#define PEM_MAX (64 * 1024)

/* sha256 of the DER of the first certificate in pem, as 64 hex digits. */
static int cert_sha256(const char *pem, size_t len, char out[65])
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int r = -EINVAL;

	if (x && X509_digest(x, EVP_sha256(), md, &n) == 1) {
		rd_hex(md, n, out);
		r = 0;
	}
	X509_free(x);
	BIO_free(b);
	return r;
}

int shared_keys_check_kek(const struct rd_config *cfg, struct store *st, const struct auth_kek *kek,
			  struct rd_error *err)
{
	char mine[65], path[4200], *got = NULL;
	int r;

	if (!store_is_postgresql(st))
		return 0;
	if (cfg->kek_file)
		rd_strlcpy(path, cfg->kek_file, sizeof(path));
	else
		snprintf(path, sizeof(path), "%s/kek", cfg->data_dir);
	r = auth_kek_check(kek, mine);
	if (r == 0)
		r = store_shared_key_claim(st, "kek_check", mine, &got);
	if (r < 0)
		return rd_error_set(err, r, "InternalFailure", "cannot record the check of the KEK in the store: %s",
				    strerror(-r));
	if (strcmp(got, mine) != 0)
		r = rd_error_set(err, -EKEYREJECTED, "ConfigError",
				 "kek_file %s is not the KEK the other daemons on this database use (its check %.16s "
				 "differs from %.16s, recorded by the first daemon): every daemon must have the same "
				 "KEK; copy the first daemon's kek_file to this host and set kek_file to it",
				 path, mine, got);
	free(got);
	return r;
}

static int check_tls(const struct rd_config *cfg, struct store *st, struct rd_error *err)
{
	char mine[65] = "none", *pem = NULL, *got = NULL;
	size_t len;
	int r;

	if (cfg->tls_cert) {
		r = rd_read_file(cfg->tls_cert, PEM_MAX, &pem, &len);
		if (r == 0)
			r = cert_sha256(pem, len, mine);
		free(pem);
		if (r < 0)
			return rd_error_set(err, r, "ConfigError", "tls cert %s: cannot read a PEM certificate from it",
					    cfg->tls_cert);
	}
	r = store_shared_key_claim(st, "tls_sha256", mine, &got);
	if (r < 0)
		return rd_error_set(err, r, "InternalFailure",
				    "cannot record the TLS certificate's fingerprint in the store: %s", strerror(-r));
	if (strcmp(got, mine) != 0)
		r = rd_error_set(
		    err, -EKEYREJECTED, "ConfigError",
		    "this daemon serves %s%s%s (sha256 %s) but the other daemons on this database serve %s%s: agents "
		    "pin "
		    "one certificate, so every daemon must have the same tls cert and key files (when renewing it, "
		    "give every daemon the new files and see docs/cluster.md)",
		    cfg->tls_cert ? "TLS certificate " : "plain HTTP", cfg->tls_cert ? cfg->tls_cert : "",
		    cfg->tls_cert ? "" : " (no tls)", mine, strcmp(got, "none") ? "the certificate with sha256 " : "",
		    strcmp(got, "none") ? got : "plain HTTP (no tls)");
	free(got);
	return r;
}

/* The signing pair recorded in the store, written into data_dir: key first
 * (spec_signer_open reports a key without its certificate). */
static int write_pair(const char *key_path, const char *cert_path, const char *key, const char *cert,
		      struct rd_error *err)
{
	int r = rd_write_file_atomic(key_path, key, strlen(key), 0600);

	if (r == 0)
		r = rd_write_file_atomic(cert_path, cert, strlen(cert), 0644);
	if (r < 0)
		return rd_error_set(err, r, "InternalFailure",
				    "cannot write %s and %s: %s; check that data_dir is writable", key_path, cert_path,
				    strerror(-r));
	return 0;
}

static int check_signer(const struct rd_config *cfg, struct store *st, const struct auth_kek *kek, struct rd_error *err)
{
	char key_path[4200], cert_path[4200], here_fp[65], db_fp[65];
	char *key = NULL, *cert = NULL, *sealed = NULL, *mine = NULL, *got = NULL, *db_key = NULL;
	const char *db_cert, *db_sealed;
	bool generated = false;
	json_t *v = NULL;
	size_t len;
	int r;

	snprintf(key_path, sizeof(key_path), "%s/daemon.key", cfg->data_dir);
	snprintf(cert_path, sizeof(cert_path), "%s/daemon.crt", cfg->data_dir);
	r = store_shared_key_claim(st, "spec_signer", NULL, &got);
	if (r == -ENOENT) {
		/* the first daemon on this database: its pair (made now when
		 * data_dir has none) becomes the cluster's */
		struct spec_signer *s = NULL;
		generated = access(key_path, F_OK) != 0 && access(cert_path, F_OK) != 0;
		r = spec_signer_open(cfg->data_dir, &s, err);
		spec_signer_free(s);
		if (r < 0)
			goto out;
		r = rd_read_file(key_path, PEM_MAX, &key, &len);
		if (r == 0)
			r = rd_read_file(cert_path, PEM_MAX, &cert, &len);
		if (r == 0)
			r = auth_kek_seal_text(kek, "daemon.key", key, &sealed);
		if (r == 0) {
			v = json_pack("{s:s, s:s}", "cert", cert, "key", sealed);
			mine = v ? json_dumps(v, JSON_COMPACT) : NULL;
			r = mine ? 0 : -ENOMEM;
			json_decref(v);
			v = NULL;
		}
		if (r == 0)
			r = store_shared_key_claim(st, "spec_signer", mine, &got);
		if (r < 0) {
			rd_error_set(err, r, "InternalFailure", "cannot keep the signing key in the store: %s",
				     strerror(-r));
			goto out;
		}
		if (!strcmp(got, mine)) {
			log_notice("the signing key of %s is now the one every daemon on this database uses", key_path);
			goto out;
		}
		/* another daemon recorded its own meanwhile */
	} else if (r < 0) {
		rd_error_set(err, r, "InternalFailure", "cannot read the signing key from the store: %s", strerror(-r));
		goto out;
	}
	v = json_loads(got, 0, NULL);
	db_cert = json_string_value(json_object_get(v, "cert"));
	db_sealed = json_string_value(json_object_get(v, "key"));
	if (!db_cert || !db_sealed || cert_sha256(db_cert, strlen(db_cert), db_fp) < 0) {
		r = rd_error_set(err, -EBADMSG, "InternalFailure",
				 "the signing key recorded in the store (meta cluster.spec_signer) is damaged");
		goto out;
	}
	r = auth_kek_open_text(kek, "daemon.key", db_sealed, &db_key);
	if (r < 0) {
		rd_error_set(
		    err, r, "ConfigError",
		    "the signing key in the store does not open with this daemon's KEK (%s); give every daemon "
		    "the same kek_file",
		    strerror(-r));
		goto out;
	}
	free(cert);
	cert = NULL;
	if (!generated && access(cert_path, F_OK) == 0) {
		r = rd_read_file(cert_path, PEM_MAX, &cert, &len);
		if (r == 0 && cert_sha256(cert, len, here_fp) < 0)
			r = -EINVAL;
		if (r < 0) {
			rd_error_set(err, r, "ConfigError", "cannot read the certificate %s", cert_path);
			goto out;
		}
		if (!strcmp(here_fp, db_fp))
			goto out;
		r = rd_error_set(
		    err, -EKEYREJECTED, "ConfigError",
		    "%s (sha256 %s) is not the certificate the daemons on this database sign deployment specifications "
		    "with (sha256 %s, kept in the database): agents pin one; to use the database's, move daemon.key "
		    "and "
		    "daemon.crt out of %s (agents that pinned this one then need the database's, which this daemon "
		    "writes there)",
		    cert_path, here_fp, db_fp, cfg->data_dir);
		goto out;
	}
	if (access(key_path, F_OK) == 0 && !generated) {
		r = rd_error_set(err, -EEXIST, "ConfigError",
				 "%s exists without %s; move it out of data_dir to use the database's signing key",
				 key_path, cert_path);
		goto out;
	}
	r = write_pair(key_path, cert_path, db_key, db_cert, err);
	if (r == 0)
		log_notice("wrote the signing key every daemon on this database uses into %s", key_path);
out:
	if (key)
		OPENSSL_cleanse(key, strlen(key));
	if (db_key)
		OPENSSL_cleanse(db_key, strlen(db_key));
	free(key);
	free(db_key);
	free(cert);
	free(sealed);
	free(mine);
	free(got);
	json_decref(v);
	return r;
}

int shared_keys_check(const struct rd_config *cfg, struct store *st, const struct auth_kek *kek, struct rd_error *err)
{
	int r;

	if (!store_is_postgresql(st))
		return 0;
	r = check_tls(cfg, st, err);
	if (r == 0)
		r = check_signer(cfg, st, kek, err);
	return r;
}
