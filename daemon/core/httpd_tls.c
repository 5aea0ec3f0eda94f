/* HTTPS for the listeners: an OpenSSL server context built from the tls:
 * settings, handed to evhttp through its bufferevent callback, so each new
 * connection gets an OpenSSL bufferevent. The context is replaced as a whole
 * on reload (SIGHUP): connections already open keep the context they were
 * accepted with (an SSL holds a reference to its SSL_CTX), new ones get the
 * new certificate. Everything here runs on the I/O thread. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/error.h"
#include "core/httpd.h"
#include "core/httpd_internal.h"
#include "log.h"

/* TLS 1.2 suites with forward secrecy and AEAD only (TLS 1.3 suites are
 * all of that kind and keep OpenSSL's defaults). */
#define TLS12_CIPHERS                                                                                                  \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                     \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

struct httpd_tls {
	SSL_CTX *ctx;
	char *cert, *key, *client_ca;
};

/* OpenSSL's error queue as one message (and emptied). */
static void ssl_errors(char *buf, size_t len)
{
	unsigned long e;
	size_t used = 0;

	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		char one[256];
		ERR_error_string_n(e, one, sizeof(one));
		if (used + strlen(one) + 3 < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? "; " : "", one);
	}
	if (!buf[0])
		snprintf(buf, len, "unknown OpenSSL error");
}

/* A client certificate that does not verify does not end the handshake:
 * the SigV4 API needs none, and a route that needs one refuses the request
 * with the verification error, which says more than a TLS alert. */
static int verify_keep_going(int preverify_ok, X509_STORE_CTX *ctx)
{
	(void)preverify_ok;
	(void)ctx;
	return 1;
}

static EVP_PKEY *read_key(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return k;
}

static int build_ctx(const struct httpd_tls *t, SSL_CTX **ret, struct rd_error *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *key;
	char msg[768];

	if (!ctx) {
		ssl_errors(msg, sizeof(msg));
		return rd_error_set(err, -ENOMEM, "InternalFailure", "cannot create a TLS context: %s", msg);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
		goto ssl_fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1) {
		ssl_errors(msg, sizeof(msg));
		SSL_CTX_free(ctx);
		return rd_error_set(err, -EINVAL, "InvalidConfiguration",
				    "tls.cert: cannot use %s (%s); it must be a PEM certificate, optionally followed "
				    "by its intermediate CA certificates",
				    t->cert, msg);
	}
	key = read_key(t->key);
	if (!key) {
		ssl_errors(msg, sizeof(msg));
		SSL_CTX_free(ctx);
		return rd_error_set(err, -EINVAL, "InvalidConfiguration",
				    "tls.key: cannot use %s (%s); it must be an unencrypted PEM private key", t->key,
				    msg);
	}
	if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		ssl_errors(msg, sizeof(msg));
		EVP_PKEY_free(key);
		SSL_CTX_free(ctx);
		return rd_error_set(err, -EINVAL, "InvalidConfiguration",
				    "tls.key %s does not belong to the certificate in tls.cert %s (%s)", t->key,
				    t->cert, msg);
	}
	EVP_PKEY_free(key);
	if (t->client_ca) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->client_ca);
		if (!names || SSL_CTX_load_verify_locations(ctx, t->client_ca, NULL) != 1) {
			ssl_errors(msg, sizeof(msg));
			if (names)
				sk_X509_NAME_pop_free(names, X509_NAME_free);
			SSL_CTX_free(ctx);
			return rd_error_set(err, -EINVAL, "InvalidConfiguration",
					    "tls.client_ca: cannot use %s (%s); it must hold PEM CA certificates",
					    t->client_ca, msg);
		}
		/* Sent in the certificate request, so clients pick the right certificate. */
		SSL_CTX_set_client_CA_list(ctx, names);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_keep_going);
		SSL_CTX_set_verify_depth(ctx, 8);
		/* Session resumption with client certificates needs a context id. */
		SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"rolloutd", 8);
	}
	*ret = ctx;
	return 0;
