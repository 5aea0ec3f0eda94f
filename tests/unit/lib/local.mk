# Unit tests of lib/.
check_PROGRAMS += tests/unit/lib/test_yamltree
TESTS += tests/unit/lib/test_yamltree
tests_unit_lib_test_yamltree_SOURCES = tests/unit/lib/test_yamltree.c
tests_unit_lib_test_yamltree_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_yamltree_CFLAGS = $(UNIT_CFLAGS)
tests_unit_lib_test_yamltree_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/lib/test_appspec
TESTS += tests/unit/lib/test_appspec
tests_unit_lib_test_appspec_SOURCES = tests/unit/lib/test_appspec.c
tests_unit_lib_test_appspec_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_appspec_CFLAGS = $(UNIT_CFLAGS)
tests_unit_lib_test_appspec_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/lib/test_bundle
TESTS += tests/unit/lib/test_bundle
tests_unit_lib_test_bundle_SOURCES = tests/unit/lib/test_bundle.c
tests_unit_lib_test_bundle_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_bundle_CFLAGS = $(UNIT_CFLAGS) $(ARCHIVE_CFLAGS)
tests_unit_lib_test_bundle_LDADD = $(UNIT_LIBS) $(ARCHIVE_LIBS)

check_PROGRAMS += tests/unit/lib/test_sigv4
TESTS += tests/unit/lib/test_sigv4
tests_unit_lib_test_sigv4_SOURCES = tests/unit/lib/test_sigv4.c
tests_unit_lib_test_sigv4_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_sigv4_CFLAGS = $(UNIT_CFLAGS)
tests_unit_lib_test_sigv4_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/lib/test_httpclient
TESTS += tests/unit/lib/test_httpclient
tests_unit_lib_test_httpclient_SOURCES = tests/unit/lib/test_httpclient.c
tests_unit_lib_test_httpclient_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_httpclient_CFLAGS = $(UNIT_CFLAGS) $(CURL_CFLAGS)
tests_unit_lib_test_httpclient_LDADD = $(UNIT_LIBS) $(CURL_LIBS) $(PTHREAD_LIBS) $(LIBS)

check_PROGRAMS += tests/unit/lib/test_tagfilter
TESTS += tests/unit/lib/test_tagfilter
tests_unit_lib_test_tagfilter_SOURCES = tests/unit/lib/test_tagfilter.c
tests_unit_lib_test_tagfilter_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_tagfilter_CFLAGS = $(UNIT_CFLAGS)
tests_unit_lib_test_tagfilter_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/lib/test_cryptoutil
TESTS += tests/unit/lib/test_cryptoutil
tests_unit_lib_test_cryptoutil_SOURCES = tests/unit/lib/test_cryptoutil.c
tests_unit_lib_test_cryptoutil_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_cryptoutil_CFLAGS = $(UNIT_CFLAGS)
tests_unit_lib_test_cryptoutil_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/lib/test_duration
TESTS += tests/unit/lib/test_duration
tests_unit_lib_test_duration_SOURCES = tests/unit/lib/test_duration.c
tests_unit_lib_test_duration_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_duration_CFLAGS = $(UNIT_CFLAGS)
tests_unit_lib_test_duration_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/lib/test_uuid
TESTS += tests/unit/lib/test_uuid
tests_unit_lib_test_uuid_SOURCES = tests/unit/lib/test_uuid.c
tests_unit_lib_test_uuid_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_uuid_CFLAGS = $(UNIT_CFLAGS)
tests_unit_lib_test_uuid_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/lib/test_jsonutil
TESTS += tests/unit/lib/test_jsonutil
tests_unit_lib_test_jsonutil_SOURCES = tests/unit/lib/test_jsonutil.c
tests_unit_lib_test_jsonutil_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_jsonutil_CFLAGS = $(UNIT_CFLAGS)
tests_unit_lib_test_jsonutil_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/lib/test_awsprofile
TESTS += tests/unit/lib/test_awsprofile
tests_unit_lib_test_awsprofile_SOURCES = tests/unit/lib/test_awsprofile.c
tests_unit_lib_test_awsprofile_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_awsprofile_CFLAGS = $(UNIT_CFLAGS)
tests_unit_lib_test_awsprofile_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/lib/test_appspec_shift
TESTS += tests/unit/lib/test_appspec_shift
tests_unit_lib_test_appspec_shift_SOURCES = tests/unit/lib/test_appspec_shift.c
tests_unit_lib_test_appspec_shift_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_appspec_shift_CFLAGS = $(UNIT_CFLAGS)
tests_unit_lib_test_appspec_shift_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/lib/test_strmap
TESTS += tests/unit/lib/test_strmap
tests_unit_lib_test_strmap_SOURCES = tests/unit/lib/test_strmap.c
tests_unit_lib_test_strmap_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_strmap_CFLAGS = $(UNIT_CFLAGS)
tests_unit_lib_test_strmap_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/lib/test_timerheap
TESTS += tests/unit/lib/test_timerheap
tests_unit_lib_test_timerheap_SOURCES = tests/unit/lib/test_timerheap.c
tests_unit_lib_test_timerheap_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_timerheap_CFLAGS = $(UNIT_CFLAGS)
tests_unit_lib_test_timerheap_LDADD = $(UNIT_LIBS)

check_PROGRAMS += tests/unit/lib/test_util
TESTS += tests/unit/lib/test_util
tests_unit_lib_test_util_SOURCES = tests/unit/lib/test_util.c
tests_unit_lib_test_util_CPPFLAGS = $(UNIT_CPPFLAGS)
tests_unit_lib_test_util_CFLAGS = $(UNIT_CFLAGS) -Wno-format-truncation
tests_unit_lib_test_util_LDADD = $(UNIT_LIBS)
