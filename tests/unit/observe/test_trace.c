#include "observe/trace.h"
#include "test.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static int parses(const char *v)
{
    mf_trace_t t;
    return mf_trace_parse(v, strlen(v), &t) == 0;
}

TEST(parses_a_valid_traceparent)
{
    mf_trace_t t;
    ASSERT_EQ_INT(mf_trace_parse(TP, strlen(TP), &t), 0);
    ASSERT_EQ_STR(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    ASSERT_EQ_STR(t.parent_id, "00f067aa0ba902b7");
    ASSERT_EQ_INT(t.sampled, 1);
    ASSERT_TRUE(parses("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
    ASSERT_TRUE(parses("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02"));
}

TEST(sampled_is_the_low_bit_of_the_flags)
{
    mf_trace_t t;
    ASSERT_EQ_INT(mf_trace_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", 55, &t),
                  0);
    ASSERT_EQ_INT(t.sampled, 1);
    ASSERT_EQ_INT(mf_trace_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe", 55, &t),
                  0);
    ASSERT_EQ_INT(t.sampled, 0);
}

TEST(refuses_malformed_values)
{
    static const char *bad[] = {
        "",
        "00",
        /* version ff is invalid */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        /* all-zero ids */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        /* uppercase hex */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
        /* wrong lengths */
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-001",
        /* version 00 takes nothing after the flags */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        /* separators and characters */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        /* a later version may append fields, but only after a '-' */
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
        NULL,
    };
    for (int i = 0; bad[i]; i++) {
        if (parses(bad[i])) {
            printf("    accepted: '%s'\n", bad[i]);
            ASSERT_TRUE(!"a malformed traceparent was accepted");
        }
    }
}

TEST(later_versions_parse_their_first_fields)
{
    ASSERT_TRUE(parses("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    ASSERT_TRUE(parses("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes"));
}

TEST(begin_continues_a_trace_with_a_new_span)
{
    mf_trace_t t;
    mf_trace_begin(&t, TP);
    ASSERT_EQ_STR(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    ASSERT_EQ_STR(t.parent_id, "00f067aa0ba902b7");
    ASSERT_EQ_INT((long long)strlen(t.span_id), 16);
    ASSERT_TRUE(strcmp(t.span_id, t.parent_id) != 0);
    char want[64];
    snprintf(want, sizeof want, "00-4bf92f3577b34da6a3ce929d0e0e4736-%s-01", t.span_id);
    ASSERT_EQ_STR(t.traceparent, want);
    /* what we send on parses as a traceparent */
    ASSERT_TRUE(parses(t.traceparent));
}

TEST(begin_starts_a_trace_when_none_or_a_bad_one_is_given)
{
    mf_trace_t a, b;
    mf_trace_begin(&a, NULL);
    mf_trace_begin(&b, "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    ASSERT_EQ_INT((long long)strlen(a.trace_id), 32);
    ASSERT_EQ_STR(a.parent_id, "");
    ASSERT_EQ_STR(b.parent_id, "");
    ASSERT_EQ_INT(a.sampled, 0);
    ASSERT_TRUE(strcmp(a.trace_id, b.trace_id) != 0);
    ASSERT_TRUE(strcmp(b.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736") != 0);
    ASSERT_TRUE(parses(a.traceparent));
    ASSERT_TRUE(parses(b.traceparent));
}

TEST(tracestate_bounds)
{
    char big[MF_TRACESTATE_MAX + 2];
    ASSERT_TRUE(mf_trace_state_ok("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
    ASSERT_TRUE(!mf_trace_state_ok(""));
    ASSERT_TRUE(!mf_trace_state_ok("a=b\nc=d"));
    ASSERT_TRUE(!mf_trace_state_ok("a=\x80"));
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_TRUE(!mf_trace_state_ok(big));
    big[MF_TRACESTATE_MAX] = '\0';
    ASSERT_TRUE(mf_trace_state_ok(big));
}

int main(void)
{
    RUN(parses_a_valid_traceparent);
    RUN(sampled_is_the_low_bit_of_the_flags);
    RUN(refuses_malformed_values);
    RUN(later_versions_parse_their_first_fields);
    RUN(begin_continues_a_trace_with_a_new_span);
    RUN(begin_starts_a_trace_when_none_or_a_bad_one_is_given);
    RUN(tracestate_bounds);
    TEST_MAIN_END();
}
