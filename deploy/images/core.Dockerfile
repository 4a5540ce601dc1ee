# signalbox-core: watches Docker, builds the routing model, serves it to extensions.
# Build context: .build/context/core/ (prepared by scripts/build-images.sh), holding app/ =
# the workspace's production install + dist/ of @signalbox/core and its workspace deps.
# Offline: --build-arg BASE_IMAGE=signalbox-base:local (scripts/build-base-image.sh).
ARG BASE_IMAGE=node:20-bookworm-slim
FROM ${BASE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY app/ /app/
# Runs as root: it needs /var/run/docker.sock.
ENTRYPOINT []
CMD ["node", "/app/packages/core/dist/main.js"]
LABEL org.opencontainers.image.title="signalbox-core" \
      org.opencontainers.image.description="Signalbox control plane: Docker watcher and routing-model API"
