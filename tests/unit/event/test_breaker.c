#include "event/breaker.h"
#include "test.h"

#define MS 1000000LL

TEST(opens_after_threshold_consecutive_failures)
{
    mf_breaker_t *b = mf_breaker_new("t1", 3, 100);
    ASSERT_EQ_INT(mf_breaker_allow(b, 0), 1);
    mf_breaker_failure(b, 0);
    mf_breaker_failure(b, 0);
    mf_breaker_success(b); /* a success resets the run */
    mf_breaker_failure(b, 0);
    mf_breaker_failure(b, 0);
    ASSERT_EQ_INT(mf_breaker_state(b), MF_BREAKER_CLOSED);
    mf_breaker_failure(b, 0);
    ASSERT_EQ_INT(mf_breaker_state(b), MF_BREAKER_OPEN);
    ASSERT_EQ_INT(mf_breaker_allow(b, 50 * MS), 0);
}

TEST(one_probe_after_cooldown)
{
    mf_breaker_t *b = mf_breaker_new("t2", 1, 100);
    mf_breaker_failure(b, 10 * MS);
    ASSERT_EQ_INT(mf_breaker_allow(b, 109 * MS), 0);
    ASSERT_EQ_INT(mf_breaker_allow(b, 110 * MS), 1); /* the probe */
    ASSERT_EQ_INT(mf_breaker_state(b), MF_BREAKER_HALF_OPEN);
    ASSERT_EQ_INT(mf_breaker_allow(b, 111 * MS), 0); /* only one */
    mf_breaker_failure(b, 120 * MS);                 /* probe failed: another cool-down */
    ASSERT_EQ_INT(mf_breaker_state(b), MF_BREAKER_OPEN);
    ASSERT_EQ_INT(mf_breaker_allow(b, 200 * MS), 0);
    ASSERT_EQ_INT(mf_breaker_allow(b, 220 * MS), 1);
    mf_breaker_success(b);
    ASSERT_EQ_INT(mf_breaker_state(b), MF_BREAKER_CLOSED);
    ASSERT_EQ_INT(mf_breaker_allow(b, 221 * MS), 1);
}

static void count(void *ud, mf_breaker_t *b)
{
    (void)b;
    ++*(int *)ud;
}

TEST(registry_lists_every_breaker)
{
    int before = 0, after = 0;
    mf_breaker_each(count, &before);
    mf_breaker_new("t3", 1, 1);
    mf_breaker_each(count, &after);
    ASSERT_EQ_INT(after, before + 1);
}

int main(void)
{
    RUN(opens_after_threshold_consecutive_failures);
    RUN(one_probe_after_cooldown);
    RUN(registry_lists_every_breaker);
    TEST_MAIN_END();
}
