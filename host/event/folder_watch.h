/* Watching the scripts and config folders (inotify) for the changes a ConfigMap update, an
 * editor or a deploy makes, coalesced: one SIGHUP to the process per burst of changes. */
#ifndef MF_FOLDER_WATCH_H
#define MF_FOLDER_WATCH_H

typedef struct mf_folder_watch mf_folder_watch_t;

/* Watches the folders (NULL entries are skipped). Returns NULL when inotify is unavailable
 * (reload then needs SIGHUP). */
mf_folder_watch_t *mf_folder_watch_start(const char *const *dirs, int n);
/* Stops and joins the thread; NULL is a no-op. */
void mf_folder_watch_stop(mf_folder_watch_t *w);

#endif
