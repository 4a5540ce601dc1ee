# signalbox-cli: the `signalbox` command (lint, config check, status) for CI and for teams without a
# checkout. Build context: .build/context/cli/ (scripts/build-images.sh).
#   docker run --rm -v "$PWD:/w" signalbox-cli lint /w/stack.yml
#   docker run --rm -v "$PWD:/w" signalbox-cli config check --explain /w/config.toml
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock signalbox-cli status
# Offline: --build-arg NODE_IMAGE=signalbox-base:local
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY app/ /app/
WORKDIR /w
ENTRYPOINT ["node", "/app/packages/cli/dist/main.js"]
CMD ["help"]
LABEL org.opencontainers.image.title="signalbox-cli" \
      org.opencontainers.image.description="Signalbox CLI: lint stack files, check config.toml, show routes"
