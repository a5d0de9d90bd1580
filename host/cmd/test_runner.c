#include "cmd/test_runner.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lualib.h>

#include "app/scripts_load.h"
#include "app/watchdog.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/config.h"
#include "cmd/test_client.h"
#include "lua/config_source.h"
#include "lua/embedded.h"
#include "lua/sandbox.h"
#include "lua/vm.h"
#include "observe/log.h"
#include "redis/redis.h"
#include "redis/url.h"

extern int luaopen_cjson(lua_State *L);
extern int luaopen_cjson_safe(lua_State *L);

/* The runner's context: the spec files' state holds it as an upvalue of the native functions. */
typedef struct {
    mf_options_t opts;
    char redis_url[512];
    mf_scripts_t *scripts; /* NULL until the first in-process request */
    mf_config_t *config;
    mf_vm_t *vm;
    mf_watchdog_t *watchdog;  /* MAYFLY_REQUEST_TIMEOUT for handlers, as in production */
    mf_test_client_t *client; /* runs the requests on vm, on a loop of its own */
    char err[1024];           /* why the vm could not be built, once it failed */
    int redis_checked;        /* the throwaway redis-server was tried (started or not) */
} runner_t;

/* Tests get a database of their own: the URL's, or 15 when it names none (the database is the
 * URL's last part, after a sentinel URL's master name). A cluster has database 0 only: the
 * whole cluster is the tests' (testing.lua checks that it is empty). A malformed URL is kept as it
 * is, for its error to be reported where Redis is used. */
static void test_redis_url(runner_t *t, const char *url)
{
    mf_redis_url_t u;
    char err[256];
    size_t len = strlen(url);
    if (mf_redis_url_parse(url, &u, err, sizeof err) || u.db_given ||
        u.topology == MF_REDIS_CLUSTER) {
        snprintf(t->redis_url, sizeof t->redis_url, "%s", url);
        return;
    }
    if (len && url[len - 1] == '/')
        len--;
    snprintf(t->redis_url, sizeof t->redis_url, "%.*s/15", (int)len, url);
}

/* ---- a throwaway redis-server, when MAYFLY_REDIS_URL is unset ---- */

/* The signal handler reaches these, so they are static and filled before it is installed. */
static volatile pid_t redis_pid;
static char redis_dir[PATH_MAX - 16];
static char redis_log[PATH_MAX];

static void remove_redis_files(void)
{
    unlink(redis_log);
    rmdir(redis_dir);
}

static void stop_redis(void)
{
    pid_t pid = redis_pid;
    if (pid <= 0)
        return;
    redis_pid = 0;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    remove_redis_files();
}

/* An interrupted run stops its server too (async-signal-safe calls only), then dies of the
 * signal as it would have. */
