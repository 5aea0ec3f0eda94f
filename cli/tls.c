/* rolloutctl tls init: a private CA, rolloutd's server certificate and the
 * agents' client certificates, made with OpenSSL's libcrypto (P-256 keys,
 * SHA-256 signatures). Works offline: no endpoint or credentials needed. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli.h"
#include "util.h"

static const char tls_usage[] =
    "Usage: rolloutctl tls init --dir DIR [--name HOST]... [--agent INSTANCE]... [--days N] [--ca-name NAME]\n"
    "\nMakes the certificates of an HTTPS rolloutd in DIR (created 0700 if missing):\n"
    "  ca.pem, ca.key                 a private CA (made once; reused when DIR has one)\n"
    "  server.pem, server.key         rolloutd's certificate for the names given with --name\n"
    "                                 (host names or IP addresses; default: localhost, 127.0.0.1\n"
    "                                 and this machine's host name), made when --name is given or\n"
    "                                 when DIR has none\n"
    "  agent-INSTANCE.pem, .key       a client certificate per --agent (subject CN = the instance's\n"
    "                                 name, as rolloutd's tls.client_ca checks it)\n"
    "Keys are written 0600. Certificates are valid --days days (default 825; the CA 3650).\n"
    "\nDaemon:  tls: {cert: DIR/server.pem, key: DIR/server.key, client_ca: DIR/ca.pem}\n"
    "Agent:   ca_file: DIR/ca.pem, client_cert: DIR/agent-INSTANCE.pem, client_key: DIR/agent-INSTANCE.key\n"
    "Clients: rolloutctl --ca-file DIR/ca.pem, aws --ca-bundle DIR/ca.pem, boto3 verify=DIR/ca.pem\n";

enum cert_kind { CERT_CA, CERT_SERVER, CERT_CLIENT };

/* OpenSSL's error queue as one line on stderr. */
static void print_ssl_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "unknown error");
	fprintf(stderr, "error: %s: %s\n", what, buf);
	ERR_clear_error();
}

/* Writes a PEM file through a temporary file and rename, with mode. */
static int write_pem(const char *path, mode_t mode, X509 *cert, EVP_PKEY *key)
{
	char tmp[PATH_MAX];
	BIO *b;
	int fd, ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		fprintf(stderr, "error: %s: path too long\n", path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		fprintf(stderr, "error: cannot write %s: %s\n", tmp, strerror(errno));
		return -errno;
	}
	(void)fchmod(fd, mode);
	b = BIO_new_fd(fd, BIO_CLOSE);
	if (!b) {
		close(fd);
		unlink(tmp);
		print_ssl_error(path);
		return -ENOMEM;
	}
	ok = cert ? PEM_write_bio_X509(b, cert) : PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL);
	ok = ok && BIO_flush(b) == 1 && fsync(fd) == 0;
	BIO_free(b);
	if (!ok || rename(tmp, path) < 0) {
		fprintf(stderr, "error: cannot write %s: %s\n", path, strerror(errno ? errno : EIO));
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return -EINVAL;
	ok = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return ok ? 0 : -ENOMEM;
}

/* "DNS:a,IP:1.2.3.4,…" for names. */
static char *san_value(char **names, size_t n)
{
	size_t len = 1;
	char *out;

	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 5;
	out = calloc(1, len);
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char buf[16];
		bool ip = inet_pton(AF_INET, names[i], buf) == 1 || inet_pton(AF_INET6, names[i], buf) == 1;
		if (i)
			strcat(out, ",");
		strcat(out, ip ? "IP:" : "DNS:");
		strcat(out, names[i]);
	}
	return out;
}

