# Build stage: the same install and build steps as tools/run.sh.
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY . .
RUN tools/deps.sh && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j"$(nproc)"

# Runtime: the shared libraries, the binary and the default scripts; stdlib/ is inside the binary.
FROM debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      libluajit2-5.1-2 libmicrohttpd12 libhiredis0.14 libcurl4 ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/mayfly /usr/local/bin/mayfly
COPY scripts /srv/scripts
USER 65532:65532
ENV MAYFLY_SCRIPTS=/srv/scripts
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/mayfly", "serve"]
