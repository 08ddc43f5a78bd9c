FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bin voxmatch

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data/media && chown nobody:nogroup /data/media
COPY --from=build /src/target/release/voxmatch /usr/local/bin/voxmatch
# inside a container the app listens on every interface; media go to the volume
ENV BIND_ADDR=0.0.0.0:8080 MEDIA_DIR=/data/media
USER nobody
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=4s --start-period=20s --retries=3 \
    CMD ["voxmatch", "healthcheck", "http://127.0.0.1:8080"]
CMD ["voxmatch", "serve"]
