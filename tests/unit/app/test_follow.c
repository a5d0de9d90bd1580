/* A follower moves to what the server publishes while the server keeps publishing: however long
 * the follower takes to build its new state, the version it moves to is never released under it
 * (a reload storm once freed it between the follower's read and its reference). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "app/follow.h"
#include "app/scripts_load.h"
#include "base/options.h"
#include "observe/log.h"
#include "test.h"

static char dir[] = "/tmp/mayfly-follow-XXXXXX";
static mf_options_t opts;

/* A version whose route answers n: each one differs, as a storm's do. */
static mf_scripts_t *load_version(int n)
{
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/v.lua", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fprintf(f, "return { [\"GET /v\"] = function() return '%d' end }\n", n);
    fclose(f);
    mf_scripts_t *s = NULL;
    if (mf_scripts_load(dir, &opts, &s, err, sizeof err))
        printf("  mf_scripts_load: %s\n", err);
    return s;
}

typedef struct {
    mf_published_t *published;
    atomic_int stop, swaps, failed;
} publisher_t;

/* The server's reload, as fast as it can go: publish a new version, release the one before. */
static void *publish_storm(void *ud)
{
    publisher_t *p = ud;
    for (int n = 1; !atomic_load(&p->stop); n++) {
        mf_scripts_t *next = load_version(n);
        if (!next) {
            atomic_store(&p->failed, 1);
            break;
        }
        mf_scripts_release(mf_published_swap_scripts(p->published, next));
        atomic_fetch_add(&p->swaps, 1);
    }
    return NULL;
}

TEST(a_follower_keeps_up_with_a_publishing_storm)
{
    char err[256];
    ASSERT_EQ_INT(mf_options_load(&opts, 0, NULL, err, sizeof err), 0);
    mf_scripts_t *first = load_version(0);
    ASSERT_TRUE(first != NULL);
    mf_config_t *config;
    ASSERT_EQ_INT(mf_config_load(NULL, &config, err, sizeof err), 0);
    mf_published_t published;
    mf_published_init(&published, first, config);
    mf_follow_t follow = {0};
    ASSERT_EQ_INT(mf_follow_init(&follow, "test", &opts, &published, err, sizeof err), 0);

    publisher_t p = {.published = &published};
    pthread_t thread;
    ASSERT_EQ_INT(pthread_create(&thread, NULL, publish_storm, &p), 0);
    /* Each move builds a state, long enough for several swaps. */
    int moves = 0;
    while (atomic_load(&p.swaps) < 500 && !atomic_load(&p.failed))
        moves += mf_follow_sync(&follow);
    atomic_store(&p.stop, 1);
    pthread_join(thread, NULL);
    ASSERT_EQ_INT(atomic_load(&p.failed), 0);
    printf("  %d versions published, the follower moved %d times\n", atomic_load(&p.swaps), moves);
    ASSERT_TRUE(moves > 0);

    /* Once the storm is over the follower lands on the last version, and only two references
     * to it are left: the publisher's and the follower's. */
    mf_follow_sync(&follow);
    ASSERT_TRUE(follow.scripts == atomic_load(&published.scripts));
    ASSERT_EQ_INT(atomic_load(&follow.scripts->refs), 2);
    mf_follow_free(&follow);
    mf_published_free(&published);
}

int main(void)
{
    mf_log_setup(MF_LOG_ERROR, 0);
    if (!mkdtemp(dir))
        return 1;
    RUN(a_follower_keeps_up_with_a_publishing_storm);
    char path[128];
    snprintf(path, sizeof path, "%s/v.lua", dir);
    unlink(path);
    rmdir(dir);
    TEST_MAIN_END();
}