static void on_fatal_signal(int sig)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        remove_redis_files();
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static int find_on_path(const char *name, char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    if (!path)
        return -1;
    while (*path) {
        size_t len = strcspn(path, ":");
        if (len && (size_t)snprintf(out, outlen, "%.*s/%s", (int)len, path, name) < outlen &&
            access(out, X_OK) == 0)
            return 0;
        path += len;
        if (*path == ':')
            path++;
    }
    return -1;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Starts redis-server on a free loopback port with a folder of its own and no persistence;
 * returns the port, or -1 (the server's log went to stderr). */
static int start_redis(const char *bin)
{
    int port = free_port();
    if (port < 0)
        return -1;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    pid_t parent = getpid();
    fflush(NULL); /* the child must not write the report's buffered part a second time */
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* even a killed runner leaves no server behind */
        if (getppid() != parent)
            _exit(1);
        int log = open(redis_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (log >= 0) {
            dup2(log, STDOUT_FILENO);
            dup2(log, STDERR_FILENO);
        }
        execl(bin, "redis-server", "--port", portstr, "--bind", "127.0.0.1", "--dir", redis_dir,
              "--save", "", "--appendonly", "no", "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    redis_pid = pid;
    for (int i = 0; i < 250; i++) { /* up to 5 s */
        if (accepts(port))
            return port;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
    }
    if (waitpid(pid, NULL, WNOHANG) == 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    redis_pid = 0;
    FILE *f = fopen(redis_log, "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            fprintf(stderr, "redis-server: %s", line);
        fclose(f);
    }
    return -1;
}

/* Gives the handlers a Redis when none is configured and redis-server is on the PATH. Returns
 * 0 when the handlers have a Redis. */
static int ensure_redis(runner_t *t)
{
    if (t->opts.redis_url)
        return 0;
    if (t->redis_checked)
        return -1;
    t->redis_checked = 1;
    char bin[PATH_MAX];
    if (find_on_path("redis-server", bin, sizeof bin)) {
        fprintf(stderr, "mayfly test: no Redis for the handlers: set MAYFLY_REDIS_URL, or install "
                        "redis-server (mayfly test starts one when it is on the PATH)\n");
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(redis_dir, sizeof redis_dir, "%s/mayfly-test-redis.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(redis_dir)) {
        fprintf(stderr, "mayfly test: cannot make a folder for redis-server: %s\n",
                strerror(errno));
        return -1;
    }
    snprintf(redis_log, sizeof redis_log, "%s/redis.log", redis_dir);
    signal(SIGINT, on_fatal_signal);
    signal(SIGTERM, on_fatal_signal);
    signal(SIGHUP, on_fatal_signal);
    int port = -1;
    for (int attempt = 0; attempt < 3 && port < 0; attempt++) /* another process took the port */
        port = start_redis(bin);
    if (port < 0) {
        remove_redis_files();
        fprintf(stderr, "mayfly test: %s did not start; set MAYFLY_REDIS_URL\n", bin);
        return -1;
    }
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    test_redis_url(t, url);
    t->opts.redis_url = t->redis_url;
    fprintf(stderr,
            "mayfly test: MAYFLY_REDIS_URL is unset: started redis-server on 127.0.0.1:%d "
            "for this run\n",
            port);
    return 0;
}

/* Builds the vm on first use: the scripts folder loaded and checked as `serve` does. */
static int ensure_vm(runner_t *t)
{
    if (t->err[0])
        return -1;
    if (t->vm)
        return 0;
    ensure_redis(t);
    char err[900];
    if (mf_redis_init(&t->opts, err, sizeof err)) {
        snprintf(t->err, sizeof t->err, "%s", err);
        return -1;
    }
    if (mf_scripts_load(t->opts.scripts_dir, &t->opts, &t->scripts, err, sizeof err)) {
        snprintf(t->err, sizeof t->err, "cannot load the scripts folder %s: %s",
                 t->opts.scripts_dir, err);
        return -1;
    }
    if (mf_config_load(t->opts.config_dir, &t->config, err, sizeof err)) {
        snprintf(t->err, sizeof t->err, "cannot load the config folder: %s", err);
        return -1;
    }
    if (!(t->vm = mf_vm_new(&t->opts, err, sizeof err)) ||
        mf_vm_compile(t->vm, t->scripts, err, sizeof err)) {
        snprintf(t->err, sizeof t->err, "cannot build the Lua state: %s", err);
        return -1;
    }
    mf_vm_set_config(t->vm, t->config);
    mf_vm_warm(t->vm, MF_SCRIPTS_LOAD_LIMIT_MS);
    if (!(t->client = mf_test_client_new(t->vm, t->opts.max_body, err, sizeof err))) {
        snprintf(t->err, sizeof t->err, "%s", err);
        return -1;
    }
    t->watchdog = mf_watchdog_start(&t->vm, 1, 20);
    if (!t->watchdog) {
        snprintf(t->err, sizeof t->err, "cannot start the watchdog thread");
        return -1;
    }
    return 0;
}

static runner_t *runner_of(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* may raise */
static mf_vm_t *vm_of(lua_State *L)
{
    runner_t *t = runner_of(L);
    if (ensure_vm(t)) {
        lua_pushfstring(L, "mayfly.testing: %s", t->err); /* testing.lua adds the spec's line */
        lua_error(L);
    }
    return t->vm;
}

/* ---- values across the two states (strings, numbers, booleans, tables of them) ---- */

static int copy_value(lua_State *from, int idx, lua_State *to, int depth)
{
    if (depth > 32)
        return -1;
    if (idx < 0)
        idx = lua_gettop(from) + idx + 1;
    switch (lua_type(from, idx)) {
    case LUA_TNIL:
        lua_pushnil(to);
        return 0;
    case LUA_TBOOLEAN:
        lua_pushboolean(to, lua_toboolean(from, idx));
        return 0;
    case LUA_TNUMBER:
        lua_pushnumber(to, lua_tonumber(from, idx));
        return 0;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(from, idx, &len);
        lua_pushlstring(to, s, len);
        return 0;
    }
    case LUA_TTABLE:
        lua_newtable(to);
        lua_pushnil(from);
        while (lua_next(from, idx)) {
            if (copy_value(from, -2, to, depth + 1) || copy_value(from, -1, to, depth + 1)) {
                lua_pop(from, 2);
                return -1;
            }
            lua_rawset(to, -3);
            lua_pop(from, 1);
        }
        return 0;
    case LUA_TLIGHTUSERDATA: /* redis.null / json.null */
        lua_pushlightuserdata(to, lua_touserdata(from, idx));
        return 0;
    default:
        return -1;
    }
}

/* ---- native functions of mayfly.testing ---- */

/* The client of the runner's vm (may raise: the vm could not be built). */
static mf_test_client_t *client_of(lua_State *L)
{
    vm_of(L);
    return runner_of(L)->client;
}

/* The requests (test_client.h): through the router and the vm as an HTTP request would go. */
static int l_testing_start(lua_State *L)
{
    return mf_test_client_start(L, client_of(L));
}

static int l_testing_pull(lua_State *L)
{
    return mf_test_client_pull(L, client_of(L));
}

static int l_testing_close(lua_State *L)
{
    return mf_test_client_close(L, client_of(L));
}

static int l_testing_drain(lua_State *L)
{
    return mf_test_client_drain(L, client_of(L));
}

/* close_all(timeout_s): also where no request was made, and then builds nothing. */
static int l_testing_close_all(lua_State *L)
{
    return mf_test_client_close_all(L, runner_of(L)->client);
}

/* now() -> seconds on a monotonic clock */
static int l_testing_now(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)mf_now_ns() / 1e9);
    return 1;
}

/* config(values): the config scripts read is the folder's with values laid over it (nil: the
 * folder's alone). */
static int l_testing_config(lua_State *L)
{
    runner_t *t = runner_of(L);
    mf_vm_t *vm = vm_of(L);
    lua_State *V = mf_vm_state(vm);
    if (lua_isnoneornil(L, 1)) {
        mf_vm_set_config(vm, t->config);
        return 0;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    mf_config_push_source(V, t->config);
    lua_getfield(V, -1, "values");
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING || copy_value(L, -2, V, 0) || copy_value(L, -1, V, 0)) {
            lua_settop(V, 0);
            return luaL_error(L, "mayfly.testing.config: keys must be strings and values "
                                 "strings, numbers, booleans or tables of them");
        }
        lua_rawset(V, -3);
        lua_pop(L, 1);
    }
    lua_pop(V, 1);
    mf_vm_set_config_source(vm);
    return 0;
}

/* redis(cmd, ...): redis.call on the handlers' connection. Returns the reply, or raises. */
static int l_testing_redis(lua_State *L)
{
    mf_vm_t *vm = vm_of(L);
    lua_State *V = mf_vm_state(vm);
    int n = lua_gettop(L);
    mf_sandbox_push_globals(V);
    lua_getfield(V, -1, "redis");
    lua_getfield(V, -1, "call");
    for (int i = 1; i <= n; i++) {
        if (copy_value(L, i, V, 0)) {
            lua_settop(V, 0);
            return luaL_argerror(L, i, "expected a string or a number");
        }
    }
    if (lua_pcall(V, n, 1, 0)) {
        lua_pushstring(L, lua_tostring(V, -1) ? lua_tostring(V, -1) : "redis error");
        lua_settop(V, 0);
        return lua_error(L);
    }
    copy_value(V, -1, L, 0);
    lua_settop(V, 0);
    return 1;
}

/* redis_primaries(cmd, ...) -> {reply, ...}, on_cluster: cmd on every primary (a cluster's
 * each), for what is about the whole data set (DBSIZE, FLUSHDB). Raises on an outage or an
 * error reply. */
static int l_testing_redis_primaries(lua_State *L)
{
    enum { MAX_WORDS = 8, MAX_PRIMARIES = 256 };
    const char *argv[MAX_WORDS];
    size_t lens[MAX_WORDS];
    redisReply *replies[MAX_PRIMARIES];
    char err[512];
    int argc = lua_gettop(L);
    vm_of(L); /* Redis set up as the handlers have it */
    luaL_argcheck(L, argc >= 1 && argc <= MAX_WORDS, 1, "a command of 1 to 8 words");
    for (int i = 0; i < argc; i++)
        argv[i] = luaL_checklstring(L, i + 1, &lens[i]);
    mf_redis_cmd_t cmd = {argc, argv, lens};
    int k = mf_redis_run_on_primaries(&cmd, replies, MAX_PRIMARIES, err, sizeof err);
    if (k < 0)
        return luaL_error(L, "%s", err);
    lua_createtable(L, k, 0);
    int bad = -1;
    for (int i = 0; i < k; i++) {
        if (replies[i]->type == REDIS_REPLY_ERROR && bad < 0)
            bad = i;
        if (replies[i]->type == REDIS_REPLY_INTEGER)
            lua_pushnumber(L, (lua_Number)replies[i]->integer);
        else
            lua_pushlstring(L, replies[i]->str ? replies[i]->str : "", replies[i]->len);
        lua_rawseti(L, -2, i + 1);
    }
    if (bad >= 0)
        lua_pushfstring(L, "%s: %s", argv[0], replies[bad]->str);
    for (int i = 0; i < k; i++)
        freeReplyObject(replies[i]);
    if (bad >= 0)
        return lua_error(L);
    lua_pushboolean(L, mf_redis_cluster_mode());
    return 2;
}

/* readdir(path) -> {{name=, dir=bool}, ...} or nil, err */
static int l_testing_readdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    if (!d) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: cannot open the folder", path);
        return 2;
    }
    lua_newtable(L);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char full[4096];
        struct stat st;
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        lua_createtable(L, 0, 2);
        lua_pushstring(L, e->d_name);
        lua_setfield(L, -2, "name");
        lua_pushboolean(L, stat(full, &st) == 0 && S_ISDIR(st.st_mode));
        lua_setfield(L, -2, "dir");
        lua_rawseti(L, -2, ++n);
    }
    closedir(d);
    return 1;
}

