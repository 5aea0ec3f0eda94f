/* Placeholder until the engine (issue 6) lands: deployments stay Created. */
#include "config.h"

#include <errno.h>

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

void engine_notify_instances_changed(struct rd_daemon *d)
{
	(void)d;
}

int engine_stop_deployment(struct rd_daemon *d, const char *deployment_id, int auto_rollback,
			   const char **ret_status, char *status_msg, size_t msglen)
{
	(void)d;
	(void)deployment_id;
	(void)auto_rollback;
	(void)ret_status;
	(void)status_msg;
	(void)msglen;
	return -ENOSYS;
}
