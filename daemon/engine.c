/* Placeholder until the engine (issue 6) lands: deployments stay Created. */
#include "config.h"

#include "daemon.h"
#include "engine.h"

int engine_start(struct rd_daemon *d, char *err, size_t errlen)
{
	(void)d;
	(void)err;
	(void)errlen;
	return 0;
}

void engine_stop(struct rd_daemon *d)
{
	(void)d;
}

void engine_notify_created(struct rd_daemon *d, const char *deployment_id)
{
	(void)d;
	(void)deployment_id;
}
