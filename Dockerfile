# mayfly's container image. Build: docker build -t mayfly .
#
# Build stage: the same install and build steps as tools/run.sh and the README's quick start
# (tools/deps.sh, then CMake), so the test suite exercises them.
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY . .
RUN tools/deps.sh && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j"$(nproc)"

# Runtime stage: the shared libraries (the runtime packages of the -dev ones above), the binary
# and the default scripts. stdlib/ is compiled into the binary, so there is no Lua to copy.
# mayfly writes no file: the image runs with readOnlyRootFilesystem and no /tmp, as a
# non-root user, with no shell needed (tests/integration/test_image.sh runs exactly this set).
FROM debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      libluajit2-5.1-2 libmicrohttpd12 libhiredis0.14 libcurl4 libhttp-parser2.9 libssl3 ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/mayfly /usr/local/bin/mayfly
COPY scripts /srv/scripts
USER 65532:65532
ENV MAYFLY_SCRIPTS=/srv/scripts
EXPOSE 8080
# The host is PID 1 (exec form, no shell in between), so SIGTERM reaches it and starts the drain.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/mayfly", "serve"]
