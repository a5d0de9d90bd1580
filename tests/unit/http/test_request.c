/* A request as the host holds it: the target split into path and query, the body kept up to its
 * limit, header lookup, the request id and the trace context. A served request is reused, so
 * what one request leaves in it must not reach the next. */
#include <stdlib.h>
#include <string.h>

#include "http/request.h"
#include "observe/metrics.h"
#include "test.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static int is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* ---- the target ---- */

/* How mf_request_begin splits a target: path and query (NULL: none). */
static const struct {
    const char *target, *path, *query;
} splits[] = {
    {"/users/42?expand=1&x=a%20b", "/users/42", "expand=1&x=a%20b"},
    {"/plain", "/plain", NULL},
    {"/p?", "/p", ""},                                  /* an empty query is still one */
    {"/p?a=1?b=2", "/p", "a=1?b=2"},                    /* only the first '?' splits */
    {"/p?q=1#section", "/p", "q=1"},                    /* the fragment is the client's own */
    {"/p#frag?q=1", "/p", NULL},                        /* a '?' after the '#' is the fragment's */
    {"http://example.com:8080/a/b?x=1", "/a/b", "x=1"}, /* absolute form: the path only */
    {"https://example.com/", "/", NULL},
    {"http://example.com", "/", NULL},
    {"/redirect/http://x/y", "/redirect/http://x/y", NULL}, /* origin form, whatever it holds */
};

static void check_split(const char *target, const char *path, const char *query)
{
    mf_request_t r;
    mf_request_begin(&r, target);
    ASSERT_EQ_MEM(r.target, r.path_len, path, strlen(path));
    if (query) {
        ASSERT_EQ_MEM(r.query, r.query_len, query, strlen(query));
        ASSERT_TRUE(r.query[r.query_len] == '\0');
    } else {
        ASSERT_TRUE(r.query == NULL);
        ASSERT_EQ_INT(r.query_len, 0);
    }
    mf_request_end(&r);
}

TEST(the_target_splits_into_path_and_query)
{
    for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++) {
        int failures = test_st.cur_failures;
        check_split(splits[i].target, splits[i].path, splits[i].query);
        if (test_st.cur_failures > failures)
            printf("    target: %s\n", splits[i].target);
    }
}

TEST(a_long_target_is_copied_whole)
{
    char target[1200];
    memset(target, 'a', sizeof target - 1);
    target[0] = '/';
    target[600] = '?';
    target[sizeof target - 1] = '\0';
    mf_request_t r;
    mf_request_begin(&r, target);
    target[0] = 'X'; /* copied: the caller's buffer may go */
    ASSERT_EQ_INT(r.path_len, 600);
    ASSERT_EQ_INT(r.query_len, sizeof target - 1 - 601);
    ASSERT_TRUE(r.target[0] == '/');
    ASSERT_EQ_INT(strlen(r.target), sizeof target - 1);
    mf_request_end(&r); /* frees the copy: LeakSanitizer notices when it does not */
}

TEST(begin_resets_what_the_previous_request_left)
{
    mf_request_t r;
    const char *fields[] = {"X-Request-Id", "first", "traceparent", TP, NULL};
    mf_request_begin_local(&r, "POST", "/first?a=1", fields, "body", 4, 100);
    ASSERT_EQ_STR(mf_request_id(&r), "first");
    mf_request_trace(&r);
    r.status = 503;
    r.route = "/first";
    r.metric_route = 7;
    r.headers_done = 1;
    r.match.nparams = 2;
    mf_request_body_add(&r, "x", 1, 2); /* past the limit */
    ASSERT_EQ_INT(r.body_too_large, 1);
    mf_request_end(&r);

    mf_request_begin(&r, "/second");
    ASSERT_TRUE(r.method == NULL);
    ASSERT_TRUE(r.fields == NULL);
    ASSERT_TRUE(r.conn == NULL);
    ASSERT_TRUE(r.query == NULL);
    ASSERT_EQ_STR(r.id, "");
    ASSERT_EQ_INT(r.body.len, 0);
    ASSERT_EQ_INT(r.body_too_large, 0);
    ASSERT_EQ_INT(r.headers_done, 0);
    ASSERT_EQ_INT(r.status, 0);
    ASSERT_TRUE(r.route == NULL);
    ASSERT_EQ_INT(r.metric_route, MF_METRICS_UNMATCHED);
    ASSERT_EQ_INT(r.match.nparams, 0);
    ASSERT_TRUE(r.match.handler == NULL);
    ASSERT_EQ_INT(r.trace_done, 0);
    ASSERT_TRUE(r.start_ns > 0);
    /* The old id and trace are not reused. */
    ASSERT_TRUE(strcmp(mf_request_id(&r), "first") != 0);
    ASSERT_EQ_STR(mf_request_trace(&r)->parent_id, "");
    mf_request_end(&r);
}

