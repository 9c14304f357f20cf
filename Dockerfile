# syntax=docker/dockerfile:1
#
# sluice in a container: a static binary on a slim Debian base, running as
# an unprivileged user with its data in the /data volume.
#
#   docker build -t sluice --build-arg VERSION=$(git describe --tags --always) .
#   docker run -v sluice-data:/data -v $PWD/sluice.yaml:/etc/sluice/sluice.yaml:ro sluice

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/sluice-cdc/sluice/internal/cli.Version=${VERSION}" \
      -o /out/sluice ./cmd/sluice

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin sluice \
 && mkdir -p /data /etc/sluice \
 && chown sluice:sluice /data
COPY --from=build /out/sluice /usr/local/bin/sluice
USER sluice
WORKDIR /data
VOLUME ["/data"]
# Kafka wire API, admin HTTP (/healthz, /readyz, /metrics).
EXPOSE 9092 8083
ENTRYPOINT ["sluice"]
CMD ["run", "--config", "/etc/sluice/sluice.yaml"]
