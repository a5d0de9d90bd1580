/* mayfly new NAME: writes a small working app (a handler, its spec, a config key) that
 * `mayfly serve` and `mayfly test` run as they are. */
#include "cmd/scaffold.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/exit_codes.h"

static const char app_lua[] =
    "-- Each key is a route, \"METHOD /path\"; each value a handler of the request. Every\n"
    "-- request runs in a fresh environment: keep state in Redis, never in variables here.\n"
    "return {\n"
    "  [\"GET /hello/:name\"] = function(req)\n"
    "    return config.get(\"greeting\", \"hello\") .. \" \" .. req.params.name\n"
    "  end,\n"
    "\n"
    "  [\"POST /echo\"] = function(req)\n"
    "    return { json = { got = req:json(), request_id = req.id } }\n"
    "  end,\n"
    "}\n";

static const char app_spec_lua[] =
    "local testing = require \"mayfly.testing\"\n"
    "\n"
    "describe(\"GET /hello/:name\", function()\n"
    "  it(\"greets with the configured greeting\", function()\n"
    "    local res = testing.request(\"GET\", \"/hello/ada\")\n"
    "    assert.are.equal(200, res.status)\n"
    "    assert.are.equal(\"hello ada\", res.body)\n"
    "  end)\n"
    "\n"
    "  it(\"follows the config\", function()\n"
    "    testing.config { greeting = \"hi\" }\n"
    "    assert.are.equal(\"hi ada\", testing.request(\"GET\", \"/hello/ada\").body)\n"
    "  end)\n"
    "end)\n"
    "\n"
    "describe(\"POST /echo\", function()\n"
    "  it(\"answers the JSON it was sent\", function()\n"
    "    local res = testing.request(\"POST\", \"/echo\", { json = { a = 1 } })\n"
    "    assert.are.same({ a = 1 }, res.json.got)\n"
    "  end)\n"
    "\n"
    "  it(\"refuses a body that is not JSON\", function()\n"
    "    assert.are.equal(400, testing.request(\"POST\", \"/echo\", { body = \"a\" }).status)\n"
    "  end)\n"
    "end)\n";

static const char greeting[] = "hello\n";

/* %s is the folder's name. */
static const char readme_md[] =
    "# %s\n"
    "\n"
    "Serve it with `mayfly serve --scripts scripts --config config` (then\n"
    "`curl localhost:8080/hello/you`), test it with `MAYFLY_CONFIG=config mayfly test spec`.\n";

static const struct {
    const char *path;
    const char *text;
} files[] = {
    {"scripts/app.lua", app_lua},
    {"spec/app_spec.lua", app_spec_lua},
    {"config/greeting", greeting},
    {"README.md", readme_md},
};
static const char *const dirs[] = {"", "/scripts", "/spec", "/config"};
#define NDIRS (sizeof dirs / sizeof dirs[0])
#define NFILES (sizeof files / sizeof files[0])

/* Writes a new file whole; a file it could not complete is removed. */
static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        off += (size_t)n;
    }
    if (close(fd) == 0)
        return 0;
    fd = -1;
fail:;
    int saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(path);
    errno = saved;
    return -1;
}

/* Removes what was created, newest first: the files, then the folders. */
static void undo(const char *dir, size_t ndirs, size_t nfiles)
{
    char path[4096];
    while (nfiles > 0) {
        snprintf(path, sizeof path, "%s/%s", dir, files[--nfiles].path);
        unlink(path);
    }
    while (ndirs > 0) {
        snprintf(path, sizeof path, "%s%s", dir, dirs[--ndirs]);
        rmdir(path);
    }
}

int mf_scaffold_new(const char *dir, char *err, size_t errlen)
{
    char path[4096], readme[4096];
    size_t nd = 0, nf = 0;
    const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;

    if (!*dir || !*name || strlen(dir) > 3000) {
        snprintf(err, errlen, "'%s': not a usable folder name", dir);
        return -1;
    }
    /* mkdir refuses an existing path atomically, so nothing of an existing folder is touched. */
    for (; nd < NDIRS; nd++) {
        snprintf(path, sizeof path, "%s%s", dir, dirs[nd]);
        if (mkdir(path, 0755) != 0) {
            if (nd == 0 && errno == EEXIST)
                snprintf(err, errlen, "%s already exists; nothing was written", dir);
            else
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
    }
    snprintf(readme, sizeof readme, readme_md, name);
    for (; nf < NFILES; nf++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[nf].path);
        if (write_file(path, files[nf].text == readme_md ? readme : files[nf].text) != 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
    }
    return 0;
fail:
    undo(dir, nd, nf);
    return -1;
}

int mf_scaffold_main(int argc, char **argv)
{
    char err[4200];
    if (argc != 1 || argv[0][0] == '-') {
        fprintf(stderr, "usage: mayfly new NAME\n");
        return MF_EXIT_USAGE;
    }
    if (mf_scaffold_new(argv[0], err, sizeof err) != 0) {
        fprintf(stderr, "mayfly new: %s\n", err);
        return MF_EXIT_START;
    }
    printf("created %s/: scripts/app.lua, spec/app_spec.lua, config/greeting, README.md\n"
           "serve it: cd %s && mayfly serve --scripts scripts --config config\n",
           argv[0], argv[0]);
    return 0;
}
