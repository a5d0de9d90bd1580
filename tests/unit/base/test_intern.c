/* Interned strings: one copy per distinct string, equal strings get the same pointer from any
 * thread, and a copy never moves or changes however many more are interned. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/intern.h"
#include "test.h"

#define NAMES 5000

static const char *first[NAMES];

static void name(char *buf, size_t size, int i)
{
    snprintf(buf, size, "GET /items/%d/:id", i);
}

static void *intern_all(void *out)
{
    const char **got = out;
    char buf[64];
    for (int i = 0; i < NAMES; i++) {
        name(buf, sizeof buf, i);
        got[i] = mf_intern(buf);
    }
    return NULL;
}

TEST(equal_strings_share_one_copy)
{
    char buf[] = "GET /hello";
    const char *a = mf_intern(buf);
    buf[0] = 'P';
    ASSERT_EQ_STR(a, "GET /hello"); /* a copy, not the caller's buffer */
    ASSERT_TRUE(mf_intern("GET /hello") == a);
    ASSERT_TRUE(mf_intern("PET /hello") != a);
    ASSERT_TRUE(mf_intern("") == mf_intern(""));
}

TEST(copies_stay_put_while_the_table_grows_under_two_threads)
{
    static const char *second[NAMES];
    pthread_t t;
    ASSERT_EQ_INT(pthread_create(&t, NULL, intern_all, second), 0);
    intern_all(first);
    pthread_join(t, NULL);
    char buf[64];
    for (int i = 0; i < NAMES; i++) {
        name(buf, sizeof buf, i);
        ASSERT_TRUE(first[i] == second[i]);
        ASSERT_TRUE(mf_intern(buf) == first[i]);
        ASSERT_EQ_STR(first[i], buf);
    }
}

int main(void)
{
    RUN(equal_strings_share_one_copy);
    RUN(copies_stay_put_while_the_table_grows_under_two_threads);
    TEST_MAIN_END();
}
