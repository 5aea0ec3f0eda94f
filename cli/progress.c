#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

void progress_clear(struct progress *p)
{
	free(p->inst);
	memset(p, 0, sizeof(*p));
}

static const char *short_id(const char *id)
{
	const char *slash;

	if (strncmp(id, "arn:", 4) == 0 && (slash = strrchr(id, '/')))
		return slash + 1;
	return id;
}

static void fill_instance(struct progress_instance *pi, json_t *obj)
{
	json_t *events, *ev, *inner;
	const char *id;
	size_t i;
	int current = -1, failed = -1, last_done = -1;

	memset(pi, 0, sizeof(*pi));
	pi->weight = -1;
	if (((inner = json_object_get(obj, "instanceTarget")) && json_is_object(inner)) ||
	    ((inner = json_object_get(obj, "lambdaTarget")) && json_is_object(inner)) ||
	    ((inner = json_object_get(obj, "ecsTarget")) && json_is_object(inner)))
		obj = inner;
	{
		json_t *w = json_object_get(json_object_get(obj, "lambdaFunctionInfo"), "targetVersionWeight");
		if (json_is_number(w))
			pi->weight = (int)(json_number_value(w) * 100 + 0.5);
	}
	id = rd_json_str_or(obj, "instanceId", rd_json_str_or(obj, "targetId", "?"));
	copy_str(pi->id, sizeof(pi->id), short_id(id));
	copy_str(pi->status, sizeof(pi->status), rd_json_str_or(obj, "status", "Unknown"));
	events = json_object_get(obj, "lifecycleEvents");
	pi->events_total = (int)json_array_size(events);
	json_array_foreach(events, i, ev)
	{
		const char *st = rd_json_str_or(ev, "status", "Pending");
		double s = rd_json_number(json_object_get(ev, "startTime"));
		double e = rd_json_number(json_object_get(ev, "endTime"));

		if (s > 0 && (pi->start == 0 || s < pi->start))
			pi->start = s;
		if (e > pi->end)
			pi->end = e;
		if (strcmp(st, "Succeeded") == 0 || strcmp(st, "Skipped") == 0) {
			pi->events_done++;
			last_done = (int)i;
		} else if (strcmp(st, "InProgress") == 0 && current < 0) {
			current = (int)i;
		} else if (strcmp(st, "Failed") == 0 && failed < 0) {
			failed = (int)i;
		}
	}
	if (strcmp(pi->status, "Skipped") == 0 && failed < 0 && current < 0)
		return; /* nothing ran there: no event to show */
	{
		int pick = failed >= 0 ? failed : current >= 0 ? current : last_done;
		if (pick < 0 && pi->events_total > 0 && strcmp(pi->status, "InProgress") == 0)
			pick = 0;
		if (pick >= 0) {
			json_t *pe = json_array_get(events, (size_t)pick), *diag;
			copy_str(pi->event, sizeof(pi->event), rd_json_str_or(pe, "lifecycleEventName", ""));
			copy_str(pi->event_status, sizeof(pi->event_status), rd_json_str_or(pe, "status", ""));
			diag = json_object_get(pe, "diagnostics");
			if (failed >= 0 && json_is_object(diag)) {
				copy_str(pi->script, sizeof(pi->script), rd_json_str_or(diag, "scriptName", ""));
				copy_str(pi->error_code, sizeof(pi->error_code), rd_json_str_or(diag, "errorCode", ""));
				copy_str(pi->message, sizeof(pi->message), rd_json_str_or(diag, "message", ""));
				copy_str(pi->log_tail, sizeof(pi->log_tail), rd_json_str_or(diag, "logTail", ""));
			}
		}
	}
}