ssl_fail:
	ssl_errors(msg, sizeof(msg));
	SSL_CTX_free(ctx);
	return rd_error_set(err, -EINVAL, "InternalFailure", "cannot set up TLS: %s", msg);
}

struct httpd_tls *httpd_tls_free(struct httpd_tls *t)
{
	if (!t)
		return NULL;
	SSL_CTX_free(t->ctx);
	free(t->cert);
	free(t->key);
	free(t->client_ca);
	free(t);
	return NULL;
}

int httpd_tls_new(const char *cert, const char *key, const char *client_ca, struct httpd_tls **ret,
		  struct rd_error *err)
{
	struct httpd_tls *t = calloc(1, sizeof(*t));
	int r;

	if (!t)
		return rd_error_set(err, -ENOMEM, "InternalFailure", "out of memory");
	t->cert = strdup(cert);
	t->key = strdup(key);
	t->client_ca = client_ca ? strdup(client_ca) : NULL;
	if (!t->cert || !t->key || (client_ca && !t->client_ca)) {
		httpd_tls_free(t);
		return rd_error_set(err, -ENOMEM, "InternalFailure", "out of memory");
	}
	r = build_ctx(t, &t->ctx, err);
	if (r < 0) {
		httpd_tls_free(t);
		return r;
	}
	*ret = t;
	return 0;
}

int httpd_tls_reload(struct httpd_tls *t, struct rd_error *err)
{
	SSL_CTX *ctx;
	int r = build_ctx(t, &ctx, err);

	if (r < 0)
		return r;
	SSL_CTX_free(t->ctx); /* open connections hold their own reference */
	t->ctx = ctx;
	return 0;
}

bool httpd_tls_client_ca(const struct httpd_tls *t)
{
	return t && t->client_ca;
}

struct bufferevent *httpd_tls_bevcb(struct event_base *base, void *arg)
{
	struct httpd_tls *t = arg;
	struct bufferevent *bev;
	SSL *ssl = SSL_new(t->ctx);

	if (!ssl) {
		char msg[512];
		ssl_errors(msg, sizeof(msg));
		log_error("httpd: cannot start a TLS connection: %s", msg);
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		log_error("httpd: cannot start a TLS connection: out of memory");
		return NULL;
	}
	/* Clients that close without close_notify (most HTTP clients) are not
	 * an error once their request is answered. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

int httpd_tls_peek(struct bufferevent *bev)
{
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	char b;
	int n, e;

	if (!ssl)
		return 1;
	ERR_clear_error();
	n = SSL_peek(ssl, &b, 1);
	if (n > 0)
		return 1;
	e = SSL_get_error(ssl, n);
	ERR_clear_error();
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -EAGAIN;
	return 0;
}

/* The subject's one common name into out, or "" when there is none, more
 * than one, or one that is not a plain string (an embedded NUL would let
 * "web-1\0x" pass for "web-1"). */
static void peer_cn(X509 *x, char *out, size_t outlen)
{
	const X509_NAME *name = X509_get_subject_name(x);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	const ASN1_STRING *data;
	unsigned char *utf8 = NULL;
	int n;

	out[0] = '\0';
	if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return;
	data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	n = ASN1_STRING_to_UTF8(&utf8, data);
	if (n > 0 && (size_t)n < outlen && memchr(utf8, '\0', (size_t)n) == NULL) {
		memcpy(out, utf8, (size_t)n);
		out[n] = '\0';
	}
	OPENSSL_free(utf8);
}

void httpd_tls_peer(struct bufferevent *bev, struct httpd_peer_cert *ret)
{
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *x;
	long v;

	memset(ret, 0, sizeof(*ret));
	if (!ssl)
		return;
	ret->tls = true;
	x = SSL_get1_peer_certificate(ssl);
	if (!x)
		return;
	ret->present = true;
	v = SSL_get_verify_result(ssl);
	ret->verified = v == X509_V_OK;
	if (!ret->verified)
		snprintf(ret->error, sizeof(ret->error), "%s", X509_verify_cert_error_string(v));
	peer_cn(x, ret->cn, sizeof(ret->cn));
	X509_free(x);
}