/* has_redis() -> whether the handlers have a Redis (starting the throwaway one if it can) */
static int l_testing_has_redis(lua_State *L)
{
    lua_pushboolean(L, ensure_redis(runner_of(L)) == 0);
    return 1;
}

/* chdir(path) -> true, or nil, err (busted's --directory) */
static int l_testing_chdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (chdir(path)) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, strerror(errno));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_testing_isdir(lua_State *L)
{
    struct stat st;
    lua_pushboolean(L, stat(luaL_checkstring(L, 1), &st) == 0 && S_ISDIR(st.st_mode));
    return 1;
}

static const luaL_Reg native[] = {
    {"start", l_testing_start},         {"pull", l_testing_pull},
    {"close", l_testing_close},         {"drain", l_testing_drain},
    {"close_all", l_testing_close_all}, {"now", l_testing_now},
    {"config", l_testing_config},       {"redis", l_testing_redis},
    {"has_redis", l_testing_has_redis}, {"redis_primaries", l_testing_redis_primaries},
    {"readdir", l_testing_readdir},     {"isdir", l_testing_isdir},
    {"chdir", l_testing_chdir},         {NULL, NULL}};

/* ---- the spec files' state ---- */

static int load_embedded(lua_State *L)
{
    const mf_embedded_lua_t *m = lua_touserdata(L, lua_upvalueindex(1));
    if (luaL_loadbuffer(L, m->source, m->len, m->chunkname))
        return lua_error(L);
    lua_pushstring(L, m->module + 4); /* the name it is required by */
    lua_call(L, 1, 1);
    return 1;
}

