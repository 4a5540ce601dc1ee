# signalbox-demo: small HTTP/HTTPS/WebSocket echo backend (packages/demo-app).
# Env: PORT (default 80), NAME, TLS_CERT_FILE + TLS_KEY_FILE (serve HTTPS on PORT).
# Build context: .build/context/demo/ (scripts/build-images.sh).
# Offline: --build-arg BASE_IMAGE=signalbox-base:local
ARG BASE_IMAGE=node:20-bookworm-slim
FROM ${BASE_IMAGE}
ENV NODE_ENV=production PORT=80
WORKDIR /app
COPY app/ /app/
ENTRYPOINT []
CMD ["node", "/app/packages/demo-app/dist/main.js"]
EXPOSE 80
LABEL org.opencontainers.image.title="signalbox-demo" \
      org.opencontainers.image.description="Signalbox demo backend: HTTP/WebSocket echo"