/* ---- the body ---- */

TEST(an_in_process_request_copies_its_body)
{
    const char *fields[] = {"Content-Type", "text/plain", NULL};
    char body[] = "hello";
    mf_request_t r;
    mf_request_begin_local(&r, "PUT", "/b", fields, body, 5, 1024);
    body[0] = 'J';
    ASSERT_EQ_STR(r.method, "PUT");
    ASSERT_TRUE(r.fields == fields);
    ASSERT_EQ_MEM(r.body.data, r.body.len, "hello", (size_t)5);
    ASSERT_EQ_INT(r.body_too_large, 0);
    mf_request_end(&r);

    mf_request_begin_local(&r, "GET", "/b", NULL, NULL, 0, 1024);
    ASSERT_EQ_INT(r.body.len, 0);
    ASSERT_TRUE(r.body.data == NULL);
    mf_request_end(&r);

    /* Past the limit from the start: nothing kept. */
    mf_request_begin_local(&r, "POST", "/b", NULL, "0123456789", 10, 9);
    ASSERT_EQ_INT(r.body_too_large, 1);
    ASSERT_EQ_INT(r.body.len, 0);
    mf_request_end(&r);
}

TEST(the_body_grows_to_its_limit_and_is_dropped_past_it)
{
    mf_request_t r;
    mf_request_begin(&r, "/upload");
    char chunk[700];
    memset(chunk, 'x', sizeof chunk);
    mf_request_body_add(&r, chunk, sizeof chunk, 2100);
    mf_request_body_add(&r, "ab", 2, 2100);
    mf_request_body_add(&r, chunk, sizeof chunk, 2100);
    mf_request_body_add(&r, chunk, sizeof chunk - 2, 2100); /* exactly the limit */
    ASSERT_EQ_INT(r.body.len, 2100);
    ASSERT_EQ_INT(r.body_too_large, 0);
    ASSERT_TRUE(memcmp(r.body.data + 700, "ab", 2) == 0);
    ASSERT_TRUE(r.body.data[2099] == 'x');

    mf_request_body_add(&r, "y", 1, 2100);
    ASSERT_EQ_INT(r.body_too_large, 1);
    ASSERT_EQ_INT(r.body.len, 0);
    ASSERT_TRUE(r.body.data == NULL);
    /* Nothing is kept from then on, however small. */
    mf_request_body_add(&r, "z", 1, 2100);
    ASSERT_EQ_INT(r.body.len, 0);
    ASSERT_EQ_INT(r.body_too_large, 1);
    mf_request_end(&r);
}

/* ---- header fields ---- */

TEST(header_fields_are_found_by_name_case_insensitively)
{
    const char *fields[] = {
        "Content-Type", "application/json", "X-Dup", "one", "x-dup", "two", "Empty", "", NULL};
    mf_request_t r;
    mf_request_begin_local(&r, "GET", "/", fields, NULL, 0, 0);
    ASSERT_EQ_STR(mf_request_field(&r, "content-type"), "application/json");
    ASSERT_EQ_STR(mf_request_field(&r, "CONTENT-TYPE"), "application/json");
    ASSERT_EQ_STR(mf_request_field(&r, "X-Dup"), "one"); /* the first */
    ASSERT_EQ_STR(mf_request_field(&r, "empty"), "");
    ASSERT_TRUE(mf_request_field(&r, "Missing") == NULL);
    ASSERT_TRUE(mf_request_field(&r, "Content") == NULL); /* whole names only */
    /* Without a connection, headers are the fields. */
    ASSERT_EQ_STR(mf_request_header(&r, "x-dup"), "one");
    ASSERT_TRUE(mf_request_header(&r, "Missing") == NULL);
    mf_request_end(&r);

    mf_request_begin_local(&r, "GET", "/", NULL, NULL, 0, 0);
    ASSERT_TRUE(mf_request_field(&r, "Content-Type") == NULL);
    ASSERT_TRUE(mf_request_header(&r, "Content-Type") == NULL);
    mf_request_end(&r);
}

/* ---- the request id ---- */

static const char *id_for(mf_request_t *r, const char *given)
{
    const char *fields[] = {"x-request-id", given, NULL};
    mf_request_begin_local(r, "GET", "/", given ? fields : NULL, NULL, 0, 0);
    const char *id = mf_request_id(r);
    r->fields = NULL; /* fields is this frame's */
    return id;
}

