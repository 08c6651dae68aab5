# waleave's container image: a static binary on distroless/static, which
# holds CA certificates, time zone data and a non-root user, and no shell.
#
#   docker build -t waleave .
#   docker run --rm waleave demo                 # no accounts needed
#   docker run --env-file .env -p 3000:3000 -v waleave-data:/data waleave
#
# There is no HEALTHCHECK: it would need a shell or curl in the image.
# Probe GET /healthz (liveness) and GET /readyz (readiness) on port 3000
# from outside, as compose.yaml and deploy/kubernetes/ do.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# The modules first, so that a change to the code reuses their layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# modernc's SQLite is pure Go, so with cgo off the binary needs no libc.
# .git is not copied (.dockerignore), so no VCS stamp is attempted.
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/waleave .
# The SQLite directory, owned by distroless's nonroot user (65532): the
# final image has no shell to create it.
RUN mkdir -p /out/data && chown 65532:65532 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/waleave /usr/local/bin/waleave
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
# SQLite in /data by default (mount a volume there); set DATABASE_URL to a
# postgres:// URL to run several replicas.
ENV DATABASE_URL=sqlite:/data/waleave.db \
    LISTEN_ADDR=:3000
EXPOSE 3000
USER nonroot:nonroot
# The binary is PID 1 and stops cleanly on SIGTERM (running leaves finish
# for up to 20 s): give it 30 s (docker stop -t 30, compose's
# stop_grace_period, Kubernetes' terminationGracePeriodSeconds).
ENTRYPOINT ["/usr/local/bin/waleave"]
