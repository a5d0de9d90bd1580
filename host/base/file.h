/* Whole-file reads for scripts and config values. */
#ifndef MF_FILE_H
#define MF_FILE_H

#include <stddef.h>

/* Reads the regular file at path (symlinks followed, as ConfigMap files are) into a malloc'd
 * NUL-terminated buffer the caller frees. Returns 0, or -1 with a message in err when it cannot
 * be opened, is not a regular file or is larger than max bytes. */
int mf_file_read(const char *path, size_t max, char **out, size_t *len, char *err, size_t errlen);

/* The folder to read for dir (malloc'd): a ConfigMap volume's ..data link names the complete
 * snapshot, which the kubelet swaps atomically; reading through it once keeps a reload from
 * mixing two snapshots. A copy of dir when there is no such link. */
char *mf_file_snapshot_dir(const char *dir);

#endif
