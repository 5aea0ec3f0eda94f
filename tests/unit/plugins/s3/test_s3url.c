/* The s3 plugin's GetObject URLs (path-style and virtual-hosted addressing,
 * custom endpoints, key and version encoding) and the source plugins' shared
 * helpers. Compiles plugins/s3/s3.c into the test (STYLE.md §15). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "srcutil.h"

int s3_object_url(const char *endpoint, const char *region, const char *addressing, const char *bucket, const char *key,
		  const char *version, char *out, size_t outlen);

static void test_addressing(void **state)
{
	char u[4096];

	/* AWS, auto: virtual-hosted for DNS-compatible names */
	assert_int_equal(s3_object_url(NULL, "eu-west-1", "auto", "my-bucket", "app/v1.zip", NULL, u, sizeof(u)), 0);
	assert_string_equal(u, "https://my-bucket.s3.eu-west-1.amazonaws.com/app/v1.zip");
	/* AWS, auto, a bucket with dots: path style (TLS wildcard covers one label) */
	assert_int_equal(s3_object_url(NULL, "us-east-1", "auto", "my.bucket", "k", NULL, u, sizeof(u)), 0);
	assert_string_equal(u, "https://s3.us-east-1.amazonaws.com/my.bucket/k");
	/* custom endpoint, auto: path style; trailing slash dropped */
	assert_int_equal(s3_object_url("http://127.0.0.1:9000/", NULL, "auto", "rel", "a/b.tgz", NULL, u, sizeof(u)),
			 0);
	assert_string_equal(u, "http://127.0.0.1:9000/rel/a/b.tgz");
	/* custom endpoint, virtual requested */
	assert_int_equal(s3_object_url("https://minio.example:9000", NULL, "virtual", "rel", "k", NULL, u, sizeof(u)),
			 0);
	assert_string_equal(u, "https://rel.minio.example:9000/k");
	/* path requested on AWS */
	assert_int_equal(s3_object_url(NULL, "us-west-2", "path", "rel", "k", NULL, u, sizeof(u)), 0);
	assert_string_equal(u, "https://s3.us-west-2.amazonaws.com/rel/k");
	/* a name that cannot be a host name */
	assert_int_equal(s3_object_url(NULL, "us-east-1", "virtual", "Bad_Bucket", "k", NULL, u, sizeof(u)), -EINVAL);
}

static void test_encoding(void **state)
{
	char u[4096];

	assert_int_equal(
	    s3_object_url("http://h:1", NULL, "path", "b", "dir/my app+1 é.zip", "3/L4kq=Jl", u, sizeof(u)), 0);
	assert_string_equal(u, "http://h:1/b/dir/my%20app%2B1%20%C3%A9.zip?versionId=3%2FL4kq%3DJl");
	assert_int_equal(s3_object_url("http://h:1", NULL, "path", "b", "k", NULL, u, 10), -ENOSPC);
}

static void test_srcutil(void **state)
{
	char out[64];

	src_xml_tag("<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>", "Code", out, sizeof(out));
	assert_string_equal(out, "NoSuchKey");
	src_xml_tag("<Error></Error>", "Code", out, sizeof(out));
	assert_string_equal(out, "");
	src_error_text("{\"message\": \"Bad credentials\", \"x\": 1}", out, sizeof(out));
	assert_string_equal(out, "Bad credentials");
	src_error_text("<Error><Message>Access Denied</Message></Error>", out, sizeof(out));
	assert_string_equal(out, "Access Denied");
	src_error_text("PK\x03\x04\x01binary", out, sizeof(out));
	assert_string_equal(out, "");
	assert_string_equal(src_type_from_name("a/b.tar.gz"), "tgz");
	assert_string_equal(src_type_from_name("B.ZIP"), "zip");
	assert_string_equal(src_type_from_name("x.tar"), "tar");
	assert_null(src_type_from_name("x.rar"));
	assert_true(src_valid_type("tgz"));
	assert_false(src_valid_type("YAML"));
	assert_int_equal(src_strip_slash("https://x///", out, sizeof(out)), 0);
	assert_string_equal(out, "https://x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addressing),
	    cmocka_unit_test(test_encoding),
	    cmocka_unit_test(test_srcutil),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