/* A new certificate for key, signed by ca_key (self-signed when ca is NULL). */
static int make_cert(enum cert_kind kind, const char *cn, char **names, size_t n_names, int days, EVP_PKEY *key,
		     X509 *ca, EVP_PKEY *ca_key, X509 **ret)
{
	X509 *x = X509_new();
	BIGNUM *serial = BN_new();
	char *san = NULL;
	int r = -EINVAL;

	if (!x || !serial || !BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
	    !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) || !X509_set_version(x, X509_VERSION_3) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 24 * 3600) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : X509_get_subject_name(x)) ||
	    !X509_set_pubkey(x, key))
		goto out;
	if (add_ext(x, ca ? ca : x, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, ca ? ca : x, NID_authority_key_identifier, "keyid:always") < 0)
		goto out;
	switch (kind) {
	case CERT_CA:
		if (add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
		    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0)
			goto out;
		break;
	case CERT_SERVER:
		san = san_value(names, n_names);
		if (!san || add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
		    add_ext(x, ca, NID_key_usage, "critical,digitalSignature") < 0 ||
		    add_ext(x, ca, NID_ext_key_usage, "serverAuth") < 0 ||
		    add_ext(x, ca, NID_subject_alt_name, san) < 0)
			goto out;
		break;
	case CERT_CLIENT:
		if (add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
		    add_ext(x, ca, NID_key_usage, "critical,digitalSignature") < 0 ||
		    add_ext(x, ca, NID_ext_key_usage, "clientAuth") < 0)
			goto out;
		break;
	}
	if (!X509_sign(x, ca_key, EVP_sha256()))
		goto out;
	*ret = x;
	x = NULL;
	r = 0;
out:
	if (r < 0)
		print_ssl_error(kind == CERT_CA ? "cannot make the CA certificate" : "cannot make a certificate");
	free(san);
	BN_free(serial);
	X509_free(x);
	return r;
}

static int load_ca(const char *cert_path, const char *key_path, X509 **ret_cert, EVP_PKEY **ret_key)
{
	FILE *f = fopen(cert_path, "r");
	X509 *x = NULL;
	EVP_PKEY *k = NULL;

	if (f) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	f = fopen(key_path, "r");
	if (f) {
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (!x || !k || X509_check_private_key(x, k) != 1) {
		fprintf(stderr,
			"error: %s and %s are not a CA certificate and its key; move them away to make a new CA\n",
			cert_path, key_path);
		X509_free(x);
		EVP_PKEY_free(k);
		return -EINVAL;
	}
	*ret_cert = x;
	*ret_key = k;
	return 0;
}

/* An instance name as a file name and a CN: what RegisterOnPremisesInstance accepts. */
static bool instance_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 100 || s[0] == '.')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("-_.@+=,", *s)))
			return false;
	return true;
}

static int write_pair(const char *dir, const char *base, X509 *cert, EVP_PKEY *key)
{
	char p[PATH_MAX];
	int r;

	snprintf(p, sizeof(p), "%s/%s.key", dir, base);
	if ((r = write_pem(p, 0600, NULL, key)) < 0)
		return r;
	snprintf(p, sizeof(p), "%s/%s.pem", dir, base);
	if ((r = write_pem(p, 0644, cert, NULL)) < 0)
		return r;
	printf("wrote %s/%s.pem and %s.key\n", dir, base, base);
	return 0;
}

