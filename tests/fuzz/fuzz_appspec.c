/* The AppSpec parsers: appspec.yml of server deployments (lib/appspec.c),
 * then the Lambda and ECS AppSpec (lib/appspec_shift.c), on the same bytes.
 * A parsed server AppSpec is also checked against the host events, as the
 * agent does with AllPossibleLifecycleEvents. */
#include "config.h"

#include <jansson.h>

#include "appspec.h"
#include "appspec_shift.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const events[] = {"ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart",
					     "ValidateService"};
	const char *text = (const char *)data;
	struct appspec *spec = NULL;
	json_t *shift = NULL;
	char err[1024];

	if (size > APPSPEC_MAX_BYTES)
		return 0;
	if (appspec_parse(text, size, "appspec.yml", &spec, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < spec->n_hooks; i++)
			(void)appspec_hook(spec, spec->hooks[i].event);
		(void)appspec_check_events(spec, events, sizeof(events) / sizeof(events[0]), err, sizeof(err));
		spec = appspec_free(spec);
	}
	for (int p = 0; p < 2; p++) {
		const char *platform = p ? "ECS" : "Lambda";
		if (appspec_shift_parse(text, size, "appspec.yml", platform, &shift, err, sizeof(err)) == 0) {
			for (const char *const *ev = appspec_shift_hook_events(platform); ev && *ev; ev++)
				(void)appspec_shift_hook(shift, *ev);
			json_decref(shift);
		}
	}
	return 0;
}
