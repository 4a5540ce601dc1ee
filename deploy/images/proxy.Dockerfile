# signalbox-proxy: the proxy agent (node, PID 1) runs stock nginx as a child process.
# Build context: .build/context/proxy/ (scripts/build-images.sh): app/ = production install
# + dist/ of @signalbox/proxy-agent and its workspace deps.
# Offline: --build-arg BASE_IMAGE=signalbox-base:local --build-arg NODE_IMAGE=signalbox-base:local
ARG NODE_IMAGE=node:20-bookworm-slim
ARG BASE_IMAGE=nginx:1.26-bookworm
FROM ${NODE_IMAGE} AS node

FROM ${BASE_IMAGE}
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production
WORKDIR /app
COPY app/ /app/
# Clear the nginx image's /docker-entrypoint.sh; the agent starts nginx itself.
# The program is the entrypoint so that config.toml's ProxyArgs (the service's Args) add to it
# rather than replace it, as with Interlock's images (e.g. Args = ["-D"] for debug logging).
# One bundled file (scripts/build-images.sh): a new task's agent starts in a third of the time.
ENTRYPOINT ["node", "/app/packages/proxy-agent/dist/bundle/main.mjs"]
CMD []
# `docker stop` sends SIGQUIT: the agent must handle it (graceful `nginx -s quit`, then exit).
STOPSIGNAL SIGQUIT
EXPOSE 80 443 8082
LABEL org.opencontainers.image.title="signalbox-proxy" \
      org.opencontainers.image.description="Signalbox proxy: stock nginx driven by the proxy agent"
