#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "test.h"

/* Without storage: the first append allocates, take hands over a NUL-terminated copy. */
TEST(grows_from_nothing)
{
    mf_buf_t b = {0};
    size_t len;
    char *out = mf_buf_take(&b, &len);
    ASSERT_EQ_STR(out, "");
    ASSERT_EQ_INT(len, 0);
    free(out);

    for (int i = 0; i < 1000; i++)
        mf_buf_lit(&b, "abc");
    ASSERT_EQ_INT(b.len, 3000);
    ASSERT_TRUE(b.cap >= 3000);
    out = mf_buf_take(&b, &len);
    ASSERT_EQ_INT(len, 3000);
    ASSERT_EQ_INT(strlen(out), 3000);
    ASSERT_TRUE(!memcmp(out + 2997, "abc", 3));
    ASSERT_TRUE(b.data == NULL && b.len == 0 && b.cap == 0);
    free(out);
}

/* With storage: used while the contents fit, copied out once they do not, never freed. */
TEST(starts_in_storage)
{
    char storage[8];
    mf_buf_t b;
    mf_buf_init(&b, storage, sizeof storage);
    mf_buf_append(&b, "1234567", 7);
    ASSERT_TRUE(b.data == storage);
    char *out = mf_buf_take(&b, NULL);
    ASSERT_TRUE(out != storage);
    ASSERT_EQ_STR(out, "1234567");
    free(out);

    mf_buf_init(&b, storage, sizeof storage);
    mf_buf_append(&b, "12345678", 8);
    ASSERT_TRUE(b.data == storage);
    mf_buf_append(&b, "9", 1);
    ASSERT_TRUE(b.data != storage);
    ASSERT_EQ_MEM(b.data, b.len, "123456789", 9);
    mf_buf_free(&b);
    ASSERT_TRUE(b.data == NULL && b.len == 0);

    mf_buf_init(&b, storage, sizeof storage);
    mf_buf_lit(&b, "kept");
    mf_buf_free(&b); /* nothing to free: storage is the caller's */
}

int main(void)
{
    RUN(grows_from_nothing);
    RUN(starts_in_storage);
    TEST_MAIN_END();
}
