/* daemon/auth/auth_audit.c: which calls the audit trail records. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "auth/auth_audit.h"

#define CD "CodeDeploy_20141006"
#define EXT "Rolloutd_v1"
#define CMD "CodeDeployCommandService_v20141006"

static void test_classify(void **state)
{
	/* mutating calls, whatever their result */
	assert_int_equal(audit_classify(CD, "CreateDeployment", "POST", 200, NULL), AUDIT_MUTATING);
	assert_int_equal(audit_classify(CD, "DeleteApplication", "POST", 400, "ApplicationDoesNotExistException"),
			 AUDIT_MUTATING);
	assert_int_equal(audit_classify(EXT, "RotateAccessKey", "POST", 500, "InternalFailure"), AUDIT_MUTATING);
	assert_int_equal(audit_classify(NULL, NULL, "PUT", 200, NULL), AUDIT_MUTATING); /* bundle upload */
	assert_int_equal(audit_classify(NULL, NULL, "POST", 200, NULL), AUDIT_MUTATING);
	/* reads and agents' calls are not recorded... */
	assert_int_equal(audit_classify(CD, "ListApplications", "POST", 200, NULL), AUDIT_NONE);
	assert_int_equal(audit_classify(CD, "GetDeployment", "POST", 400, "DeploymentDoesNotExistException"),
			 AUDIT_NONE);
	assert_int_equal(audit_classify(CD, "BatchGetDeployments", "POST", 200, NULL), AUDIT_NONE);
	assert_int_equal(audit_classify(EXT, "PlanDeployment", "POST", 200, NULL), AUDIT_NONE);
	assert_int_equal(audit_classify(EXT, "ListAuditEvents", "POST", 200, NULL), AUDIT_NONE);
	assert_int_equal(audit_classify(CMD, "PutHostCommandComplete", "POST", 200, NULL), AUDIT_NONE);
	assert_int_equal(audit_classify(NULL, NULL, "GET", 200, NULL), AUDIT_NONE);
	assert_int_equal(audit_classify(NULL, NULL, "HEAD", 404, NULL), AUDIT_NONE);
	/* ...unless refused */
	assert_int_equal(audit_classify(CD, "ListApplications", "POST", 400, "AccessDeniedException"), AUDIT_REFUSED);
	assert_int_equal(audit_classify(CMD, "PollHostCommand", "POST", 403, "InvalidSignatureException"),
			 AUDIT_REFUSED);
	assert_int_equal(audit_classify(NULL, NULL, "GET", 403, "MissingAuthenticationTokenException"), AUDIT_REFUSED);
	assert_int_equal(audit_classify(CD, "CreateApplication", "POST", 403, "UnrecognizedClientException"),
			 AUDIT_REFUSED);
	assert_int_equal(audit_classify(CD, "CreateApplication", "POST", 400, "IncompleteSignatureException"),
			 AUDIT_REFUSED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
