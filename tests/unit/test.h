/* Header-only unit-test helper, included by one file per test executable:
 *   TEST(parses) { ASSERT_EQ_INT(parse("1"), 1); }
 *   int main(void) { RUN(parses); TEST_MAIN_END(); }
 * A failed ASSERT_* prints file:line and both values, counts the failure and returns from the
 * enclosing function (a failure inside a helper still fails the test). TEST_MAIN_END() prints
 * "N passed, N failed" and returns from main: 0 only when every test passed. */
#ifndef MF_TEST_H
#define MF_TEST_H

#include <stdio.h>
#include <string.h>

static struct {
    int passed, failed, cur_failures; /* tests, tests, assertions in the running test */
} test_st __attribute__((unused));

static inline int test_fail(const char *file, int line, const char *what)
{
    test_st.cur_failures++;
    printf("  %s:%d: %s\n", file, line, what);
    return 0;
}

static inline int test_int(long long a, long long b, const char *what, const char *file, int line)
{
    if (a != b && !test_fail(file, line, what))
        printf("    %lld != %lld\n", a, b);
    return a == b;
}

/* Prints len bytes quoted, non-printable bytes as \xNN, or NULL. */
static inline void test_print_mem(const unsigned char *s, size_t len)
{
    fputs(s ? "    \"" : "    NULL\n", stdout);
    for (size_t i = 0; s && i < len; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\')
            putchar(s[i]);
        else
            printf("\\x%02x", s[i]);
    }
    if (s)
        printf("\" (%zu bytes)\n", len);
}

static inline int test_mem(const void *a, size_t alen, const void *b, size_t blen, const char *what,
                           const char *file, int line)
{
    int ok = a && b && alen == blen && memcmp(a, b, alen) == 0;

    if (!ok) {
        test_fail(file, line, what);
        test_print_mem(a, alen);
        test_print_mem(b, blen);
    }
    return ok;
}

static inline int test_str(const char *a, const char *b, const char *what, const char *file,
                           int line)
{
    return test_mem(a, a ? strlen(a) : 0, b, b ? strlen(b) : 0, what, file, line);
}

static inline void test_run(void (*fn)(void), const char *name)
{
    test_st.cur_failures = 0;
    fn();
    test_st.cur_failures ? test_st.failed++ : test_st.passed++;
    printf("%s %s\n", test_st.cur_failures ? "FAIL" : "ok", name);
    fflush(stdout);
}

#define TEST(name) static void name(void)
#define RUN(name) test_run(name, #name)
#define TEST_MAIN_END()                                                                            \
    do {                                                                                           \
        printf("%d passed, %d failed\n", test_st.passed, test_st.failed);                          \
        return test_st.failed ? 1 : 0;                                                             \
    } while (0)

#define TEST_CHECK_(ok)                                                                            \
    do {                                                                                           \
        if (!(ok))                                                                                 \
            return;                                                                                \
    } while (0)
#define TEST_AT_ __FILE__, __LINE__
#define ASSERT_TRUE(x) TEST_CHECK_((x) || test_fail(TEST_AT_, "ASSERT_TRUE(" #x ")"))
#define ASSERT_EQ_INT(a, b)                                                                        \
    TEST_CHECK_(test_int((a), (b), "ASSERT_EQ_INT(" #a ", " #b ")", TEST_AT_))
#define ASSERT_EQ_MEM(a, alen, b, blen)                                                            \
    TEST_CHECK_(test_mem((a), (alen), (b), (blen), "ASSERT_EQ_MEM(" #a ", " #b ")", TEST_AT_))
/* NULL-safe: a NULL string fails the comparison and prints as NULL. */
#define ASSERT_EQ_STR(a, b)                                                                        \
    TEST_CHECK_(test_str((a), (b), "ASSERT_EQ_STR(" #a ", " #b ")", TEST_AT_))

#endif