TEST(a_valid_x_request_id_is_kept)
{
    mf_request_t r;
    ASSERT_EQ_STR(id_for(&r, "abc-DEF_123.4:5"), "abc-DEF_123.4:5");
    mf_request_end(&r);
    char longest[MF_REQUEST_ID_MAX + 1];
    memset(longest, 'a', MF_REQUEST_ID_MAX);
    longest[MF_REQUEST_ID_MAX] = '\0';
    ASSERT_EQ_STR(id_for(&r, longest), longest);
    mf_request_end(&r);
}

TEST(an_invalid_or_missing_id_is_replaced_by_a_random_one)
{
    char too_long[MF_REQUEST_ID_MAX + 2];
    memset(too_long, 'a', MF_REQUEST_ID_MAX + 1);
    too_long[MF_REQUEST_ID_MAX + 1] = '\0';
    const char *bad[] = {NULL,          "",       "has space", "semi;colon", "new\nline",
                         "caf\xc3\xa9", "slash/", too_long};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mf_request_t r;
        const char *id = id_for(&r, bad[i]);
        if (!is_hex(id, 32))
            printf("  %s -> %s\n", bad[i] ? bad[i] : "(none)", id);
        ASSERT_TRUE(is_hex(id, 32));
        mf_request_end(&r);
    }
}

TEST(the_id_is_decided_once)
{
    mf_request_t a, b;
    const char *first = id_for(&a, NULL);
    char copy[MF_REQUEST_ID_MAX + 1];
    strcpy(copy, first);
    ASSERT_EQ_STR(mf_request_id(&a), copy);
    ASSERT_TRUE(mf_request_id(&a) == first);
    /* Another request gets another. */
    ASSERT_TRUE(strcmp(id_for(&b, NULL), copy) != 0);
    mf_request_end(&a);
    mf_request_end(&b);
}

/* ---- the trace context ---- */

TEST(a_valid_traceparent_is_continued_with_a_new_span)
{
    const char *fields[] = {"Traceparent", TP, NULL};
    mf_request_t r;
    mf_request_begin_local(&r, "GET", "/", fields, NULL, 0, 0);
    const mf_trace_t *t = mf_request_trace(&r);
    ASSERT_EQ_STR(t->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    ASSERT_EQ_STR(t->parent_id, "00f067aa0ba902b7");
    ASSERT_EQ_INT(t->sampled, 1);
    ASSERT_TRUE(is_hex(t->span_id, 16));
    ASSERT_TRUE(strcmp(t->span_id, "00f067aa0ba902b7") != 0);
    /* What goes downstream names this request's span. */
    char want[MF_TRACEPARENT_LEN + 1];
    snprintf(want, sizeof want, "00-4bf92f3577b34da6a3ce929d0e0e4736-%s-01", t->span_id);
    ASSERT_EQ_STR(t->traceparent, want);
    /* Decided once: the same span on every call. */
    char span[17];
    strcpy(span, t->span_id);
    ASSERT_TRUE(mf_request_trace(&r) == t);
    ASSERT_EQ_STR(mf_request_trace(&r)->span_id, span);
    mf_request_end(&r);
}

TEST(a_missing_or_invalid_traceparent_starts_a_new_trace)
{
    const char *bad[] = {NULL, "", "garbage",
                         "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                         "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *fields[] = {"traceparent", bad[i], NULL};
        mf_request_t r;
        mf_request_begin_local(&r, "GET", "/", bad[i] ? fields : NULL, NULL, 0, 0);
        const mf_trace_t *t = mf_request_trace(&r);
        ASSERT_TRUE(is_hex(t->trace_id, 32));
        ASSERT_TRUE(strcmp(t->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736") != 0);
        ASSERT_EQ_STR(t->parent_id, "");
        ASSERT_EQ_INT(t->sampled, 0);
        ASSERT_TRUE(is_hex(t->span_id, 16));
        ASSERT_EQ_INT(strlen(t->traceparent), MF_TRACEPARENT_LEN);
        mf_request_end(&r);
    }
}

int main(void)
{
    RUN(the_target_splits_into_path_and_query);
    RUN(a_long_target_is_copied_whole);
    RUN(begin_resets_what_the_previous_request_left);
    RUN(an_in_process_request_copies_its_body);
    RUN(the_body_grows_to_its_limit_and_is_dropped_past_it);
    RUN(header_fields_are_found_by_name_case_insensitively);
    RUN(a_valid_x_request_id_is_kept);
    RUN(an_invalid_or_missing_id_is_replaced_by_a_random_one);
    RUN(the_id_is_decided_once);
    RUN(a_valid_traceparent_is_continued_with_a_new_span);
    RUN(a_missing_or_invalid_traceparent_starts_a_new_trace);
    TEST_MAIN_END();
}