int progress_update(struct progress *p, json_t *info, json_t *instances)
{
	struct progress_instance *ni = NULL;
	json_t *ov, *err, *rb, *obj;
	size_t n = json_array_size(instances), i;

	if (info) {
		copy_str(p->deployment_id, sizeof(p->deployment_id), rd_json_str_or(info, "deploymentId", ""));
		copy_str(p->status, sizeof(p->status), rd_json_str_or(info, "status", "Unknown"));
		copy_str(p->config, sizeof(p->config), rd_json_str_or(info, "deploymentConfigName", ""));
		copy_str(p->app, sizeof(p->app), rd_json_str_or(info, "applicationName", ""));
		copy_str(p->group, sizeof(p->group), rd_json_str_or(info, "deploymentGroupName", ""));
		copy_str(p->creator, sizeof(p->creator), rd_json_str_or(info, "creator", ""));
		err = json_object_get(info, "errorInformation");
		copy_str(p->error_code, sizeof(p->error_code), rd_json_str_or(err, "code", ""));
		copy_str(p->error_message, sizeof(p->error_message), rd_json_str_or(err, "message", ""));
		rb = json_object_get(info, "rollbackInfo");
		copy_str(p->rollback_id, sizeof(p->rollback_id), rd_json_str_or(rb, "rollbackDeploymentId", ""));
		p->auto_rollback =
		    json_is_true(json_object_get(json_object_get(info, "autoRollbackConfiguration"), "enabled"));
		p->create_time = rd_json_number(json_object_get(info, "createTime"));
		p->complete_time = rd_json_number(json_object_get(info, "completeTime"));
		ov = json_object_get(info, "deploymentOverview");
		p->pending = (long)rd_json_number(json_object_get(ov, "Pending"));
		p->in_progress = (long)rd_json_number(json_object_get(ov, "InProgress"));
		p->succeeded = (long)rd_json_number(json_object_get(ov, "Succeeded"));
		p->failed = (long)rd_json_number(json_object_get(ov, "Failed"));
		p->skipped = (long)rd_json_number(json_object_get(ov, "Skipped"));
		p->ready = (long)rd_json_number(json_object_get(ov, "Ready"));
	}
	if (!instances)
		return 0;
	if (n > 0) {
		ni = calloc(n, sizeof(*ni));
		if (!ni)
			return -ENOMEM;
	}
	json_array_foreach(instances, i, obj) fill_instance(&ni[i], obj);
	/* Stable order: by instance name. */
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && strcmp(ni[b - 1].id, ni[b].id) > 0; b--) {
			struct progress_instance tmp = ni[b];
			ni[b] = ni[b - 1];
			ni[b - 1] = tmp;
		}
	free(p->inst);
	p->inst = ni;
	p->n = n;
	return 0;
}

bool progress_is_terminal(const struct progress *p)
{
	return strcmp(p->status, "Succeeded") == 0 || strcmp(p->status, "Failed") == 0 ||
	       strcmp(p->status, "Stopped") == 0;
}

struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->s && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = (b->cap + (size_t)n + 1) * 2;
		char *ns = realloc(b->s, ncap);
		if (!ns)
			return;
		b->s = ns;
		b->cap = ncap;
	}
}

static void sb_bar(struct sbuf *b, double frac, int width)
{
	int full;

	if (width < 1)
		return;
	if (frac < 0)
		frac = 0;
	if (frac > 1)
		frac = 1;
	full = (int)(frac * width + 0.5);
	sb_printf(b, "[");
	for (int i = 0; i < width; i++)
		sb_printf(b, "%s", i < full ? "#" : ".");
	sb_printf(b, "]");
}

static const char *status_color(const char *status, bool color)
{
	if (!color)
		return "";
	if (strcmp(status, "Succeeded") == 0)
		return "\033[32m";
	if (strcmp(status, "Failed") == 0 || strcmp(status, "Stopped") == 0)
		return "\033[31m";
	if (strcmp(status, "InProgress") == 0)
		return "\033[33m";
	if (strcmp(status, "Skipped") == 0)
		return "\033[2m";
	return "";
}

