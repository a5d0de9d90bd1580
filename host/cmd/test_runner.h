/* mayfly test: runs busted spec files (the framework, busted 2.1.1's command line and API, is
 * host/lua/test/) in a plain Lua state with the standard libraries, and serves mayfly.testing's
 * in-process requests from a real vm of the scripts folder, built on first use, its runs
 * waiting on an event loop of the runner's (test_client.h). Without MAYFLY_REDIS_URL, that
 * first use starts a throwaway redis-server from the PATH for the run. */
#ifndef MF_TEST_RUNNER_H
#define MF_TEST_RUNNER_H

/* argv: the words after "test". Returns the exit code: 0 when every test passed. */
int mf_test_main(int argc, char **argv);

#endif
