# syntax=docker/dockerfile:1.7
# Quire: one static-ish binary on a slim Debian, run as a non-root user.
# Build:  docker build -t quire .
# Run:    docker run -e DATABASE_URL=... -e BASE_URL=https://blog.example.com -p 8080:8080 quire

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY templates templates
COPY static static
COPY migrations migrations
COPY config config
# Only what `cargo build --bin quire` reads: the templates (askama), static files
# (include_bytes!), migrations (sqlx::migrate!) and config/default.toml are compiled in.
# The [[test]] and [[example]] targets Cargo.toml names (tests/, bench/) are not needed to
# build the binary, so changing a test does not rebuild the image.
# Cache mounts keep the registry and target dir between builds; the binary is copied out
# because the cache mount is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin quire \
 && install -m 0755 target/release/quire /usr/local/bin/quire

FROM debian:bookworm-slim AS runtime
# ca-certificates floats with Debian's security updates on purpose: a pinned version would
# stop building at the next point release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 quire \
 && useradd --system --uid 10001 --gid quire --home-dir /app --shell /usr/sbin/nologin quire \
 && mkdir -p /app/data \
 && chown quire:quire /app/data
WORKDIR /app
COPY --from=build /usr/local/bin/quire /usr/local/bin/quire
COPY config /app/config
ENV QUIRE_ENV=production \
    QUIRE_CONFIG_DIR=/app/config \
    HOST=0.0.0.0 \
    PORT=8080
# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080
# uploads.dir (./data/uploads) with local storage, and admin imports waiting for their job.
VOLUME ["/app/data"]
# No curl in the image: bash's /dev/tcp speaks just enough HTTP to ask /healthz. Only
# `quire serve` listens: services that run `worker` or `migrate` from this image turn it off
# (deploy/docker-compose.yml), and Kubernetes ignores it (its probes are in the manifests).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PORT} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -1 <&3 | grep -q ' 200 '"]
# SIGTERM (docker stop) lets in-flight requests finish before exit.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/quire"]
CMD ["serve"]
