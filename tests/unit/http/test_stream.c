/* A streamed body's buffer between its producer and its consumer: the bound, the order of the
 * bytes, the callbacks that wake either side, the ends. */
#include <string.h>

#include "http/stream.h"
#include "test.h"

static int room_calls, gone_calls, data_calls;
static void on_room(void *ud)
{
    (void)ud;
    room_calls++;
}
static void on_gone(void *ud)
{
    (void)ud;
    gone_calls++;
}
static void on_data(void *ud)
{
    (void)ud;
    data_calls++;
}

TEST(bytes_in_order_within_the_bound)
{
    mf_stream_t *s = mf_stream_new();
    static char big[MF_STREAM_BUFFER + 100];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    ASSERT_EQ_INT((int)mf_stream_state(s), MF_STREAM_EMPTY);
    ASSERT_EQ_INT((int)mf_stream_write(s, "hello ", 6), 6);
    ASSERT_EQ_INT((int)mf_stream_write(s, big, sizeof big), MF_STREAM_BUFFER - 6);
    ASSERT_EQ_INT((int)mf_stream_write(s, "x", 1), 0); /* full */
    ASSERT_EQ_INT((int)mf_stream_state(s), MF_STREAM_DATA);
    char out[1000];
    ASSERT_EQ_INT((int)mf_stream_read(s, out, 6), 6);
    ASSERT_TRUE(!memcmp(out, "hello ", 6));
    ASSERT_EQ_INT((int)mf_stream_read(s, out, sizeof out), (int)sizeof out);
    ASSERT_TRUE(!memcmp(out, big, sizeof out));
    /* What was read leaves room at the front, taken by the next write. */
    ASSERT_EQ_INT((int)mf_stream_write(s, "yz", 2), 2);
    size_t total = 0, n;
    char rest[MF_STREAM_BUFFER];
    while ((n = mf_stream_read(s, rest + total, 4096)) > 0)
        total += n;
    ASSERT_EQ_INT((int)total, MF_STREAM_BUFFER - 6 - (int)sizeof out + 2);
    ASSERT_TRUE(!memcmp(rest, big + sizeof out, total - 2));
    ASSERT_TRUE(!memcmp(rest + total - 2, "yz", 2));
    ASSERT_EQ_INT((int)mf_stream_state(s), MF_STREAM_EMPTY);
    mf_stream_unref(s);
}

TEST(room_comes_back_at_half)
{
    mf_stream_t *s = mf_stream_new();
    static char big[MF_STREAM_BUFFER];
    room_calls = 0;
    mf_stream_write(s, big, sizeof big);
    mf_stream_on_room(s, on_room, NULL);
    char out[MF_STREAM_BUFFER / 4];
    mf_stream_read(s, out, sizeof out);
    ASSERT_EQ_INT(room_calls, 0); /* three quarters still buffered */
    mf_stream_read(s, out, sizeof out);
    ASSERT_EQ_INT(room_calls, 1);
    mf_stream_read(s, out, sizeof out);
    ASSERT_EQ_INT(room_calls, 1); /* once */
    mf_stream_unref(s);
}

TEST(data_and_the_producers_end_wake_the_consumer)
{
    mf_stream_t *s = mf_stream_new();
    data_calls = 0;
    mf_stream_on_data(s, on_data, NULL);
    mf_stream_write(s, "a", 1);
    ASSERT_EQ_INT(data_calls, 1);
    mf_stream_end(s, 1);
    ASSERT_EQ_INT(data_calls, 2);
    ASSERT_EQ_INT((int)mf_stream_state(s), MF_STREAM_DATA); /* the end comes after the bytes */
    char c;
    mf_stream_read(s, &c, 1);
    ASSERT_EQ_INT((int)mf_stream_state(s), MF_STREAM_ENDED);
    ASSERT_EQ_INT((int)mf_stream_write(s, "b", 1), 0); /* nothing after the end */
    mf_stream_unref(s);

    s = mf_stream_new();
    mf_stream_end(s, 0);
    ASSERT_EQ_INT((int)mf_stream_state(s), MF_STREAM_FAILED);
    mf_stream_unref(s);
}

TEST(the_consumer_leaving_tells_the_producer_once)
{
    mf_stream_t *s = mf_stream_new();
    gone_calls = room_calls = 0;
    mf_stream_on_gone(s, on_gone, NULL);
    mf_stream_on_room(s, on_room, NULL);
    mf_stream_write(s, "abc", 3);
    mf_stream_ref(s); /* the consumer's */
    mf_stream_leave(s);
    mf_stream_leave(s);
    ASSERT_EQ_INT(gone_calls, 1);
    ASSERT_EQ_INT(room_calls, 0);
    ASSERT_TRUE(mf_stream_gone(s));
    ASSERT_EQ_INT((int)mf_stream_write(s, "d", 1), 0);
    mf_stream_unref(s);
    mf_stream_end(s, 1); /* the producer ends after: no callback, no harm */
    ASSERT_EQ_INT(gone_calls, 1);
    mf_stream_unref(s);
}

int main(void)
{
    RUN(bytes_in_order_within_the_bound);
    RUN(room_comes_back_at_half);
    RUN(data_and_the_producers_end_wake_the_consumer);
    RUN(the_consumer_leaving_tells_the_producer_once);
    TEST_MAIN_END();
}
