/* Enrollment of an agent on an EC2 instance nobody made a key for (an Auto
 * Scaling group launched it): at first start the agent trades the fleet's enroll key for an agent key bound to its
 * instance (Rolloutd_v1.EnrollInstance) and keeps that key in key_file for
 * later starts. docs/ec2.md, "Enrollment". */
#pragma once

#include <signal.h>

struct agent_config;

/* An agent config without host_identifier is for an EC2 instance: its
 * instance ARN comes from the instance identity document (IMDSv2,
 * imds_endpoint). Then fills cfg's access_key_id / secret_access_key when
 * the config has no key of its own: from key_file, else by enrolling,
 * retried with backoff while the daemon refuses (the instance may not be
 * running in the fleet yet) until *stop. 0 or -EINTR. */
int agent_enroll(struct agent_config *cfg, volatile sig_atomic_t *stop);