static void open_state(lua_State *L, runner_t *t)
{
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    for (const mf_embedded_lua_t *m = mf_host_lua; m->module; m++) {
        /* host/cmd/test/x.lua is required as "test.x" */
        if (strncmp(m->module, "cmd.test.", 9) != 0)
            continue;
        lua_pushlightuserdata(L, (void *)m);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, m->module + 4);
    }
    lua_pushcfunction(L, luaopen_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pushcfunction(L, luaopen_cjson_safe);
    lua_setfield(L, -2, "cjson.safe");
    lua_pop(L, 2);

    lua_getglobal(L, "package");
    lua_getfield(L, -1, "loaded");
    lua_newtable(L);
    for (const luaL_Reg *f = native; f->name; f++) {
        lua_pushlightuserdata(L, t);
        lua_pushcclosure(L, f->func, 1);
        lua_setfield(L, -2, f->name);
    }
    lua_setfield(L, -2, "test.native");
    lua_pop(L, 2);
}

int mf_test_main(int argc, char **argv)
{
    runner_t *t = mf_xcalloc(1, sizeof *t);
    char err[512];
    int rc = 1;
    /* Settings come from the environment only: every flag is the runner's. */
    if (mf_options_load(&t->opts, 0, NULL, err, sizeof err)) {
        fprintf(stderr, "mayfly test: %s\n", err);
        free(t);
        return 2;
    }
    if (t->opts.redis_url) {
        test_redis_url(t, t->opts.redis_url);
        t->opts.redis_url = t->redis_url;
    }
    mf_log_setup(t->opts.log_level, 0);
    mf_log_set_fd(STDERR_FILENO); /* stdout is the report's */

    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "mayfly test: cannot create a Lua state\n");
        free(t);
        return 1;
    }
    open_state(L, t);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "test.runner");
    if (lua_pcall(L, 1, 1, 0) == 0) {
        lua_getfield(L, -1, "main");
        lua_createtable(L, argc, 0);
        for (int i = 0; i < argc; i++) {
            lua_pushstring(L, argv[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_createtable(L, 0, 2);
        lua_pushstring(L, t->opts.scripts_dir);
        lua_setfield(L, -2, "scripts_dir");
        lua_pushboolean(L, isatty(STDOUT_FILENO));
        lua_setfield(L, -2, "tty");
        if (lua_pcall(L, 2, 1, 0) == 0) {
            rc = (int)lua_tointeger(L, -1);
        }
    }
    if (lua_gettop(L) && lua_type(L, -1) == LUA_TSTRING)
        fprintf(stderr, "mayfly test: %s\n", lua_tostring(L, -1));
    fflush(stdout);
    lua_close(L);
    mf_test_client_free(t->client); /* before the vm: the streams' runs end first */
    mf_watchdog_stop(t->watchdog);
    mf_vm_free(t->vm);
    mf_scripts_release(t->scripts);
    mf_config_release(t->config);
    mf_redis_shutdown();
    stop_redis();
    free(t);
    return rc;
}
