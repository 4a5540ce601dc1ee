# signalbox-extension: renders nginx.conf from /app/templates, validates it with `nginx -t`,
# publishes it as a Docker config and serves it to proxy agents. Needs nginx AND node.
# Build context: .build/context/extension/ (scripts/build-images.sh): app/ = production install
# + dist/ of @signalbox/extension and its workspace deps, app/templates = the repo's templates/.
# Offline: --build-arg BASE_IMAGE=signalbox-base:local --build-arg NODE_IMAGE=signalbox-base:local
ARG NODE_IMAGE=node:20-bookworm-slim
ARG BASE_IMAGE=nginx:1.26-bookworm
FROM ${NODE_IMAGE} AS node

FROM ${BASE_IMAGE}
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production
WORKDIR /app
COPY app/ /app/
# Clear the nginx image's /docker-entrypoint.sh: this container runs node, nginx only for `nginx -t`.
# The program is the entrypoint so that config.toml's Args (the service's Args) add to it
# rather than replace it, as with Interlock's images (e.g. Args = ["-D"] for debug logging).
ENTRYPOINT ["node", "/app/packages/extension/dist/main.js"]
CMD []
LABEL org.opencontainers.image.title="signalbox-extension" \
      org.opencontainers.image.description="Signalbox extension: nginx.conf renderer and config server"