static double instance_elapsed(const struct progress_instance *pi, double now)
{
	bool done = strcmp(pi->status, "Succeeded") == 0 || strcmp(pi->status, "Failed") == 0 ||
		    strcmp(pi->status, "Skipped") == 0;

	if (pi->start <= 0)
		return -1;
	return (done && pi->end > 0 ? pi->end : now) - pi->start;
}

char *progress_render_tty(const struct progress *p, double now, int width, bool color)
{
	struct sbuf b = {0};
	char el[32];
	size_t idw = 8, total = p->n;
	long done = 0, failed = 0, running = 0;
	const char *reset = color ? "\033[0m" : "";
	int barw;

	for (size_t i = 0; i < p->n; i++) {
		const char *st = p->inst[i].status;
		if (strlen(p->inst[i].id) > idw)
			idw = strlen(p->inst[i].id);
		if (strcmp(st, "Succeeded") == 0 || strcmp(st, "Skipped") == 0)
			done++;
		else if (strcmp(st, "Failed") == 0)
			failed++, done++;
		else if (strcmp(st, "InProgress") == 0)
			running++;
	}
	if (idw > 40)
		idw = 40;
	if (total == 0) {
		/* Before the engine has targets, use the overview. */
		total = (size_t)(p->pending + p->in_progress + p->succeeded + p->failed + p->skipped + p->ready);
		done = p->succeeded + p->failed + p->skipped;
		failed = p->failed;
		running = p->in_progress;
	}

	sb_printf(&b, "Deployment %s  %s/%s  %s  %s%s%s  %s\n", p->deployment_id[0] ? p->deployment_id : "-",
		  p->app[0] ? p->app : "-", p->group[0] ? p->group : "-", p->config[0] ? p->config : "-",
		  status_color(p->status, color), p->status, reset,
		  cli_fmt_elapsed((progress_is_terminal(p) && p->complete_time > 0 ? p->complete_time : now) -
				      (p->create_time > 0 ? p->create_time : now),
				  el, sizeof(el)));
	barw = width - 50;
	if (barw > 40)
		barw = 40;
	if (barw < 10)
		barw = 10;
	sb_bar(&b, total ? (double)done / (double)total : 0, barw);
	sb_printf(&b, " %ld/%zu instances done", done, total);
	if (running)
		sb_printf(&b, ", %ld in progress", running);
	if (failed)
		sb_printf(&b, ", %s%ld failed%s", status_color("Failed", color), failed, reset);
	if (p->batch_size > 0 && total > 0) {
		size_t nb = (total + p->batch_size - 1) / p->batch_size;
		size_t cur = (size_t)done / p->batch_size + 1;
		int ev_done = 0, ev_total = 0;
		sb_printf(&b, " · batch %zu/%zu", cur > nb ? nb : cur, nb);
		/* the batch bar: lifecycle events done by the hosts in flight */
		for (size_t i = 0; i < p->n; i++)
			if (strcmp(p->inst[i].status, "InProgress") == 0) {
				ev_done += p->inst[i].events_done;
				ev_total += p->inst[i].events_total;
			}
		if (ev_total > 0) {
			sb_printf(&b, " ");
			sb_bar(&b, (double)ev_done / ev_total, 7);
		}
	}
	sb_printf(&b, "\n");
	if (p->n == 0) {
		sb_printf(&b, "  waiting for the engine to pick targets…\n");
		return b.s;
	}
	sb_printf(&b, "  %-*s  %-10s  %-18s  %-7s  %s\n", (int)idw, "INSTANCE", "STATUS", "EVENT", "ELAPSED",
		  "PROGRESS");
	for (size_t i = 0; i < p->n; i++) {
		const struct progress_instance *pi = &p->inst[i];
		double e = instance_elapsed(pi, now);
		sb_printf(&b, "  %-*.*s  %s%-10s%s  %-18s  %-7s  ", (int)idw, (int)idw, pi->id,
			  status_color(pi->status, color), pi->status, reset, pi->event[0] ? pi->event : "-",
			  e < 0 ? "-" : cli_fmt_elapsed(e, el, sizeof(el)));
		sb_bar(&b, pi->events_total ? (double)pi->events_done / pi->events_total : 0, 7);
		sb_printf(&b, " %d/%d", pi->events_done, pi->events_total);
		if (pi->weight >= 0)
			sb_printf(&b, "  traffic %d%%", pi->weight);
		sb_printf(&b, "\n");
	}
	return b.s;
}

