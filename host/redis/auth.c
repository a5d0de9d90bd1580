#include "redis/auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"

static struct {
    pthread_mutex_t mu;
    char user[128];
    char url_password[512];
    int db;
    char *file; /* MAYFLY_REDIS_PASSWORD_FILE, or NULL */
    /* The file as last read: read again when any of these change (the kubelet swaps a Secret's
     * ..data link, so the file a path names is a new inode), or when told to. */
    char file_password[1024];
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
    off_t size;
    int read_once;
    int recheck;
} auth = {.mu = PTHREAD_MUTEX_INITIALIZER};

void mf_redis_auth_init(const mf_redis_url_t *url, const char *password_file)
{
    pthread_mutex_lock(&auth.mu);
    snprintf(auth.user, sizeof auth.user, "%s", url->user);
    snprintf(auth.url_password, sizeof auth.url_password, "%s", url->password);
    auth.db = url->db;
    free(auth.file);
    auth.file = password_file ? mf_xstrdup(password_file) : NULL;
    auth.read_once = 0;
    pthread_mutex_unlock(&auth.mu);
}

void mf_redis_auth_recheck(void)
{
    pthread_mutex_lock(&auth.mu);
    auth.recheck = 1;
    pthread_mutex_unlock(&auth.mu);
}

/* Reads the file's first line into auth.file_password when it changed. Under auth.mu. */
static int refresh_file(char *err, size_t errlen)
{
    struct stat st;
    if (stat(auth.file, &st) != 0) {
        snprintf(err, errlen, "MAYFLY_REDIS_PASSWORD_FILE %s: %s", auth.file, strerror(errno));
        return -1;
    }
    if (auth.read_once && !auth.recheck && st.st_dev == auth.dev && st.st_ino == auth.ino &&
        st.st_size == auth.size && st.st_mtim.tv_sec == auth.mtime.tv_sec &&
        st.st_mtim.tv_nsec == auth.mtime.tv_nsec)
        return 0;
    FILE *f = fopen(auth.file, "r");
    if (!f) {
        snprintf(err, errlen, "MAYFLY_REDIS_PASSWORD_FILE %s: %s", auth.file, strerror(errno));
        return -1;
    }
    char line[sizeof auth.file_password];
    size_t n = fread(line, 1, sizeof line - 1, f);
    int too_long = n == sizeof line - 1 && !memchr(line, '\n', n) && fgetc(f) != EOF;
    fclose(f);
    line[n] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    if (too_long) {
        snprintf(err, errlen, "MAYFLY_REDIS_PASSWORD_FILE %s: the first line is longer than %zu "
                 "bytes", auth.file, sizeof line - 2);
        return -1;
    }
    memcpy(auth.file_password, line, sizeof line);
    auth.dev = st.st_dev;
    auth.ino = st.st_ino;
    auth.size = st.st_size;
    auth.mtime = st.st_mtim;
    auth.read_once = 1;
    auth.recheck = 0;
    return 0;
}

static void add(mf_redis_setup_set_t *s, int argc, const char *a0, const char *a1, const char *a2)
{
    mf_redis_setup_t *c = &s->cmd[s->n++];
    const char *argv[3] = {a0, a1, a2};
    c->argc = argc;
    for (int i = 0; i < argc; i++) {
        c->argv[i] = argv[i];
        c->lens[i] = strlen(argv[i]);
    }
}

static void add_auth(mf_redis_setup_set_t *s)
{
    if (!s->password[0])
        return;
    if (s->user[0])
        add(s, 3, "AUTH", s->user, s->password);
    else
        add(s, 2, "AUTH", s->password, NULL);
}

int mf_redis_auth_setup(mf_redis_setup_set_t *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_lock(&auth.mu);
    if (auth.file && refresh_file(err, errlen)) {
        pthread_mutex_unlock(&auth.mu);
        return -1;
    }
    snprintf(s->user, sizeof s->user, "%s", auth.user);
    snprintf(s->password, sizeof s->password, "%s",
             auth.file ? auth.file_password : auth.url_password);
    int db = auth.db;
    pthread_mutex_unlock(&auth.mu);
    add_auth(s);
    if (db) {
        snprintf(s->db, sizeof s->db, "%d", db);
        add(s, 2, "SELECT", s->db, NULL);
    }
    return 0;
}

void mf_redis_auth_sentinel_setup(mf_redis_setup_set_t *s, const char *sentinel_password)
{
    memset(s, 0, sizeof *s);
    if (sentinel_password)
        snprintf(s->password, sizeof s->password, "%s", sentinel_password);
    add_auth(s);
}
