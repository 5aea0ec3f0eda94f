/* The daemon's top-level context: one per process, created by main.c and
 * handed (borrowed) to every module. Modules keep their own state behind
 * their own opaque pointers here. */
#pragma once

#include <stdbool.h>

struct event_base;
struct rd_config;
struct store;
struct plugin_registry;
struct workpool;
struct httpd;
struct engine;
struct auth;
struct cluster;
struct relay;
struct rollout_host;

struct rd_daemon {
	struct rd_config *cfg;		 /* daemon/core/conf.h */
	struct event_base *base;	 /* the I/O thread's libevent loop */
	struct store *store;		 /* daemon/store/store.h: the only module with SQL */
	struct plugin_registry *plugins; /* daemon/core/plugins.h */
	struct workpool *pool;		 /* daemon/core/workpool.h: blocking work off the I/O thread */
	struct httpd *httpd;		 /* daemon/core/httpd.h: evhttp listener, dispatch */
	struct engine *engine;		 /* daemon/engine/engine.h: deployments */
	struct auth *auth;		 /* daemon/auth/auth.h: access keys (auth_verify_secret) */
	struct cluster *cluster;	 /* daemon/cluster/cluster.h: NULL unless on PostgreSQL */
	struct relay *relay;		 /* daemon/relay/relay.h: NULL unless on PostgreSQL */
	volatile bool stopping;
	bool retention_running; /* a retention job is queued or running (main.c) */
	bool key_sweep_running; /* a sweep of terminated instances' keys is queued or running (main.c) */
	bool key_uses_running;	/* a write of the keys' last uses is queued or running (main.c) */
};
