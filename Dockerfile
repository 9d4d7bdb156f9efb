# kakin's production image: built in a Rust image, run from a small Debian one. The Japanese
# font and the Typst templates are compiled into the binary (data/fonts, templates/), so the
# runtime image needs no fonts; it needs CA certificates for S3 and SMTP over TLS.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p jobs --bin kakin

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/kakin /usr/local/bin/kakin
USER nobody
WORKDIR /tmp
ENTRYPOINT ["kakin"]
CMD ["serve", "--listen", "0.0.0.0:9464"]
