#define _GNU_SOURCE /* pipe2 */
#include "event/folder_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "observe/log.h"

#define MAX_DIRS 4
#define QUIET_MS 100  /* a burst of changes ends after this much quiet... */
#define BURST_MS 1000 /* ...or after this long, whichever comes first */
#define RETRY_MS 500  /* how often a folder that is gone is looked for again */

/* Every event that can change what a folder holds, the ConfigMap swap included: CREATE of the
 * new timestamped folder, MOVED_TO of ..data, DELETE of the old folder; rename-saves (MOVED_*),
 * plain edits (CLOSE_WRITE), a folder replaced whole (DELETE_SELF, MOVE_SELF). */
#define EVENTS                                                                                     \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB |            \
     IN_DELETE_SELF | IN_MOVE_SELF | IN_DONT_FOLLOW)

struct mf_folder_watch {
    pthread_t thread;
    int fd;
    int stop_pipe[2];
    int n;
    char *dirs[MAX_DIRS];
    int wd[MAX_DIRS];
};

static void add_watches(mf_folder_watch_t *w)
{
    for (int i = 0; i < w->n; i++)
        if (w->wd[i] < 0)
            w->wd[i] = inotify_add_watch(w->fd, w->dirs[i], EVENTS);
}

/* Reads pending events; returns 1 when any of them is a change, and forgets watches whose folder
 * went away (they are added again when it is back). */
static int drain_events(mf_folder_watch_t *w)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int changed = 0;
    for (;;) {
        ssize_t len = read(w->fd, buf, sizeof buf);
        if (len <= 0)
            return changed;
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *e = (const struct inotify_event *)p;
            if (e->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                for (int i = 0; i < w->n; i++)
                    if (w->wd[i] == e->wd) {
                        if (!(e->mask & IN_IGNORED))
                            inotify_rm_watch(w->fd, e->wd);
                        w->wd[i] = -1;
                    }
            }
            changed = 1;
            p += sizeof *e + e->len;
        }
    }
}

static int any_missing(mf_folder_watch_t *w)
{
    for (int i = 0; i < w->n; i++)
        if (w->wd[i] < 0)
            return 1;
    return 0;
}

static void *watch_loop(void *arg)
{
    mf_folder_watch_t *w = arg;
    struct pollfd pfd[2] = {{w->fd, POLLIN, 0}, {w->stop_pipe[0], POLLIN, 0}};
    int pending = 0;
    int64_t burst_start = 0;

    for (;;) {
        int rc = poll(pfd, 2, pending ? QUIET_MS : any_missing(w) ? RETRY_MS : -1);
        if ((rc < 0 && errno != EINTR) || pfd[1].revents)
            break;
        int changed = rc > 0 && (pfd[0].revents & POLLIN) && drain_events(w);
        if (any_missing(w)) {
            add_watches(w);
            changed |= !any_missing(w); /* a folder replaced whole is back */
        }
        if (changed && !pending) {
            pending = 1;
            burst_start = mf_now_ns();
        }
        if (pending && (!changed || mf_now_ns() - burst_start >= BURST_MS * 1000000LL)) {
            pending = 0;
            kill(getpid(), SIGHUP);
        }
    }
    return NULL;
}

mf_folder_watch_t *mf_folder_watch_start(const char *const *dirs, int n)
{
    mf_folder_watch_t *w = mf_xcalloc(1, sizeof *w);
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    w->stop_pipe[0] = w->stop_pipe[1] = -1;
    if (w->fd < 0 || pipe2(w->stop_pipe, O_CLOEXEC) != 0)
        goto fail;
    for (int i = 0; i < n && w->n < MAX_DIRS; i++) {
        if (!dirs[i])
            continue;
        w->dirs[w->n] = mf_xstrdup(dirs[i]);
        w->wd[w->n++] = -1;
    }
    add_watches(w);
    if (pthread_create(&w->thread, NULL, watch_loop, w) != 0)
        goto fail;
    return w;
fail:
    mf_log_msg(MF_LOG_WARN, "cannot watch the scripts and config folders (%s): reload with SIGHUP",
               strerror(errno));
    if (w->fd >= 0)
        close(w->fd);
    for (int i = 0; i < 2; i++)
        if (w->stop_pipe[i] >= 0)
            close(w->stop_pipe[i]);
    for (int i = 0; i < w->n; i++)
        free(w->dirs[i]);
    free(w);
    return NULL;
}

void mf_folder_watch_stop(mf_folder_watch_t *w)
{
    if (!w)
        return;
    (void)!write(w->stop_pipe[1], "x", 1);
    pthread_join(w->thread, NULL);
    close(w->fd);
    close(w->stop_pipe[0]);
    close(w->stop_pipe[1]);
    for (int i = 0; i < w->n; i++)
        free(w->dirs[i]);
    free(w);
}
