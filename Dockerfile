# Dropgate on Cloud Run (or ECS Fargate, App Runner, any container runtime): the Node entry, `dropgate serve`.
# Build: docker build -t dropgate .   Run: docker run -p 8080:8080 -e DROPGATE_CONFIG=/config/dropgate.json ...
# The start command below is the one CI runs under Node 22 (test/integration/node-22-image.test.ts).

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY app app
COPY adapters adapters
COPY workers workers
COPY schemas schemas
COPY bench bench
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim
ENV NODE_ENV=production PORT=8080
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/schemas schemas
COPY bin bin
# The data directory (local defaults, generated credentials) is the only place the gateway writes.
RUN mkdir .dropgate && chown node:node .dropgate
USER node
EXPOSE 8080
# SIGTERM (Cloud Run gives 10 s) stops at the next block boundary with a checkpoint; node is PID 1 here
# and handles it itself.
CMD ["node", "--single-threaded-gc", "--max-semi-space-size=4", "bin/dropgate.js", "serve"]
