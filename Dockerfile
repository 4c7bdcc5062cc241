# syntax=docker/dockerfile:1
# The `skiff` image: one binary for every role (`skiff controller`, `skiff broker`, `skiff dev`
# and the client commands). infra/compose.yaml runs a cluster from it, and the Terraform module
# (terraform/, variable `image`) runs it on EC2 once pushed to a registry.
#
#   docker build -t skiff .
#   docker run --rm skiff --help

# ---- build ----
FROM rust:1.95-slim-bookworm AS build
# make/gcc/g++: the workspace builds librdkafka from its bundled sources for `skiff bench`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make gcc g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY vendor vendor
# Cache mounts keep the registry and the target dir between builds; the binary is copied out
# of the (unexported) cache so the next stage can take it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p skiff-cli \
    && cp target/release/skiff /usr/local/bin/skiff

# ---- runtime ----
FROM debian:bookworm-slim
# ca-certificates: https object stores (S3) need the CA bundle.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 skiff \
    && useradd --system --uid 10001 --gid skiff --home-dir /var/lib/skiff --shell /usr/sbin/nologin skiff \
    && mkdir -p /var/lib/skiff \
    && chown skiff:skiff /var/lib/skiff
COPY --from=build /usr/local/bin/skiff /usr/local/bin/skiff
USER skiff
WORKDIR /var/lib/skiff
# Kafka (brokers and `skiff dev`), controller HTTP (Raft, brokers, admin), and the metrics port
# the Terraform module gives --metrics-addr (its load balancer health-checks GET /metrics there).
EXPOSE 9092 9190 9100
ENV SKIFF_DATA_DIR=/var/lib/skiff
ENTRYPOINT ["skiff"]
CMD ["--help"]