static int tls_init(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"name", required_argument, NULL, 'n'},
	    {"agent", required_argument, NULL, 'a'},
	    {"days", required_argument, NULL, 'D'},
	    {"ca-name", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = NULL, *ca_name = "rolloutd CA";
	char **names = calloc((size_t)argc + 3, sizeof(char *)), **agents = calloc((size_t)argc + 1, sizeof(char *));
	char host[256], ca_cert_path[PATH_MAX], ca_key_path[PATH_MAX], server_pem[PATH_MAX];
	size_t n_names = 0, n_agents = 0;
	X509 *ca = NULL, *x = NULL;
	EVP_PKEY *ca_key = NULL, *k = NULL;
	int days = 825, opt, ex = CLI_EXIT_USAGE;
	bool have_ca;

	if (!names || !agents) {
		fprintf(stderr, "error: out of memory\n");
		goto out;
	}
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			names[n_names++] = optarg;
			break;
		case 'a':
			if (!instance_name_ok(optarg)) {
				fprintf(stderr,
					"error: --agent '%s' is not an instance name (letters, digits, -_.@+=,)\n",
					optarg);
				goto out;
			}
			agents[n_agents++] = optarg;
			break;
		case 'D': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 36500) {
				fprintf(stderr, "error: --days takes a number of days (1..36500)\n");
				goto out;
			}
			days = (int)v;
			break;
		}
		case 'c':
			ca_name = optarg;
			break;
		case 'h':
			fputs(tls_usage, stdout);
			ex = CLI_EXIT_OK;
			goto out;
		default:
			fputs(tls_usage, stderr);
			goto out;
		}
	}
	if (!dir || optind != argc) {
		fprintf(stderr, "error: tls init needs --dir DIR (and no other arguments)\n%s", tls_usage);
		goto out;
	}
	ex = CLI_EXIT_CONFIG;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "error: cannot create %s: %s\n", dir, strerror(errno));
		goto out;
	}
	snprintf(ca_cert_path, sizeof(ca_cert_path), "%s/ca.pem", dir);
	snprintf(ca_key_path, sizeof(ca_key_path), "%s/ca.key", dir);
	snprintf(server_pem, sizeof(server_pem), "%s/server.pem", dir);
	have_ca = access(ca_cert_path, F_OK) == 0 || access(ca_key_path, F_OK) == 0;
	ex = CLI_EXIT_FAILED;
	if (have_ca) {
		if (load_ca(ca_cert_path, ca_key_path, &ca, &ca_key) < 0)
			goto out;
		printf("using the CA in %s\n", ca_cert_path);
	} else {
		ca_key = EVP_EC_gen("P-256");
		if (!ca_key) {
			print_ssl_error("cannot make a key");
			goto out;
		}
		if (make_cert(CERT_CA, ca_name, NULL, 0, days > 3650 ? days : 3650, ca_key, NULL, ca_key, &ca) < 0 ||
		    write_pair(dir, "ca", ca, ca_key) < 0)
			goto out;
	}
	if (n_names || access(server_pem, F_OK) != 0) {
		if (!n_names) {
			names[n_names++] = (char *)"localhost";
			names[n_names++] = (char *)"127.0.0.1";
			if (gethostname(host, sizeof(host)) == 0 && host[0] && strcmp(host, "localhost") != 0) {
				host[sizeof(host) - 1] = '\0';
				names[n_names++] = host;
			}
		}
		k = EVP_EC_gen("P-256");
		if (!k) {
			print_ssl_error("cannot make a key");
			goto out;
		}
		if (make_cert(CERT_SERVER, names[0], names, n_names, days, k, ca, ca_key, &x) < 0 ||
		    write_pair(dir, "server", x, k) < 0)
			goto out;
		X509_free(x);
		EVP_PKEY_free(k);
		x = NULL;
		k = NULL;
	}
	for (size_t i = 0; i < n_agents; i++) {
		char base[160];
		k = EVP_EC_gen("P-256");
		if (!k) {
			print_ssl_error("cannot make a key");
			goto out;
		}
		snprintf(base, sizeof(base), "agent-%s", agents[i]);
		if (make_cert(CERT_CLIENT, agents[i], NULL, 0, days, k, ca, ca_key, &x) < 0 ||
		    write_pair(dir, base, x, k) < 0)
			goto out;
		X509_free(x);
		EVP_PKEY_free(k);
		x = NULL;
		k = NULL;
	}
	ex = CLI_EXIT_OK;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	free(names);
	free(agents);
	return ex;
}

int cmd_tls(struct cli *c, int argc, char **argv)
{
	(void)c;
	if (argc >= 2 && strcmp(argv[1], "init") == 0)
		return tls_init(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(tls_usage, stdout);
		return CLI_EXIT_OK;
	}
	fprintf(stderr, "error: tls takes the subcommand init\n%s", tls_usage);
	return CLI_EXIT_USAGE;
}