static const struct progress_instance *find_instance(const struct progress *p, const char *id)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->inst[i].id, id) == 0)
			return &p->inst[i];
	return NULL;
}

int progress_render_changes(const struct progress *old, const struct progress *p, double now, FILE *f)
{
	char el[32];
	int lines = 0;
	double base = p->create_time > 0 ? p->create_time : now;

	cli_fmt_elapsed(now - base, el, sizeof(el));
	if (strcmp(old->status, p->status) != 0) {
		fprintf(f, "[%6s] deployment %s %s\n", el, p->deployment_id, p->status);
		lines++;
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct progress_instance *pi = &p->inst[i];
		const struct progress_instance *o = find_instance(old, pi->id);

		if (o && strcmp(o->event, pi->event) == 0 && strcmp(o->event_status, pi->event_status) == 0 &&
		    strcmp(o->status, pi->status) == 0 && o->weight == pi->weight)
			continue;
		if (pi->event[0])
			fprintf(f, "[%6s] %s %s %s (%s %s, %d/%d events", el, pi->id, pi->event, pi->event_status,
				pi->weight >= 0 ? "target" : "instance", pi->status, pi->events_done, pi->events_total);
		else
			fprintf(f, "[%6s] %s %s", el, pi->id, pi->status);
		if (pi->weight >= 0)
			fprintf(f, "%s%d%% of traffic on the new version", pi->event[0] ? ", " : " (", pi->weight);
		fputs(pi->event[0] || pi->weight >= 0 ? ")\n" : "\n", f);
		lines++;
	}
	return lines;
}

void progress_print_failure(const struct progress *p, FILE *f)
{
	bool any = false;

	fprintf(f, "Deployment %s %s", p->deployment_id, p->status);
	if (p->error_code[0] || p->error_message[0])
		fprintf(f, ": %s%s%s", p->error_code, p->error_code[0] && p->error_message[0] ? ": " : "",
			p->error_message);
	fputc('\n', f);
	for (size_t i = 0; i < p->n; i++) {
		const struct progress_instance *pi = &p->inst[i];

		if (strcmp(pi->status, "Failed") != 0)
			continue;
		any = true;
		fprintf(f, "  instance %s failed at %s", pi->id, pi->event[0] ? pi->event : "(no event)");
		if (pi->error_code[0])
			fprintf(f, " (%s)", pi->error_code);
		fputc('\n', f);
		if (pi->script[0])
			fprintf(f, "    script:  %s\n", pi->script);
		if (pi->message[0])
			fprintf(f, "    message: %s\n", pi->message);
		if (pi->log_tail[0]) {
			const char *s = pi->log_tail;
			fprintf(f, "    log tail:\n");
			while (*s) {
				const char *nl = strchr(s, '\n');
				size_t len = nl ? (size_t)(nl - s) : strlen(s);
				fprintf(f, "      | %.*s\n", (int)len, s);
				s += len + (nl ? 1 : 0);
			}
		}
	}
	if (!any && strcmp(p->status, "Failed") == 0)
		fprintf(f, "  no instance reported a failed lifecycle event\n");
	if (p->rollback_id[0])
		fprintf(f, "  rolled back by deployment %s (follow it: rolloutctl wait %s)\n", p->rollback_id,
			p->rollback_id);
}
