#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent.h"
#include "hostcmd.h"
#include "log.h"
#include "runner.h"
#include "util.h"

#define CALL_TIMEOUT_S 30

static bool throttled(const struct client_reply *rep)
{
	static const char *const words[] = {"throttl", "rateexceeded", "toomanyrequests", "requestlimitexceeded"};

	if (rep->status == 429)
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasestr(rep->type, words[i]))
			return true;
	return false;
}

enum hostcmd_outcome hostcmd_classify(int r, const struct client_reply *rep)
{
	if (r == 0)
		return HOSTCMD_OK;
	if (r == -EINTR)
		return HOSTCMD_STOPPED;
	if (r == -EPROTO && rep->status >= 400 && rep->status < 500 && rep->status != 408 && !throttled(rep))
		return HOSTCMD_ANSWER;
	return HOSTCMD_FAULT;
}

unsigned hostcmd_delay_s(unsigned n)
{
	return n >= 5 ? 10 : 1u << (n ? n - 1 : 0);
}

bool hostcmd_not_found(const struct client_reply *rep)
{
	return rep->status >= 400 && rep->status < 500 &&
	       (strstr(rep->type, "DoesNotExist") || strstr(rep->type, "NotFound"));
}

void hostcmd_sleep(struct agent *ag, unsigned s)
{
	for (unsigned i = 0; i < s && !ag->stop; i++) {
		runner_reap();
		sleep(1);
	}
}

enum hostcmd_outcome hostcmd_call(struct agent *ag, const char *op, json_t *req, json_t **ret_resp,
				  struct client_reply *ret_rep, char *err, size_t errlen)
{
	bool last_chance = strcmp(op, "PutHostCommandComplete") == 0;
	int64_t end = rd_mono_ms() + HOSTCMD_RETRY_WINDOW_S * 1000;
	struct client_reply rep;
	enum hostcmd_outcome oc;

	for (unsigned n = 1;; n++) {
		unsigned delay;
		int r = client_call(ag->client, op, req, CALL_TIMEOUT_S, false, ret_resp, &rep, err, errlen);

		oc = hostcmd_classify(r, &rep);
		if (oc != HOSTCMD_FAULT)
			break;
		if (ag->stop) {
			if (!last_chance) {
				oc = HOSTCMD_STOPPED;
				break;
			}
			last_chance = false;
		}
		delay = hostcmd_delay_s(n);
		if (rd_mono_ms() + delay * 1000 > end) {
			log_warning("%s failed (attempt %u, giving up after %d s): %s", op, n, HOSTCMD_RETRY_WINDOW_S,
				    err);
			break;
		}
		log_warning("%s failed (attempt %u, retrying in %u s): %s", op, n, delay, err);
		hostcmd_sleep(ag, ag->stop ? 1 : delay);
	}
	if (ret_rep)
		*ret_rep = rep;
	return oc;
}
