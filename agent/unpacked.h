/* Bundles this host already holds unpacked: a redeploy or a rollback of a
 * revision still kept in the deployment root (max_revisions) takes its tree
 * from there instead of downloading and extracting the bundle again.
 *
 * Each deployment directory whose deployment-archive was unpacked from a
 * bundle of the daemon's cache gets a file
 *   <dep_dir>/rollout-bundle   "sha256 <bundle sha256>\ntree <fingerprint>\n"
 * The fingerprint is a sha256 over the tree as unpacked: every entry's path,
 * type and mode, and for files and links their size, modification time and
 * link target. A tree whose fingerprint no longer matches (a hook changed
 * or removed a file) is not reused. */
#pragma once

#include <stddef.h>

/* The fingerprint of the tree under dir (64 hex + NUL). 0 or -errno. */
int unpacked_fingerprint(const char *dir, char out[65]);

/* Records that <dep_dir>/deployment-archive is bundle sha256 unpacked. */
int unpacked_record(const char *dep_dir, const char *sha256);

/* Drops dep_dir's record (before its archive is replaced). */
void unpacked_forget(const char *dep_dir);

/* Finds, among the deployment directories <root>/<group>/<deployment> other
 * than dep_dir, the newest whose deployment-archive holds bundle sha256
 * unchanged. 0 with its directory in from, or -ENOENT. */
int unpacked_find(const char *root, const char *dep_dir, const char *sha256, char *from, size_t fromlen);

/* Gives <dep_dir>/deployment-archive the tree of <from>/deployment-archive
 * with hard links (files are shared, not copied: nothing is read), checks
 * the result against from's fingerprint and records it for dep_dir. On
 * failure nothing is left at the destination. 0, or -errno with err. */
int unpacked_link(const char *from, const char *dep_dir, char *err, size_t errlen);
